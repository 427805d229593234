//! The simulator's `latest` value, kept by message-service so that every gateway
//! replica sees the same value and it survives restarts.
//!
//! Writing it on every request would cost one database write per request, all on the
//! same row. Instead writes are group-committed: a request records its value and waits
//! until a write that includes it (or a newer value) has completed. While one write is
//! in flight, every value recorded meanwhile is covered by the next single write, so a
//! busy replica writes once per round trip, not once per request, and no request is
//! answered before its value is stored.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex,
};

use minitwit_api::client::{ClientError, MessageClient};
use prometheus::IntGauge;

#[derive(Clone)]
pub struct LatestRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    client: MessageClient,
    /// The newest recorded value and its sequence number.
    newest: Mutex<(u64, i64)>,
    /// The sequence number of the newest value known to be stored.
    stored: AtomicU64,
    /// One write at a time (fair: waiters queue in order).
    writer: tokio::sync::Mutex<()>,
    gauge: IntGauge,
}

impl LatestRecorder {
    pub fn new(client: MessageClient, gauge: IntGauge) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                newest: Mutex::new((0, -1)),
                stored: AtomicU64::new(0),
                writer: tokio::sync::Mutex::new(()),
                gauge,
            }),
        }
    }

    /// Records `value` and returns once it (or a value recorded after it) is stored.
    pub async fn record(&self, rid: &str, value: i64) -> Result<(), ClientError> {
        let inner = &self.inner;
        let mine = {
            let mut newest = inner.newest.lock().expect("latest lock");
            newest.0 += 1;
            newest.1 = value;
            newest.0
        };
        let _writing = inner.writer.lock().await;
        if inner.stored.load(Ordering::Acquire) >= mine {
            return Ok(());
        }
        let (seq, value) = *inner.newest.lock().expect("latest lock");
        inner.client.set_latest(rid, value).await?;
        inner.stored.fetch_max(seq, Ordering::AcqRel);
        inner.gauge.set(value);
        Ok(())
    }

    /// The stored value (`-1` before any).
    pub async fn get(&self, rid: &str) -> Result<i64, ClientError> {
        let value = self.inner.client.latest(rid).await?;
        self.inner.gauge.set(value);
        Ok(value)
    }
}
