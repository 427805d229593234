//! `run_until_stopped` on SIGTERM: serves on for the drain, then stops and returns Ok; a
//! second signal cuts the drain short. A test binary of its own: it signals its own
//! process.

use std::time::{Duration, Instant};

use minitwit_kit::{
    server::{run_until_stopped, serve, Service},
    settings::{HttpSettings, LogSettings},
};

#[actix_web::test]
async fn serves_through_the_drain_then_stops_and_a_second_signal_cuts_it_short() {
    let (port, stopped) = start(1000).await;
    let sent = Instant::now();
    signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(health(port).await, "serving 300 ms into a 1 s drain");
    stopped.await.expect("the server task").expect("stopped cleanly");
    assert!(sent.elapsed() >= Duration::from_secs(1), "stopped after {:?}, within the drain", sent.elapsed());
    assert!(!health(port).await, "still serving after it stopped");

    let (port, stopped) = start(60_000).await;
    let sent = Instant::now();
    signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(health(port).await, "serving 300 ms into a 60 s drain");
    signal("INT");
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("a second signal ends the drain")
        .expect("the server task")
        .expect("stopped cleanly");
    assert!(!health(port).await, "still serving after it stopped after {:?}", sent.elapsed());
}

/// Runs a bare server with a drain of `drain_ms` until it stops; returns its port once it
/// listens (and listens for signals) and the task that ends when it stopped.
async fn start(drain_ms: u64) -> (u16, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    let http = HttpSettings { port: 0, drain_ms, workers: 1, ..HttpSettings::default() };
    let log = LogSettings { level: "critical".into(), ..LogSettings::default() };
    let stopped = actix_web::rt::spawn(async move {
        run_until_stopped("stop-test", &log, |logger| {
            let running = serve(&http, Service::new("stop-test", logger), |_| {})?;
            let _ = port_tx.send(running.port);
            Ok(running)
        })
        .await
    });
    (port_rx.await.expect("the server starts"), stopped)
}

/// Sends `SIG<name>` to this process.
fn signal(name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name}");
}

/// Whether `/health` answers 200.
async fn health(port: u16) -> bool {
    let url = format!("http://127.0.0.1:{port}/health");
    reqwest::get(url).await.is_ok_and(|r| r.status() == 200)
}
