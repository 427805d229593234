//! Outcomes, error kinds, latency histograms and their summaries.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Why a request did not count as a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Answered, with a status the caller does not accept.
    Status(u16),
    /// No complete answer within the time-out.
    Timeout,
    /// The connection could not be made (refused, reset while connecting, DNS).
    Connect,
    /// Anything else (connection dropped mid-answer, malformed answer).
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Status(code) => write!(f, "status_{code}"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Other => f.write_str("other"),
        }
    }
}

impl ErrorKind {
    /// Classifies a transport error (no status was received).
    pub fn of(err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_connect() {
            ErrorKind::Connect
        } else {
            ErrorKind::Other
        }
    }
}

/// A latency histogram in microseconds, 1 µs to 10 minutes, 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, self.0.high());
        self.0.record(us).expect("value clamped into range");
    }

    pub fn merge(&mut self, other: &Latency) {
        self.0.add(&other.0).expect("same bounds");
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(&self) -> LatencySummary {
        let h = &self.0;
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Percentiles of a [`Latency`], in milliseconds (all zero when nothing was recorded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Counts and latencies of one kind of request.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub sent: u64,
    pub ok: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Every answered request (whatever its status); time-outs and connection errors
    /// have no latency and are only counted.
    pub latency: Latency,
}

impl Tally {
    pub fn record(&mut self, outcome: Result<(), ErrorKind>, latency: Option<Duration>) {
        self.sent += 1;
        match outcome {
            Ok(()) => self.ok += 1,
            Err(kind) => *self.errors.entry(kind).or_default() += 1,
        }
        if let Some(d) = latency {
            self.latency.record(d);
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(*k).or_default() += v;
        }
        self.latency.merge(&other.latency);
    }

    pub fn report(&self) -> TallyReport {
        TallyReport {
            sent: self.sent,
            ok: self.ok,
            errors: self.error_count(),
            errors_by_kind: self.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            latency: self.latency.summary(),
        }
    }
}

/// The serialisable form of a [`Tally`].
#[derive(Debug, Clone, Serialize)]
pub struct TallyReport {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub latency: LatencySummary,
}

/// Renders rows of named tallies as an aligned text table.
pub fn table<'a>(rows: impl IntoIterator<Item = (&'a str, &'a TallyReport)>) -> String {
    let mut out = format!(
        "{:<10} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
        "request", "sent", "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for (name, r) in rows {
        let l = &r.latency;
        out.push_str(&format!(
            "{:<10} {:>9} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}\n",
            name, r.sent, r.ok, r.errors, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
        ));
    }
    out
}

/// "status_404=3, timeout=2" for the rows that have errors, one line each.
pub fn error_lines<'a>(rows: impl IntoIterator<Item = (&'a str, &'a TallyReport)>) -> String {
    let mut out = String::new();
    for (name, r) in rows {
        if r.errors > 0 {
            let kinds: Vec<String> = r.errors_by_kind.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("errors {name}: {}\n", kinds.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        // 3 significant digits: within 0.1 %.
        (actual - expected).abs() <= expected * 0.001 + 1e-9
    }

    #[test]
    fn percentiles_of_known_data() {
        let mut l = Latency::default();
        for ms in 1..=1000u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 1000);
        assert!(close(s.p50_ms, 500.0), "{s:?}");
        assert!(close(s.p90_ms, 900.0), "{s:?}");
        assert!(close(s.p99_ms, 990.0), "{s:?}");
        assert!(close(s.p999_ms, 999.0), "{s:?}");
        assert!(close(s.max_ms, 1000.0), "{s:?}");
        assert!(close(s.mean_ms, 500.5), "{s:?}");
    }

    #[test]
    fn one_slow_outlier_shows_at_the_tail_only() {
        let mut l = Latency::default();
        for _ in 0..999 {
            l.record(Duration::from_micros(2_000));
        }
        l.record(Duration::from_secs(3));
        let s = l.summary();
        assert!(close(s.p50_ms, 2.0) && close(s.p99_ms, 2.0), "{s:?}");
        assert!(close(s.max_ms, 3000.0), "{s:?}");
        assert!(close(s.p999_ms, 2.0), "the 999th of 1000 values: {s:?}");
    }

    #[test]
    fn empty_and_out_of_range_values() {
        assert_eq!(Latency::default().summary(), LatencySummary::default());
        let mut l = Latency::default();
        l.record(Duration::ZERO);
        l.record(Duration::from_secs(3600));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn tallies_count_and_merge() {
        let mut a = Tally::default();
        a.record(Ok(()), Some(Duration::from_millis(1)));
        a.record(Err(ErrorKind::Status(500)), Some(Duration::from_millis(2)));
        a.record(Err(ErrorKind::Timeout), None);
        let mut b = Tally::default();
        b.record(Err(ErrorKind::Timeout), None);
        b.record(Err(ErrorKind::Connect), None);
        a.merge(&b);
        let r = a.report();
        assert_eq!((r.sent, r.ok, r.errors), (5, 1, 4));
        assert_eq!(r.errors_by_kind["timeout"], 2);
        assert_eq!(r.errors_by_kind["status_500"], 1);
        assert_eq!(r.errors_by_kind["connect"], 1);
        assert_eq!(r.latency.count, 2);
        let t = table([("tweet", &r)]);
        assert!(t.lines().nth(1).unwrap().starts_with("tweet"));
        assert_eq!(error_lines([("tweet", &r)]), "errors tweet: connect=1, status_500=1, timeout=2\n");
    }
}
