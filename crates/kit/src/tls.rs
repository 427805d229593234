//! A service's internal API over mutual TLS: it proves who it is with a certificate
//! of the internal CA, and serves only callers (the gateway, Prometheus) whose own
//! certificate that CA signed. Without it, everything the gateway sends a service
//! crosses the network in clear, the passwords users type and the service token
//! included, and a captured call can be replayed.
//!
//! Off unless configured: `make run` and the tests serve plain HTTP on loopback. In the
//! stack the identity and the CA come from Docker secrets (`HTTP__TLS__IDENTITY_FILE`,
//! `HTTP__TLS__CLIENT_CA_FILE`), made by `deploy/scripts/internal-tls.sh`.

use std::sync::Arc;

use minitwit_api::pem;
use rustls::{server::WebPkiClientVerifier, ServerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::secret::expose_optional;

/// How a service serves its internal API over TLS (`<PREFIX>_HTTP__TLS__*`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerTlsSettings {
    /// This service's private key and certificate chain, PEM, in one text
    /// (`HTTP__TLS__IDENTITY_FILE=/run/secrets/...`). With `client_ca`, the port serves
    /// TLS only and asks every caller for a certificate.
    #[serde(serialize_with = "expose_optional")]
    pub identity: Option<SecretString>,
    /// The CA certificates (PEM) whose certificates callers must present. Two during a
    /// rotation of the internal CA (deploy/README.md): the old one and the new one.
    pub client_ca: Option<String>,
    /// With TLS on, a port on 127.0.0.1 that serves plain HTTP too, for the
    /// container's health check, which cannot be reached from the network. 0: none.
    pub loopback_port: u16,
}

impl ServerTlsSettings {
    /// The rustls configuration these settings describe, or `None` when TLS is off.
    /// Refused when only one of the identity and the CA is set, when a PEM holds no
    /// usable key or certificate, and when `loopback_port` is set without TLS; `prefix`
    /// names the service's settings in the error (empty: the settings without it).
    pub fn server_config(&self, prefix: &str) -> anyhow::Result<Option<Arc<ServerConfig>>> {
        let var = |key: &str| match prefix {
            "" => format!("HTTP__TLS__{key}"),
            prefix => format!("{prefix}_HTTP__TLS__{key}"),
        };
        let (identity, ca) = match (&self.identity, &self.client_ca) {
            (None, None) => {
                if self.loopback_port != 0 {
                    anyhow::bail!(
                        "{} is set but TLS is off: the port already serves plain HTTP",
                        var("LOOPBACK_PORT")
                    );
                }
                return Ok(None);
            }
            (Some(identity), Some(ca)) => (identity.expose_secret(), ca.as_str()),
            (Some(_), None) => anyhow::bail!(
                "{} is set without {}: TLS here means mutual TLS, so the CA of the callers' \
                 certificates is needed too",
                var("IDENTITY"),
                var("CLIENT_CA")
            ),
            (None, Some(_)) => anyhow::bail!(
                "{} is set without {}: the service needs its own key and certificate",
                var("CLIENT_CA"),
                var("IDENTITY")
            ),
        };
        let provider = pem::provider();
        let roots = pem::roots(ca).map_err(|e| anyhow::anyhow!("{}: {e}", var("CLIENT_CA")))?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| anyhow::anyhow!("{}: {e}", var("CLIENT_CA")))?;
        let (chain, key) =
            pem::identity(identity).map_err(|e| anyhow::anyhow!("{}: {e}", var("IDENTITY")))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| anyhow::anyhow!("{}: {e}", var("IDENTITY")))?;
        // Resumption: a caller's new connection (a renewed pool, a hedged call) resumes a
        // session from a ticket instead of sending and checking certificates again.
        config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        config.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
        Ok(Some(Arc::new(config)))
    }
}
