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
                    "time" => slog::PushFnValue(|_, ser| ser.emit(chrono_now())),
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

fn chrono_now() -> String {
    // RFC 3339 in UTC with milliseconds, without pulling in a date crate.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("DEBUG"), Level::Debug);
        assert_eq!(parse_level("nonsense"), Level::Info);
    }
}
