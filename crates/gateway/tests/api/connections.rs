//! The gateway's connections to a service live at most `SERVICES__CONNECTION_MAX_AGE_MS`
//! (then a new pool opens new connections and takes the calls over during a ramp of a
//! quarter of the max age, so behind DNS round robin a new replica gets calls and a
//! removed one loses its connections), or for ever with 0.
//!
//! A counting proxy in front of message-service sees the gateway's connections while
//! the simulator reads the public timeline, one call after the other.

use std::time::{Duration, Instant};

use crate::{
    helpers::*,
    proxy::{spawn_system_behind_proxy, CuttingProxy},
};

/// The whole system with message-service behind a counting proxy and the given max age.
async fn system_with_max_age(max_age_ms: u64) -> (TestSystem, CuttingProxy) {
    spawn_system_behind_proxy(|s| &mut s.message_url, 0, |s| s.services.connection_max_age_ms = max_age_ms)
        .await
}

/// Reads the public timeline every 20 ms for `duration`, one call at a time.
async fn read_steadily(sys: &TestSystem, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        let res =
            sys.client.get(sys.url("/msgs?no=5")).header("authorization", SIM_AUTH).send().await.unwrap();
        assert_eq!(res.status(), 200);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_to_a_service_are_renewed_every_max_age() {
    let started = Instant::now();
    let (sys, proxy) = system_with_max_age(300).await;
    read_steadily(&sys, Duration::from_millis(1300)).await;
    let lived = started.elapsed();

    // Sequential calls use one connection per pool: one pool per 300 ms, never more.
    let opened = proxy.connections();
    let most = 1 + (lived.as_millis() / 300) as usize;
    assert!((4..=most).contains(&opened), "{opened} connections in {lived:?}");
    // Each old pool closed its connection once its ramp (75 ms) and its last call
    // ended: open are only the current pool's, and the one before it if the calls
    // stopped during its ramp (it is dropped by the first call after the ramp).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let open = opened - proxy.closed();
    assert!((1..=2).contains(&open), "{open} of {opened} connections still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_max_age_zero_one_connection_serves_every_call() {
    let (sys, proxy) = system_with_max_age(0).await;
    read_steadily(&sys, Duration::from_millis(1300)).await;
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.closed(), 0);
}
