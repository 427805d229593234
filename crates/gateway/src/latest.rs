//! The simulator's `latest` value, kept by message-service so that every gateway
//! replica sees the same value and it survives restarts.
//!
//! Writing it on every request would cost one database write per request, all on the
//! same row. Instead writes are group-committed: a request records its value and waits
//! until a write that includes it (or a newer value) has completed. While one write is
//! in flight, every value recorded meanwhile is covered by the next single write, so a
//! busy replica writes once per round trip, not once per request, and no request is
//! answered before its value is stored.
//!
//! A write that fails is tried once more for the requests whose value it carried, by
//! one of them, if it failed fast enough for the answer still to be timely (within
//! [`TRY_AGAIN_WITHIN`] of the request's start): a write that was shed (every database
//! connection of the replica busy) or refused by a replica going away carries every
//! request of a round trip, and failing it failed them all, though the next write a
//! moment later mostly succeeds (the cluster test's rolling updates lost dozens of
//! requests so). When that one more write fails too, or the first came too late, the
//! requests it carried fail at once: under an outage (PostgreSQL restarting) the waiters
//! would otherwise take turns writing again, each after the last one's call budget, and
//! time out instead of answering 503.
//!
//! Under load, a write waits to gather: the round trip of a write is shorter than the
//! gap between requests at a rate like the simulator's, so writing as soon as none is in
//! flight wrote once for four requests of five (1,250 requests a second: 10,200 writes
//! for 12,500 requests, a quarter of the gateway's and services' CPU and most of
//! PostgreSQL's contention on the row). So, as PostgreSQL's own `commit_delay` does when
//! `commit_siblings` other transactions are active, a writer that finds another
//! simulator request in flight and the last write begun less than [`GATHER`] ago waits
//! until [`GATHER`] after it: at most one write per [`GATHER`] while busy, every value
//! recorded meanwhile carried by it. A request alone (the course's simulator sends one
//! at a time) writes at once. The wait runs beside the request's own work (a call to a
//! service), so it adds to the answer only what outlasts that work.
//!
//! Each value carries the time this gateway received it, so message-service ignores a
//! write that lands after a newer one (a hedged copy, or a call given up on that the
//! service still finished): `latest` never goes back.
//!
//! Waiting requests do not queue on a lock: whoever finds no write in flight becomes the
//! writer (`try_lock`), the others sleep until a write attempt ends and then look at
//! what is stored. (A fair lock taken by every request in turn made each request wait
//! for every request queued before it to be scheduled: at 3,000 requests per second
//! that convoy, not the database, set the p99; see BENCHMARKS.md.)

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use minitwit_api::{
    client::{ClientError, MessageClient},
    message::{now_us, MessageError, SetLatest},
};
use prometheus::IntGauge;
use tokio::sync::watch;

/// How soon after a request began a failed write that carried its value may still be
/// tried once more: the simulator gives up after 0.3 s, and a shed write answers after
/// message-service's pool wait (100 ms).
pub const TRY_AGAIN_WITHIN: Duration = Duration::from_millis(150);

/// While other simulator requests are in flight, writes begin at least this far apart.
pub const GATHER: Duration = Duration::from_millis(2);

#[derive(Clone)]
pub struct LatestRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    client: MessageClient,
    /// The newest recorded value and its sequence number.
    newest: Mutex<Newest>,
    /// The sequence number of the newest value known to be stored.
    stored: AtomicU64,
    /// The last failed write.
    failed: Mutex<Failed>,
    /// Held by the one request writing; when the last write began.
    writer: tokio::sync::Mutex<Option<Instant>>,
    /// Bumped whenever a write attempt ends (stored, failed or abandoned).
    attempts: watch::Sender<u64>,
    gauge: IntGauge,
    /// Simulator requests in flight ([`LatestRecorder::in_flight`]).
    in_flight: AtomicUsize,
    /// How far apart writes begin while busy ([`GATHER`]).
    gather: Duration,
}

/// Counts a simulator request in flight while it lives.
pub struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The writer's lock; on drop (the write done, failed, or its request dropped) it is
/// released first and the waiters woken after, so a woken waiter can take it.
struct Writing<'a> {
    lock: Option<tokio::sync::MutexGuard<'a, Option<Instant>>>,
    attempts: &'a watch::Sender<u64>,
}

impl Writing<'_> {
    /// When the last write began (kept under the writer's lock).
    fn last_write(&mut self) -> &mut Option<Instant> {
        self.lock.as_mut().expect("held until dropped")
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        drop(self.lock.take());
        self.attempts.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The last write that failed: the newest sequence number it carried, why, and how many
/// writes failed so far (which tells one failure from the next).
#[derive(Default)]
struct Failed {
    seq: u64,
    reason: String,
    count: u64,
}

/// The newest value recorded, its sequence number and when it was received.
#[derive(Clone, Copy)]
struct Newest {
    seq: u64,
    value: SetLatest,
}

impl Inner {
    /// The writer's wait before it reads the newest value: until [`GATHER`] after the
    /// last write began, when another request is in flight beside the writer's own;
    /// none otherwise. Then notes that a write begins now.
    async fn gather(&self, last_write: &mut Option<Instant>) {
        if let Some(last) = last_write.filter(|_| self.in_flight.load(Ordering::Acquire) > 1) {
            tokio::time::sleep_until((last + self.gather).into()).await;
        }
        *last_write = Some(Instant::now());
    }

    /// When the last failed write carried the value of sequence number `mine`: which
    /// failure it was, and the error for its request.
    fn carried_by_a_failed_write(&self, mine: u64) -> Option<(u64, ClientError<MessageError>)> {
        let failed = self.failed.lock().expect("latest lock");
        (failed.seq >= mine).then(|| {
            let e = ClientError::Unavailable {
                service: MessageClient::SERVICE,
                reason: format!("the write of latest that carried this value failed: {}", failed.reason),
            };
            (failed.count, e)
        })
    }
}

impl LatestRecorder {
    pub fn new(client: MessageClient, gauge: IntGauge) -> Self {
        Self::gathering_for(client, gauge, GATHER)
    }

    /// A recorder whose writes begin at least `gather` apart while busy (tests try other
    /// spans than [`GATHER`]).
    fn gathering_for(client: MessageClient, gauge: IntGauge, gather: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                newest: Mutex::new(Newest {
                    seq: 0,
                    value: SetLatest { latest: -1, recorded_at_us: Some(0) },
                }),
                stored: AtomicU64::new(0),
                failed: Mutex::new(Failed::default()),
                writer: tokio::sync::Mutex::new(None),
                attempts: watch::Sender::new(0),
                gauge,
                in_flight: AtomicUsize::new(0),
                gather,
            }),
        }
    }

    /// Counts a simulator request in flight until the guard is dropped: what tells a
    /// writer that others are likely to record values soon (and so to gather).
    pub fn in_flight(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.inner.clone())
    }

    /// Records `value` and returns once it (or a value recorded after it) is stored.
    pub async fn record(&self, rid: &str, value: i64) -> Result<(), ClientError<MessageError>> {
        let started = Instant::now();
        let inner = &self.inner;
        // Subscribed before looking, so the end of a write that starts meanwhile wakes us.
        let mut ended = inner.attempts.subscribe();
        let mine = {
            let mut newest = inner.newest.lock().expect("latest lock");
            // Never earlier than the value recorded before it, whatever the clock does.
            let at = now_us().max(newest.value.recorded_at_us.unwrap_or(0));
            newest.seq += 1;
            newest.value = SetLatest { latest: value, recorded_at_us: Some(at) };
            newest.seq
        };
        // The failure after which this value is being written once more.
        let mut trying_again_after = None;
        loop {
            if inner.stored.load(Ordering::Acquire) >= mine {
                return Ok(());
            }
            if let Some((failure, e)) = inner.carried_by_a_failed_write(mine) {
                if trying_again_after.is_none() && started.elapsed() < TRY_AGAIN_WITHIN {
                    trying_again_after = Some(failure);
                }
                if trying_again_after != Some(failure) {
                    return Err(e);
                }
            }
            let Ok(lock) = inner.writer.try_lock() else {
                // A write is in flight; it may not include `mine`: look again when it ends.
                let _ = ended.changed().await;
                continue;
            };
            let mut writing = Writing { lock: Some(lock), attempts: &inner.attempts };
            if inner.stored.load(Ordering::Acquire) >= mine {
                return Ok(());
            }
            inner.gather(writing.last_write()).await;
            let Newest { seq, value } = *inner.newest.lock().expect("latest lock");
            match inner.client.set_latest(rid, value).await {
                Ok(()) => {
                    inner.stored.fetch_max(seq, Ordering::AcqRel);
                    inner.gauge.set(value.latest);
                    return Ok(());
                }
                Err(e) => {
                    let mut failed = inner.failed.lock().expect("latest lock");
                    // (writes take turns, each carrying the newest value: seq never goes back)
                    let count = failed.count + 1;
                    *failed = Failed { seq: seq.max(failed.seq), reason: e.to_string(), count };
                    // The loop's next turn tells whether this value is written once more.
                }
            }
        }
    }

    /// The stored value (`-1` before any).
    pub async fn get(&self, rid: &str) -> Result<i64, ClientError<MessageError>> {
        let value = self.inner.client.latest(rid).await?;
        self.inner.gauge.set(value);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::{web, App, HttpResponse, HttpServer};
    use minitwit_api::{client::http_client, message::Latest};

    use super::*;

    /// A message-service stand-in: PUT /latest stores after 5 ms (failing the first
    /// `fail_first` writes with a 500 after `failing_takes`), GET /latest answers what
    /// is stored.
    #[derive(Default)]
    struct Fake {
        value: Mutex<i64>,
        /// The `recorded_at_us` of each write, in order of arrival.
        stamps: Mutex<Vec<Option<i64>>>,
        writes: AtomicUsize,
        fail_first: usize,
        failing_takes: Duration,
    }

    async fn put(fake: web::Data<Fake>, body: web::Json<SetLatest>) -> HttpResponse {
        fake.stamps.lock().unwrap().push(body.recorded_at_us);
        if fake.writes.fetch_add(1, Ordering::SeqCst) < fake.fail_first {
            tokio::time::sleep(fake.failing_takes).await;
            return HttpResponse::InternalServerError()
                .json(serde_json::json!({"error": "boom", "message": "failed"}));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        *fake.value.lock().unwrap() = body.latest;
        HttpResponse::NoContent().finish()
    }

    async fn get(fake: web::Data<Fake>) -> HttpResponse {
        HttpResponse::Ok().json(Latest { latest: *fake.value.lock().unwrap() })
    }

    fn recorder(fail_first: usize) -> (LatestRecorder, web::Data<Fake>) {
        recorder_failing(fail_first, Duration::from_millis(5))
    }

    fn recorder_failing(fail_first: usize, failing_takes: Duration) -> (LatestRecorder, web::Data<Fake>) {
        recorder_with(fail_first, failing_takes, GATHER)
    }

    fn recorder_with(
        fail_first: usize,
        failing_takes: Duration,
        gather: Duration,
    ) -> (LatestRecorder, web::Data<Fake>) {
        let fake =
            web::Data::new(Fake { value: Mutex::new(-1), fail_first, failing_takes, ..Fake::default() });
        let data = fake.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/latest", web::put().to(put))
                .route("/latest", web::get().to(get))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        let client =
            MessageClient::new(http_client(Duration::from_secs(2)), &format!("http://127.0.0.1:{port}"));
        let gauge = IntGauge::new("latest", "latest").unwrap();
        (LatestRecorder::gathering_for(client, gauge, gather), fake)
    }

    /// Records each of `values` from a task of its own, all at once; their results.
    async fn record_at_once(
        rec: &LatestRecorder,
        values: std::ops::RangeInclusive<i64>,
    ) -> Vec<Result<(), ClientError<MessageError>>> {
        let tasks: Vec<_> = values
            .map(|v| {
                let rec = rec.clone();
                tokio::spawn(async move { rec.record("t", v).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        results
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_values_share_writes_and_the_last_recorded_wins() {
        let (rec, fake) = recorder(0);
        for recorded in record_at_once(&rec, 1..=300).await {
            recorded.unwrap();
        }
        let last = rec.inner.newest.lock().unwrap().value.latest;
        assert_eq!(rec.get("t").await.unwrap(), last);
        let writes = fake.writes.load(Ordering::SeqCst);
        assert!((1..300).contains(&writes), "{writes} writes for 300 values");
        // Each write says when its value was received, later writes no earlier.
        let stamps: Vec<i64> = fake.stamps.lock().unwrap().iter().map(|s| s.expect("a stamp")).collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "stamps go back: {stamps:?}");
        assert!(stamps[0] > 1_700_000_000_000_000, "microseconds since the epoch: {}", stamps[0]);
        // Alone, a value is written and answered once stored.
        rec.record("t", 1337).await.unwrap();
        assert_eq!(rec.get("t").await.unwrap(), 1337);
    }

    /// A span no test waits out unless the recorder gathers.
    const LONG: Duration = Duration::from_secs(2);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_alone_writes_at_once() {
        // One simulator request at a time (the course's): no wait, however recent the
        // last write.
        let (rec, fake) = recorder_with(0, Duration::ZERO, 30 * LONG);
        let _mine = rec.in_flight();
        rec.record("t", 1).await.unwrap();
        tokio::time::timeout(LONG, rec.record("t", 2)).await.expect("written at once").unwrap();
        assert_eq!(fake.writes.load(Ordering::SeqCst), 2);
        assert_eq!(rec.get("t").await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn while_others_are_in_flight_a_write_gathers_the_values_recorded_meanwhile() {
        let (rec, fake) = recorder_with(0, Duration::ZERO, LONG);
        let (_mine, _other) = (rec.in_flight(), rec.in_flight());
        // The first write begins at once: none began before it.
        tokio::time::timeout(LONG / 2, rec.record("t", 1)).await.expect("the first write at once").unwrap();
        // The next waits until LONG after it, and carries every value recorded meanwhile.
        let second = tokio::spawn({
            let rec = rec.clone();
            async move { rec.record("t", 2).await }
        });
        tokio::time::sleep(LONG / 4).await;
        assert!(!second.is_finished(), "the second write did not wait to gather");
        assert_eq!(fake.writes.load(Ordering::SeqCst), 1);
        rec.record("t", 3).await.unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(fake.writes.load(Ordering::SeqCst), 2, "2 and 3 were not written together");
        assert_eq!(rec.get("t").await.unwrap(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_failed_fast_is_tried_once_more() {
        // message-service shed the write (every connection of the replica busy); the
        // next one, a moment later, is stored.
        let (rec, fake) = recorder(1);
        rec.record("t", 1).await.unwrap();
        assert_eq!(fake.writes.load(Ordering::SeqCst), 2);
        assert_eq!(rec.get("t").await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_failed_late_is_not_tried_again() {
        // Too late for a second write to answer in time: the request fails at once.
        let (rec, fake) = recorder_failing(1, TRY_AGAIN_WITHIN + Duration::from_millis(50));
        assert!(rec.record("t", 1).await.is_err());
        assert_eq!(fake.writes.load(Ordering::SeqCst), 1);
        rec.record("t", 2).await.unwrap();
        assert_eq!(rec.get("t").await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_value_written_twice_in_vain_fails_and_the_waiters_write_again() {
        // 1's write fails, and so does the one more, which carried 2 (recorded meanwhile)
        // too: 1 fails; 2 had one write only, and is stored by the next.
        let (rec, fake) = recorder(2);
        let (a, b) = tokio::join!(rec.record("t", 1), async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            rec.record("t", 2).await
        });
        assert!(a.is_err(), "1 was carried by two failed writes");
        b.unwrap();
        assert_eq!(fake.writes.load(Ordering::SeqCst), 3);
        assert_eq!(rec.get("t").await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_fails_every_request_it_carried_at_once() {
        // message-service cannot store anything (its database restarting).
        let (rec, fake) = recorder(usize::MAX);
        for recorded in record_at_once(&rec, 1..=50).await {
            let err = recorded.unwrap_err();
            assert!(matches!(err, ClientError::Api { .. } | ClientError::Unavailable { .. }), "{err}");
        }
        // Taking turns, each waiter would have written again after the one before it
        // failed: 50 writes, the last request answered after 50 round trips. Each value
        // is carried by two failed writes at most.
        let writes = fake.writes.load(Ordering::SeqCst);
        assert!(writes < 25, "{writes} writes for 50 values that all failed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_write_does_not_strand_the_waiters() {
        let (rec, _fake) = recorder(0);
        // The writer's request goes away mid-write (its client disconnected).
        let abandoned = tokio::time::timeout(Duration::from_millis(1), rec.record("t", 5)).await;
        assert!(abandoned.is_err());
        tokio::time::timeout(Duration::from_secs(2), rec.record("t", 6)).await.unwrap().unwrap();
        assert_eq!(rec.get("t").await.unwrap(), 6);
    }
}
