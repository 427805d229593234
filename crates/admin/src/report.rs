//! What an import reports: the [`Summary`] (also the JSON report) and its text.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{Issue, TableCounts};

/// The result of one import.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub source: String,
    pub counts: BTreeMap<&'static str, TableCounts>,
    /// Issues by table, action and reason.
    pub reasons: BTreeMap<String, u64>,
    pub flagged: u64,
    pub unflagged: u64,
    pub latest: Option<i64>,
    pub seconds: f64,
    /// Rows written and seconds taken, per target table.
    pub writes: Vec<Write>,
    pub issues: Vec<Issue>,
}

/// One table's write.
#[derive(Debug, Serialize)]
pub struct Write {
    pub table: &'static str,
    pub rows: u64,
    pub seconds: f64,
}

/// [`Summary::reasons`] of `issues`: how many there are of each table, action and reason.
pub(crate) fn reasons(issues: &[Issue]) -> BTreeMap<String, u64> {
    let mut reasons = BTreeMap::new();
    for i in issues {
        *reasons.entry(format!("{} {}: {}", i.table, i.action, i.reason)).or_default() += 1;
    }
    reasons
}

impl Summary {
    pub fn render(&self) -> String {
        let mut out = format!(
            "import of {} ({:.1} s)\n{:<10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8}\n",
            self.source,
            self.seconds,
            "table",
            "read",
            "imported",
            "already",
            "merged",
            "modified",
            "skipped"
        );
        for (table, c) in &self.counts {
            out.push_str(&format!(
                "{table:<10} {:>10} {:>10} {:>10} {:>8} {:>9} {:>8}\n",
                c.read, c.imported, c.already, c.merged, c.modified, c.skipped
            ));
        }
        if self.flagged + self.unflagged > 0 {
            out.push_str(&format!(
                "flagged changed: {} flagged, {} unflagged\n",
                self.flagged, self.unflagged
            ));
        }
        if let Some(l) = self.latest {
            out.push_str(&format!("latest set to {l}\n"));
        }
        for w in &self.writes {
            let rate = if w.seconds > 0.0 { w.rows as f64 / w.seconds } else { 0.0 };
            out.push_str(&format!("wrote {} {}: {:.1} s, {rate:.0} rows/s\n", w.rows, w.table, w.seconds));
        }
        for (reason, n) in &self.reasons {
            out.push_str(&format!("  {n:>8}  {reason}\n"));
        }
        out
    }
}
