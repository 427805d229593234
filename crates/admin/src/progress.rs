//! The progress display of the writes, and their timing.

use std::io::IsTerminal;
use std::time::Instant;

use crate::report::Write;

/// A progress bar on a terminal, plain lines every tenth otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: &'static str,
    total: u64,
    done: u64,
    shown: bool,
}

impl Progress {
    fn new(label: &'static str, total: u64, enabled: bool) -> Progress {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>9} [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(label);
            bar
        });
        Progress { bar, label, total, done: 0, shown: enabled }
    }

    fn inc(&mut self) {
        self.done += 1;
        let step = (self.total / 10).max(1);
        match &self.bar {
            Some(bar) if self.done.is_multiple_of(1000) || self.done == self.total => {
                bar.set_position(self.done)
            }
            None if self.shown && (self.done.is_multiple_of(step) || self.done == self.total) => {
                eprintln!("{}: {}/{}", self.label, self.done, self.total);
            }
            _ => {}
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Streams `rows` into `insert`, counting them on a progress display; the rows
/// written and the time taken.
pub(crate) fn with_progress<T>(
    rows: Vec<T>,
    table: &'static str,
    enabled: bool,
    insert: impl FnOnce(&mut dyn Iterator<Item = T>) -> anyhow::Result<u64>,
) -> anyhow::Result<Write> {
    let started = Instant::now();
    let mut progress = Progress::new(table, rows.len() as u64, enabled);
    let mut iter = rows.into_iter().inspect(|_| progress.inc());
    let rows = insert(&mut iter)?;
    drop(iter);
    progress.finish();
    Ok(Write { table, rows, seconds: started.elapsed().as_secs_f64() })
}
