//! The PEM texts of the internal mutual TLS, read once for both sides: the CA bundle a
//! party trusts, and a party's own key with its certificate chain in one text (as
//! `deploy/scripts/internal-tls.sh` makes them). The services' server side
//! (`minitwit_kit::tls`) and the callers' side ([`crate::connections::ClientTls`]) both
//! read them here, with the same crypto provider. Errors say what is wrong, for the
//! caller to prefix with the setting's name.

use std::sync::Arc;

use rustls::{
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    RootCertStore,
};

/// ring: the provider reqwest's rustls already builds (named, since rustls refuses to
/// pick one when a dependency enables a second).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM bundle, as trust anchors; refused when there is none.
pub fn roots(pem: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| format!("is not a PEM certificate bundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("holds an unusable certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("holds no certificate".into());
    }
    Ok(roots)
}

/// The certificate chain and the private key of one PEM text.
pub fn identity(pem: &str) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    const WANTED: &str = "the key and the certificate chain, PEM, in one file";
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not PEM: {e}"))?;
    if chain.is_empty() {
        return Err(format!("holds no certificate ({WANTED})"));
    }
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| format!("holds no private key ({WANTED}): {e}"))?;
    Ok((chain, key))
}
