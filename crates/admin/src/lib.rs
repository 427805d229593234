//! `minitwit-admin import`: takes over a legacy MiniTwit's data (the course's
//! `schema.sql`: `user`, `follower`, `message`, in a SQLite file or PostgreSQL) into
//! the three services' databases, through each service's own bulk functions.
//!
//! - Ids, `pub_date`, `flagged` and follow pairs are kept; legacy password hashes are
//!   stored with their scheme (user-service verifies them and upgrades at login).
//! - Dirty rows are imported as well as they can be, or skipped, and every row not
//!   imported as it was is reported ([`Issue`]): never silently dropped.
//! - The target must be empty or hold only earlier imports of the same source (each
//!   service's `legacy_imports` table); anything else is refused before writing.
//! - Idempotent and incremental: a re-run imports only users not there yet, messages
//!   above the largest imported id, new follow pairs, and changed `flagged` values.

// One job each: read the legacy rows, plan what to write, write it with a progress
// display, report what was done; `import` runs them in turn.
mod import;
mod plan;
mod progress;
mod read;
mod report;

pub use import::{import, Options, Targets};
pub use plan::{Action, Existing, Issue, Plan, TableCounts};
pub use read::{read_latest_file, Legacy, LegacyFollow, LegacyMessage, LegacyUser, Source};
pub use report::{Summary, Write};
