//! Certificates for the mutual TLS tests, made on the spot: an internal CA and what it
//! signs (a service's certificate for `localhost`, a caller's), a certificate that
//! expired, and one of another CA. Each identity is a private key and its certificate,
//! PEM, in one text, as `deploy/scripts/internal-tls.sh` makes them.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

/// A CA and its key.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a key");
        let cert = params.self_signed(&key).expect("a CA certificate");
        Self { cert, key }
    }

    /// The CA's certificate, PEM: what a service or a caller trusts.
    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A key and a certificate for `name` (its DNS name, and its common name) valid
    /// from 2000 to 4000, usable by a server and a client.
    pub fn identity(&self, name: &str) -> String {
        self.identity_valid(name, (2000, 1, 1), (4000, 1, 1))
    }

    /// The same, but it expired (valid in 2020 only).
    pub fn expired_identity(&self, name: &str) -> String {
        self.identity_valid(name, (2020, 1, 1), (2021, 1, 1))
    }

    /// Valid from the first day (year, month, day) to the second.
    fn identity_valid(&self, name: &str, from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
        let mut params = CertificateParams::new(vec![name.to_string()]).expect("a valid name");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("a signed certificate");
        format!("{}{}", key.serialize_pem(), cert.pem())
    }
}

/// A client that trusts only the CA certificates of the PEM bundle `ca` and presents
/// `identity` (a key and its certificate, PEM) if given: a caller of a service over
/// mutual TLS, as the gateway is. HTTP/1.1, as the gateway's calls.
pub fn client_builder(ca: &str, identity: Option<&str>) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder().use_rustls_tls().tls_built_in_root_certs(false).http1_only();
    for root in reqwest::Certificate::from_pem_bundle(ca.as_bytes()).expect("a PEM bundle") {
        builder = builder.add_root_certificate(root);
    }
    match identity {
        Some(identity) => {
            builder.identity(reqwest::Identity::from_pem(identity.as_bytes()).expect("a key and certificate"))
        }
        None => builder,
    }
}
