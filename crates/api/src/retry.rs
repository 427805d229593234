//! Retrying a call to a service once, when that cannot do harm.
//!
//! A call that failed before its request reached the service (connection refused, or
//! the connection closed before the request was written) is retried whatever it is: the
//! service never saw it. A call that failed after the request may have reached it (the
//! connection closed or was reset before the whole answer came) is retried only when
//! sending it twice does what sending it once does ([`Idempotent::Yes`]: reads,
//! follow/unfollow, setting a flag or `latest`, a new message under its idempotency
//! key); never a new user. A call that timed out after connecting is not retried (its time is spent); one whose
//! connect timed out never reached the service and is.
//!
//! A call the service shed (`503 overloaded`: no database connection came free, so it
//! never touched the database) is sent again the same way, whatever it is; one whose
//! database did not answer (`503 database_unavailable`) only if it is idempotent.
//!
//! The retry goes out at once, on another connection than the call's (the retries'
//! own client, whose new connections take the service's addresses in turn, see
//! [`RoundRobin`]: behind DNS round robin, likely another replica; it keeps a few idle
//! ones, `Retries::IDLE`, so that a retry over mutual TLS is rarely a handshake), and
//! within what is left of the call's time-out. A [`RetryBudget`] per service bounds retries to
//! a share of the calls, so retries cannot multiply the load of a service that is down.
//!
//! One exception to "once": a retry whose connection was made and then closed without
//! an answer, where the call's kind allows sending it again, is sent a last time after
//! [`CUT_OFF_PAUSE`]. A replica being killed still accepts connections for a few
//! milliseconds (measured: 1 or 2 calls in 60,000 at 1,200 req/s failed so, both
//! tries landing on the dying replica); a refused connect is not tried a third time.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::connections::{http_client_builder, ClientTls, RoundRobin};

/// The pause before the last try of a retry that was cut off (see the module's text).
pub const CUT_OFF_PAUSE: Duration = Duration::from_millis(20);

/// Whether a call may be sent twice with the effect of sending it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    Yes,
    No,
}

/// An error answer that may be worth sending the call again for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answered {
    /// `503 overloaded`: the replica shed the call before its database.
    Shed,
    /// `503 database_unavailable`: the replica's database did not answer.
    DatabaseUnavailable,
}

impl Answered {
    /// Whether a call of this kind answered so is sent again ([`Retries::send_shed_again`]).
    /// A shed call never reached the database: whatever it is, on a new connection
    /// (likely another replica), within the same time-out and budget. A replica whose
    /// database does not answer (not reached yet since it started, or a connection lost
    /// under the query) may have done the work or not: only an idempotent call, to a
    /// replica that may be ready.
    pub(crate) fn sent_again(self, idempotent: Idempotent) -> bool {
        match self {
            Answered::Shed => true,
            Answered::DatabaseUnavailable => idempotent == Idempotent::Yes,
        }
    }
}

/// How far a failed request got, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It never reached the service: safe to send again.
    NotSent,
    /// It may have reached the service: only an idempotent call may be sent again.
    Ambiguous,
    /// The call's time ran out: not retried.
    TimedOut,
}

impl Reach {
    pub fn of(e: &reqwest::Error) -> Self {
        // A connect that timed out is a connect error too: nothing was sent (a task
        // that is gone leaves its address unanswered, and the next try takes the next
        // address), so it is asked before the time-out.
        if e.is_connect() || never_written(e) {
            Reach::NotSent
        } else if e.is_timeout() {
            Reach::TimedOut
        } else {
            Reach::Ambiguous
        }
    }

    /// Whether a call of this kind that failed this way is worth sending again.
    pub fn retry(self, idempotent: Idempotent) -> bool {
        match self {
            Reach::NotSent => true,
            Reach::Ambiguous => idempotent == Idempotent::Yes,
            Reach::TimedOut => false,
        }
    }
}

/// hyper answers a request whose connection closed before any of it was written with
/// its `Canceled` error, whose text is exactly this (`hyper::Error::is_canceled`, not
/// reachable here without depending on hyper itself). Requests cancelled on a reused
/// connection hyper already sends again; this is the same on a fresh one.
fn never_written(e: &reqwest::Error) -> bool {
    causes(e).any(|cause| cause.to_string() == "operation was canceled")
}

/// What became of a retry, the `outcome` label of `upstream_retries_total`.
pub mod outcome {
    /// The retry was sent and succeeded.
    pub const OK: &str = "ok";
    /// The retry was sent and failed too (no answer, or 503 again).
    pub const FAILED: &str = "failed";
    /// A retry was due but the budget was spent: the call failed without one.
    pub const BUDGET_EXHAUSTED: &str = "budget_exhausted";
    /// A retry was due but the call's time-out had run out.
    pub const NO_TIME_LEFT: &str = "no_time_left";
    /// A slow call was hedged and the hedge's answer was taken.
    pub const HEDGE_OK: &str = "hedge_ok";
    /// A slow call was hedged but the first answer came first, or the hedge failed.
    pub const HEDGE_UNUSED: &str = "hedge_unused";
    /// Every outcome, e.g. to export each counter at 0 from the start.
    pub const ALL: [&str; 6] = [OK, FAILED, BUDGET_EXHAUSTED, NO_TIME_LEFT, HEDGE_OK, HEDGE_UNUSED];
}

/// Sees every retry decision: service name and [`outcome`].
pub type RetryObserver = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// How many retries a service's calls may cost: at most `percent` % of the calls of
/// the last second, and at least `min_per_second` retries a second whatever the
/// traffic (so a quiet service still gets its few retries).
#[derive(Debug)]
pub struct RetryBudget {
    percent: u32,
    min_per_second: u32,
    window: Mutex<Window>,
}

/// A sliding second in [`SLOTS`] slots, each counting calls and retries.
#[derive(Debug)]
struct Window {
    origin: Instant,
    slots: [Slot; SLOTS],
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    /// Which `SLOT`-long stretch since `origin` this slot counts.
    index: u64,
    calls: u32,
    retries: u32,
}

const SLOTS: usize = 10;
const SLOT: Duration = Duration::from_millis(100);

impl Window {
    fn slot(&mut self, now: Instant) -> &mut Slot {
        let index = (now.saturating_duration_since(self.origin).as_millis() / SLOT.as_millis()) as u64;
        let slot = &mut self.slots[index as usize % SLOTS];
        if slot.index != index {
            *slot = Slot { index, calls: 0, retries: 0 };
        }
        slot
    }

    /// Calls and retries of the last second, `now`'s slot included.
    fn totals(&mut self, now: Instant) -> (u64, u64) {
        let current = self.slot(now).index;
        self.slots
            .iter()
            .filter(|s| s.index <= current && s.index + SLOTS as u64 > current)
            .fold((0, 0), |(c, r), s| (c + u64::from(s.calls), r + u64::from(s.retries)))
    }
}

impl RetryBudget {
    pub fn new(percent: u32, min_per_second: u32) -> Self {
        let window = Window { origin: Instant::now(), slots: [Slot::default(); SLOTS] };
        Self { percent, min_per_second, window: Mutex::new(window) }
    }

    /// Counts a call (its first attempt).
    pub fn record_call(&self) {
        self.record_call_at(Instant::now());
    }

    /// Takes one retry from the budget if it has one left.
    pub fn try_retry(&self) -> bool {
        self.try_retry_at(Instant::now())
    }

    fn record_call_at(&self, now: Instant) {
        let mut window = self.window.lock().expect("retry budget lock");
        let slot = window.slot(now);
        slot.calls = slot.calls.saturating_add(1);
    }

    fn try_retry_at(&self, now: Instant) -> bool {
        let mut window = self.window.lock().expect("retry budget lock");
        let (calls, retries) = window.totals(now);
        let allowed = (calls * u64::from(self.percent) / 100).max(u64::from(self.min_per_second));
        if retries >= allowed {
            return false;
        }
        let slot = window.slot(now);
        slot.retries = slot.retries.saturating_add(1);
        true
    }
}

/// What a client needs to retry: a client of its own, so that a retry or a hedge never
/// goes on the connection of the call it repeats, the time-out of a whole call (a retry
/// gets what is left of it), the service's budget, and who to tell.
#[derive(Clone)]
pub struct Retries {
    /// Keeps a few idle connections ([`Retries::IDLE`]): it opened a new one per retry
    /// before, and over mutual TLS each is a handshake; under load, once calls passed
    /// the hedge delay, the hedges' handshakes took the CPU the calls needed, calls
    /// slowed further and more were hedged (a held rate of 2,000 instead of 3,500
    /// requests/s in `make bench`; BENCHMARKS.md). Idle connections a replica closed
    /// (stopped, killed) are not taken again.
    fresh: reqwest::Client,
    timeout: Duration,
    budget: Arc<RetryBudget>,
    observer: Option<RetryObserver>,
    /// After how long an idempotent call without an answer is sent a second time.
    hedge_after: Option<Duration>,
}

impl Retries {
    /// Idle connections the retries' client keeps per service.
    const IDLE: usize = 8;

    /// Retries for one service's calls whose time-out is `timeout`.
    pub fn new(timeout: Duration, budget: RetryBudget) -> Self {
        Self {
            fresh: Self::fresh_client(timeout, None),
            timeout,
            budget: Arc::new(budget),
            observer: None,
            hedge_after: None,
        }
    }

    /// Retries and hedges over mutual TLS, as the client's own calls go.
    pub fn with_tls(mut self, tls: &ClientTls) -> Self {
        self.fresh = Self::fresh_client(self.timeout, Some(tls));
        self
    }

    fn fresh_client(timeout: Duration, tls: Option<&ClientTls>) -> reqwest::Client {
        http_client_builder(timeout, Arc::new(RoundRobin::system()), tls)
            .pool_max_idle_per_host(Self::IDLE)
            .build()
            .expect("a client of parsed certificates always builds")
    }

    /// Hedges idempotent calls that have no answer after `after` (zero, or not less
    /// than the call's time-out: never).
    pub fn with_hedge(mut self, after: Duration) -> Self {
        self.hedge_after = (!after.is_zero() && after < self.timeout).then_some(after);
        self
    }

    pub fn with_observer(mut self, observer: RetryObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sends a call to `service` that started at `start`, and once more if it failed
    /// harmlessly ([`Reach::retry`]); the answer, or the first failure when the call was
    /// not sent again or failed again.
    pub(crate) async fn send(
        &self,
        service: &'static str,
        req: reqwest::RequestBuilder,
        idempotent: Idempotent,
        start: Instant,
    ) -> reqwest::Result<reqwest::Response> {
        let (client, req) = req.build_split();
        let req = req?;
        let again = req.try_clone();
        self.budget.record_call();
        let hedge = match self.hedge_after {
            Some(after) if idempotent == Idempotent::Yes => req.try_clone().map(|r| (after, r)),
            _ => None,
        };
        let first = match hedge {
            None => client.execute(req).await,
            Some((after, hedge)) => {
                // Not pinned in place (a `Pending` is `Unpin`): if the hedge is sent,
                // the call that loses moves to a task of its own to be read to its end.
                let mut first = client.execute(req);
                tokio::select! {
                    sent = &mut first => sent,
                    () = tokio::time::sleep(after.saturating_sub(start.elapsed())) => {
                        return self.hedge(service, first, hedge, start).await;
                    }
                }
            }
        };
        let first = match first {
            Ok(res) => return Ok(res),
            Err(e) => e,
        };
        match again.filter(|_| Reach::of(&first).retry(idempotent)) {
            Some(again) => self.send_again(service, again, idempotent, start).await.ok_or(first),
            None => Err(first),
        }
    }

    /// `first` has no answer yet after the hedge delay: sends `hedge` too, on a new
    /// connection, within what is left of the time-out and the budget, and takes the
    /// first good answer (not a failure, not 503); when both fail, the first's failure.
    async fn hedge(
        &self,
        service: &'static str,
        mut first: impl Call,
        mut hedge: reqwest::Request,
        start: Instant,
    ) -> reqwest::Result<reqwest::Response> {
        let left = self.timeout.saturating_sub(start.elapsed());
        if left.is_zero() || !self.budget.try_retry() {
            return first.await;
        }
        *hedge.timeout_mut() = Some(left);
        let mut second = self.fresh.execute(hedge);
        let good = |sent: &reqwest::Result<reqwest::Response>| {
            sent.as_ref().is_ok_and(|res| res.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE)
        };
        let (taken, hedge_taken) = tokio::select! {
            sent = &mut first => {
                if good(&sent) {
                    read_to_the_end(second);
                    (sent, false)
                } else {
                    let other = second.await;
                    if good(&other) { (other, true) } else { (sent, false) }
                }
            }
            other = &mut second => {
                if good(&other) {
                    read_to_the_end(first);
                    (other, true)
                } else {
                    (first.await, false)
                }
            }
        };
        self.observe(service, if hedge_taken { outcome::HEDGE_OK } else { outcome::HEDGE_UNUSED });
        taken
    }

    /// Sends a call the service shed (`503 overloaded`: it never reached the database)
    /// once more, on a new connection, within what is left of the call's time-out and
    /// the service's budget; `None` when it was not sent or could not be sent.
    pub(crate) async fn send_shed_again(
        &self,
        service: &'static str,
        again: reqwest::RequestBuilder,
        idempotent: Idempotent,
        start: Instant,
    ) -> Option<reqwest::Response> {
        let again = again.build().ok()?;
        self.send_again(service, again, idempotent, start).await
    }

    /// Sends `again` on a new connection, within what is left of the call's time-out
    /// and the service's budget, and a last time after [`CUT_OFF_PAUSE`] when that
    /// connection was cut off without an answer and `idempotent` allows it; `None`
    /// when it was not sent or failed too.
    async fn send_again(
        &self,
        service: &'static str,
        mut again: reqwest::Request,
        idempotent: Idempotent,
        start: Instant,
    ) -> Option<reqwest::Response> {
        let mut last = false;
        loop {
            let left = self.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                self.observe(service, outcome::NO_TIME_LEFT);
                return None;
            }
            if !self.budget.try_retry() {
                self.observe(service, outcome::BUDGET_EXHAUSTED);
                return None;
            }
            let next = if last { None } else { again.try_clone() };
            *again.timeout_mut() = Some(left);
            let result = self.fresh.execute(again).await;
            // A retry answered 503 (shed again, or down) did not help either.
            let ok =
                result.as_ref().is_ok_and(|res| res.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE);
            self.observe(service, if ok { outcome::OK } else { outcome::FAILED });
            match (result, next) {
                (Err(e), Some(next)) if !e.is_connect() && Reach::of(&e).retry(idempotent) => {
                    tokio::time::sleep(CUT_OFF_PAUSE).await;
                    again = next;
                    last = true;
                }
                (result, _) => return result.ok(),
            }
        }
    }

    fn observe(&self, service: &'static str, outcome: &'static str) {
        if let Some(observe) = &self.observer {
            observe(service, outcome);
        }
    }
}

/// A call in flight (reqwest's `Pending`); movable, to [`read_to_the_end`], while it runs.
trait Call: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Unpin + Send + 'static {}

impl<F> Call for F where
    F: std::future::Future<Output = reqwest::Result<reqwest::Response>> + Unpin + Send + 'static
{
}

/// The answer nobody waits for any more (the losing one of a hedged pair), read to its
/// end on a task of its own, so that its connection goes back to the pool. Dropping an
/// HTTP/1.1 call midway closes its connection, and over mutual TLS every hedge then
/// cost a new connection, a handshake, when calls were already slow enough to be
/// hedged. Only the loser moves to a task: a task for every hedged call, spawned before
/// knowing whether a hedge would be sent, cost each idempotent call a spawn and a
/// channel.
fn read_to_the_end(call: impl Call) {
    tokio::spawn(async move {
        if let Ok(unwanted) = call.await {
            // (within the call's time-out, which bounds the body too)
            let _ = unwanted.bytes().await;
        }
    });
}

/// `e`, then its source, then that one's, and so on.
pub(crate) fn causes(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| e.source())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shed_call_is_sent_again_whatever_it_is_one_without_a_database_only_if_idempotent() {
        for idempotent in [Idempotent::Yes, Idempotent::No] {
            assert!(Answered::Shed.sent_again(idempotent));
        }
        assert!(Answered::DatabaseUnavailable.sent_again(Idempotent::Yes));
        assert!(!Answered::DatabaseUnavailable.sent_again(Idempotent::No));
    }

    #[test]
    fn only_what_cannot_do_harm_is_retried() {
        assert!(Reach::NotSent.retry(Idempotent::No));
        assert!(Reach::NotSent.retry(Idempotent::Yes));
        assert!(Reach::Ambiguous.retry(Idempotent::Yes));
        assert!(!Reach::Ambiguous.retry(Idempotent::No));
        assert!(!Reach::TimedOut.retry(Idempotent::Yes));
    }

    #[test]
    fn a_quiet_service_gets_its_minimum_of_retries_a_second() {
        let budget = RetryBudget::new(10, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(budget.try_retry_at(t0));
        }
        assert!(!budget.try_retry_at(t0), "the fourth in the same second");
        assert!(!budget.try_retry_at(t0 + Duration::from_millis(950)));
        // A second later the window has slid past them.
        assert!(budget.try_retry_at(t0 + Duration::from_millis(1000)));
    }

    #[test]
    fn a_busy_service_gets_a_tenth_of_its_calls() {
        let budget = RetryBudget::new(10, 3);
        let t0 = Instant::now();
        for i in 0..1000 {
            budget.record_call_at(t0 + Duration::from_micros(i * 900));
        }
        let now = t0 + Duration::from_millis(900);
        let granted = (0..500).filter(|_| budget.try_retry_at(now)).count();
        assert_eq!(granted, 100);
    }

    #[test]
    fn calls_older_than_a_second_no_longer_count() {
        let budget = RetryBudget::new(10, 0);
        let t0 = Instant::now();
        for _ in 0..100 {
            budget.record_call_at(t0);
        }
        assert!(budget.try_retry_at(t0 + Duration::from_millis(500)));
        assert!(!budget.try_retry_at(t0 + Duration::from_millis(1500)), "no calls in the last second");
    }

    #[test]
    fn a_zero_budget_never_retries() {
        let budget = RetryBudget::new(0, 0);
        budget.record_call();
        assert!(!budget.try_retry());
    }
}
