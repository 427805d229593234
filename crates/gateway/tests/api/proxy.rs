//! A TCP proxy in front of one service that counts the connections the gateway opens
//! and closes, and can cut the first ones off mid-call (see `retries`).

use std::{
    io::Read,
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use gateway::{settings::ServicesSettings, Settings};
use minitwit_kit::testing::Backend;

use crate::helpers::{spawn_system_with, TestSystem};

/// The whole system with one service behind a [`CuttingProxy`] that cuts its first `cut`
/// connections (0: a proxy that only counts): `service` picks that service's URL in the
/// gateway's settings, which `adjust` then changes further.
pub async fn spawn_system_behind_proxy(
    service: fn(&mut ServicesSettings) -> &mut String,
    cut: usize,
    adjust: impl FnOnce(&mut Settings),
) -> (TestSystem, CuttingProxy) {
    let mut proxy = None;
    let sys = spawn_system_with(Backend::Postgres, |s| {
        let url = service(&mut s.services);
        let p = CuttingProxy::start(url, cut);
        *url = p.url();
        proxy = Some(p);
        adjust(s);
    })
    .await;
    (sys, proxy.expect("the system's settings were adjusted"))
}

pub struct CuttingProxy {
    port: u16,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl CuttingProxy {
    /// A proxy to `target` (`http://host:port`) that cuts its first `cut` connections:
    /// passes one request on, waits for the first byte of the answer, and closes the
    /// connection without passing the answer back. Later connections pass through.
    pub fn start(target: &str, cut: usize) -> Self {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (seen, gone) = (connections.clone(), closed.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let client = client.unwrap();
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let service = TcpStream::connect(&target).unwrap();
                if n < cut {
                    std::thread::spawn(move || cut_off(client, service));
                } else {
                    pass_through(client, service, gone.clone());
                }
            }
        });
        Self { port, connections, closed }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Passed-through connections the gateway has closed.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Passes the request on, waits for the first byte of the answer, drops the connection.
/// The request need not be parsed: an HTTP/1.1 client sends no second request before
/// the first one's answer.
fn cut_off(client: TcpStream, mut service: TcpStream) {
    pipe(client.try_clone().unwrap(), service.try_clone().unwrap(), None);
    service.read_exact(&mut [0u8; 1]).expect("the service answers");
    client.shutdown(Shutdown::Both).unwrap();
}

/// Copies bytes both ways until either side closes; counts the client's close in
/// `closed`.
fn pass_through(client: TcpStream, service: TcpStream, closed: Arc<AtomicUsize>) {
    pipe(client.try_clone().unwrap(), service.try_clone().unwrap(), Some(closed));
    pipe(service, client, None);
}

/// Copies bytes from `from` to `to` on a thread of its own until `from` closes, then
/// closes `to` for writing and counts that in `closed`.
fn pipe(mut from: TcpStream, mut to: TcpStream, closed: Option<Arc<AtomicUsize>>) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
        if let Some(closed) = closed {
            closed.fetch_add(1, Ordering::SeqCst);
        }
    });
}
