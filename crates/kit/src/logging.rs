//! slog to stdout: JSON lines for log shippers, or readable lines for a terminal.

use slog::{o, Drain, Level, Logger};

use crate::settings::{LogFormat, LogSettings};

/// Builds the process logger (every line carries `service`) and the guard of its writer
/// thread. Dropping the guard writes out the queued lines and waits for the thread: the
/// binary keeps it to its very end, or the exit could cut its last line ("stopped",
/// "cannot start") halfway. A line logged after that is dropped, not a panic.
pub fn init(service: &'static str, settings: &LogSettings) -> (Logger, slog_async::AsyncGuard) {
    let level = parse_level(&settings.level);
    let (drain, guard) = match settings.format {
        LogFormat::Json => {
            let json = slog_json::Json::new(std::io::stdout())
                .add_key_value(o!(
                    "time" => slog::PushFnValue(|_, ser| ser.emit(rfc3339_now())),
                    "level" => slog::FnValue(|r| r.level().as_short_str()),
                    "msg" => slog::PushFnValue(|r, ser| ser.emit(r.msg())),
                ))
                .build()
                .fuse();
            slog_async::Async::new(json).chan_size(4096).build_with_guard()
        }
        LogFormat::Pretty => {
            let decorator = slog_term::TermDecorator::new().stdout().build();
            let term = slog_term::FullFormat::new(decorator).build().fuse();
            slog_async::Async::new(term).chan_size(4096).build_with_guard()
        }
    };
    let drain = drain.ignore_res().filter_level(level).fuse();
    (Logger::root(drain, o!("service" => service)), guard)
}

/// A logger that drops everything, for tests that do not look at logs.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}

fn parse_level(level: &str) -> Level {
    match level.to_ascii_lowercase().as_str() {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warn" | "warning" => Level::Warning,
        "error" => Level::Error,
        "critical" => Level::Critical,
        _ => Level::Info,
    }
}

/// The `time` of a JSON line: RFC 3339 in UTC with milliseconds,
/// `2024-01-01T00:00:00.000Z`.
fn rfc3339_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let t = rfc3339_now();
        assert_eq!(t.len(), "2024-01-01T00:00:00.000Z".len(), "{t}");
        assert!(chrono::DateTime::parse_from_rfc3339(&t).is_ok(), "{t}");
        assert_eq!((&t[10..11], &t[19..20], &t[23..]), ("T", ".", "Z"), "{t}");
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("DEBUG"), Level::Debug);
        assert_eq!(parse_level("nonsense"), Level::Info);
    }
}
