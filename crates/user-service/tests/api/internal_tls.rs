//! The certificates `deploy/scripts/internal-tls.sh` makes, used as the stack uses
//! them: a service serving with its certificate and the CA bundle, callers (the
//! gateway, Prometheus) presenting theirs. Then the runbook's rotation of the CA
//! (new-ca, issue, drop-old-ca, a deploy after each): during each roll, old and new
//! tasks still reach each other; after it, the old CA's certificates are refused.

use std::{path::Path, process::Command};

use minitwit_kit::testing::{Backend, TestDatabase};

use crate::helpers::{settings, start};

/// What one secrets version holds: the trust bundle and the parties' identities.
#[derive(Clone)]
struct Version {
    bundle: String,
    service: String,
    gateway: String,
    prometheus: String,
}

fn script(dir: &Path, command: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/scripts/internal-tls.sh");
    let out =
        Command::new("bash").arg(script).arg(command).arg("--dir").arg(dir).output().expect("bash runs");
    assert!(out.status.success(), "internal-tls.sh {command}: {}", String::from_utf8_lossy(&out.stderr));
}

fn version(dir: &Path) -> Version {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Version {
        bundle: read("ca.pem") + &read("old-ca.pem"),
        service: read("user-service.pem"),
        gateway: read("gateway.pem"),
        prometheus: read("prometheus.pem"),
    }
}

/// user-service serving as a task of `v` does: its port, and its database (kept alive).
fn serve(v: &Version) -> (u16, TestDatabase) {
    let db = TestDatabase::new(Backend::Sqlite);
    let mut s = settings(&db);
    s.http.tls.identity = Some(v.service.clone().into());
    s.http.tls.client_ca = Some(v.bundle.clone());
    let port = start(&s).address.rsplit(':').next().unwrap().parse().unwrap();
    (port, db)
}

/// Whether a caller of `v` presenting `identity` gets `/health` from the service on
/// `port`, called by its name as in the stack.
async fn reaches(v: &Version, identity: &str, port: u16) -> Result<(), String> {
    reaches_over(v, identity, port, reqwest::tls::Version::TLS_1_3).await
}

/// [`reaches`] speaking TLS `max` at most. A refused client certificate: in TLS 1.3 the
/// client sees the server's alert or only a closed connection; in TLS 1.2 always the
/// alert, which says why.
async fn reaches_over(
    v: &Version,
    identity: &str,
    port: u16,
    max: reqwest::tls::Version,
) -> Result<(), String> {
    let client = minitwit_kit::testing::pki::client_builder(&v.bundle, Some(identity))
        .max_tls_version(max)
        .resolve("user-service", ([127, 0, 0, 1], 0).into())
        .build()
        .unwrap();
    let res = client.get(format!("https://user-service:{port}/health")).send().await;
    match res {
        Ok(res) if res.status() == 200 => Ok(()),
        Ok(res) => Err(format!("status {}", res.status())),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripts_certificates_serve_and_the_ca_rotates_without_a_refused_call() {
    let dir = std::env::temp_dir().join(format!(
        "internal-tls-{}-{:?}",
        std::process::id(),
        std::time::Instant::now()
    ));
    script(&dir, "init");
    let first = version(&dir);
    let (port, _db) = serve(&first);
    reaches(&first, &first.gateway, port).await.expect("the gateway");
    reaches(&first, &first.prometheus, port).await.expect("Prometheus");
    // A service's certificate is for serving only: it cannot call another service.
    assert!(reaches(&first, &first.service, port).await.is_err(), "a service's certificate called");
    let refused = reaches_over(&first, &first.service, port, reqwest::tls::Version::TLS_1_2).await;
    assert!(refused.as_ref().is_err_and(|e| e.contains("UnsupportedCertificate")), "{refused:?}");

    script(&dir, "new-ca"); // deploy 2: both CAs trusted, the same certificates
    let second = version(&dir);
    script(&dir, "issue"); // deploy 3: certificates of the new CA
    let third = version(&dir);
    script(&dir, "drop-old-ca"); // deploy 4: the new CA only
    let fourth = version(&dir);

    let versions = [&first, &second, &third, &fourth];
    let servers: Vec<_> = versions.iter().map(|v| serve(v)).collect();
    // A roll from one version to the next has tasks of both: each calls each.
    for step in 0..3 {
        for (caller, callee) in [(step, step), (step, step + 1), (step + 1, step), (step + 1, step + 1)] {
            let (v, port) = (versions[caller], servers[callee].0);
            for (who, identity) in [("gateway", &v.gateway), ("prometheus", &v.prometheus)] {
                reaches(v, identity, port).await.unwrap_or_else(|e| {
                    panic!(
                        "during roll {}: a {who} of version {} refused by a service of version {}: {e}",
                        step + 2,
                        caller + 1,
                        callee + 1
                    )
                });
            }
        }
    }
    // Once the rotation is done, the old CA's certificates are refused.
    assert!(reaches(&fourth, &first.gateway, servers[3].0).await.is_err(), "an old certificate called");
    let old = reaches_over(&fourth, &first.gateway, servers[3].0, reqwest::tls::Version::TLS_1_2).await;
    assert!(old.as_ref().is_err_and(|e| e.contains("UnknownCA")), "{old:?}");
    let _ = std::fs::remove_dir_all(dir);
}
