//! Password hashes imported from a legacy MiniTwit (`minitwit-admin import`), verified
//! as the legacy system did, until the first successful login replaces them with
//! argon2id. A user's `pw_scheme` column names the [`Scheme`]; NULL is argon2id.
//!
//! - Werkzeug's `generate_password_hash` (the course's Flask application):
//!   `pbkdf2:<sha1|sha256|sha512>:<iterations>$<salt>$<hex>` (PBKDF2-HMAC of the
//!   password with the salt's UTF-8 bytes), `scrypt:<n>:<r>:<p>$<salt>$<hex>` (64
//!   bytes), and before Werkzeug 2.3 `sha1$<salt>$<hex>` / `md5$<salt>$<hex>`, an HMAC
//!   keyed with the salt;
//! - an unsalted hex digest of the password, MD5 (32 digits) or SHA-256 (64), as some
//!   teams stored it.
//!
//! Every comparison is constant-time. A stored value that does not parse matches no
//! password: the account cannot log in, it is not a server error.

use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// How a legacy hash is verified; stored in `users.pw_scheme` by its [`Scheme::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `pbkdf2:<digest>:<iterations>$salt$hex`.
    WerkzeugPbkdf2,
    /// `scrypt:<n>:<r>:<p>$salt$hex`.
    WerkzeugScrypt,
    /// `sha1$salt$hex` or `md5$salt$hex`: HMAC keyed with the salt.
    WerkzeugSaltedHmac,
    /// 32 hex digits: MD5 of the password.
    HexMd5,
    /// 64 hex digits: SHA-256 of the password.
    HexSha256,
    /// A legacy value that is no hash this module knows (or none at all): kept as it
    /// was, it matches no password; the account needs a password reset.
    Disabled,
}

/// Iterations above this are refused: a stored value must not make one login burn
/// minutes of CPU.
const PBKDF2_MAX_ITERATIONS: u32 = 10_000_000;
/// scrypt's memory is 128 * n * r bytes: at most 256 MiB, as Werkzeug's own `maxmem`
/// for its default is 132 * 32768 * 8 bytes (33 MiB).
const SCRYPT_MAX_MEMORY: u64 = 256 << 20;

impl Scheme {
    pub const ALL: [Scheme; 6] = [
        Scheme::WerkzeugPbkdf2,
        Scheme::WerkzeugScrypt,
        Scheme::WerkzeugSaltedHmac,
        Scheme::HexMd5,
        Scheme::HexSha256,
        Scheme::Disabled,
    ];

    /// The value of `users.pw_scheme`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::WerkzeugPbkdf2 => "werkzeug-pbkdf2",
            Scheme::WerkzeugScrypt => "werkzeug-scrypt",
            Scheme::WerkzeugSaltedHmac => "werkzeug-salted",
            Scheme::HexMd5 => "hex-md5",
            Scheme::HexSha256 => "hex-sha256",
            Scheme::Disabled => "disabled",
        }
    }

    pub fn from_name(name: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The scheme of a legacy `pw_hash`, if it is one this module verifies (with
    /// parameters it accepts).
    pub fn detect(stored: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|s| parse(*s, stored).is_some())
    }

    /// Whether `password` matches `stored`, a hash of this scheme. A value that does not
    /// parse matches nothing.
    pub fn verify(self, password: &str, stored: &str) -> bool {
        match parse(self, stored) {
            Some(parsed) => parsed.verify(password.as_bytes()),
            None => false,
        }
    }
}

enum Digest_ {
    Sha1,
    Sha256,
    Sha512,
    Md5,
}

/// A parsed legacy hash: what to compute, and the expected bytes.
enum Parsed<'a> {
    Pbkdf2 { digest: Digest_, iterations: u32, salt: &'a str, expected: Vec<u8> },
    Scrypt { params: scrypt::Params, salt: &'a str, expected: Vec<u8> },
    Hmac { digest: Digest_, salt: &'a str, expected: Vec<u8> },
    Plain { digest: Digest_, expected: Vec<u8> },
}

fn hex_of_len(s: &str, bytes: usize) -> Option<Vec<u8>> {
    (s.len() == bytes * 2).then(|| hex::decode(s).ok()).flatten()
}

fn parse(scheme: Scheme, stored: &str) -> Option<Parsed<'_>> {
    // Werkzeug: method$salt$hex; the salt never holds a '$' (it is alphanumeric).
    let werkzeug = || {
        let (method, rest) = stored.split_once('$')?;
        let (salt, hex) = rest.split_once('$')?;
        (!salt.is_empty()).then_some((method, salt, hex))
    };
    match scheme {
        Scheme::WerkzeugPbkdf2 => {
            let (method, salt, hex) = werkzeug()?;
            let mut parts = method.split(':');
            let (Some("pbkdf2"), Some(digest), Some(iterations), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            let (digest, len) = match digest {
                "sha1" => (Digest_::Sha1, 20),
                "sha256" => (Digest_::Sha256, 32),
                "sha512" => (Digest_::Sha512, 64),
                _ => return None,
            };
            let iterations: u32 = iterations.parse().ok()?;
            if iterations == 0 || iterations > PBKDF2_MAX_ITERATIONS {
                return None;
            }
            Some(Parsed::Pbkdf2 { digest, iterations, salt, expected: hex_of_len(hex, len)? })
        }
        Scheme::WerkzeugScrypt => {
            let (method, salt, hex) = werkzeug()?;
            let mut parts = method.split(':');
            let (Some("scrypt"), Some(n), Some(r), Some(p), None) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            let (n, r, p): (u64, u32, u32) = (n.parse().ok()?, r.parse().ok()?, p.parse().ok()?);
            if !n.is_power_of_two() || n < 2 || 128 * n * u64::from(r) > SCRYPT_MAX_MEMORY {
                return None;
            }
            let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 64).ok()?;
            Some(Parsed::Scrypt { params, salt, expected: hex_of_len(hex, 64)? })
        }
        Scheme::WerkzeugSaltedHmac => {
            let (method, salt, hex) = werkzeug()?;
            match method {
                "sha1" => Some(Parsed::Hmac { digest: Digest_::Sha1, salt, expected: hex_of_len(hex, 20)? }),
                "md5" => Some(Parsed::Hmac { digest: Digest_::Md5, salt, expected: hex_of_len(hex, 16)? }),
                _ => None,
            }
        }
        Scheme::HexMd5 => Some(Parsed::Plain { digest: Digest_::Md5, expected: hex_of_len(stored, 16)? }),
        Scheme::HexSha256 => {
            Some(Parsed::Plain { digest: Digest_::Sha256, expected: hex_of_len(stored, 32)? })
        }
        Scheme::Disabled => None,
    }
}

/// Equal lengths and bytes, in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl Parsed<'_> {
    fn verify(&self, password: &[u8]) -> bool {
        let computed = match self {
            Parsed::Pbkdf2 { digest, iterations, salt, expected } => {
                let mut out = vec![0u8; expected.len()];
                let (salt, n) = (salt.as_bytes(), *iterations);
                match digest {
                    Digest_::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, n, &mut out),
                    Digest_::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, n, &mut out),
                    Digest_::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, n, &mut out),
                    Digest_::Md5 => return false,
                }
                out
            }
            Parsed::Scrypt { params, salt, expected } => {
                let mut out = vec![0u8; expected.len()];
                if scrypt::scrypt(password, salt.as_bytes(), params, &mut out).is_err() {
                    return false;
                }
                out
            }
            Parsed::Hmac { digest, salt, .. } => match digest {
                Digest_::Sha1 => hmac::<Hmac<Sha1>>(salt.as_bytes(), password),
                Digest_::Md5 => hmac::<Hmac<Md5>>(salt.as_bytes(), password),
                _ => return false,
            },
            Parsed::Plain { digest, .. } => match digest {
                Digest_::Md5 => Md5::digest(password).to_vec(),
                Digest_::Sha256 => Sha256::digest(password).to_vec(),
                _ => return false,
            },
        };
        let expected = match self {
            Parsed::Pbkdf2 { expected, .. }
            | Parsed::Scrypt { expected, .. }
            | Parsed::Hmac { expected, .. }
            | Parsed::Plain { expected, .. } => expected,
        };
        constant_time_eq(&computed, expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Werkzeug and hashlib: tests/fixtures/make_legacy_hashes.sh.
    const FIXTURES: &str = include_str!("../tests/fixtures/legacy_hashes.json");

    fn fixtures() -> Vec<(String, String, String)> {
        let all: Vec<serde_json::Value> = serde_json::from_str(FIXTURES).unwrap();
        all.iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap().to_string();
                (s("method"), s("password"), s("hash"))
            })
            .collect()
    }

    #[test]
    fn every_werkzeug_and_hex_fixture_verifies_with_its_password_only() {
        let fixtures = fixtures();
        assert_eq!(fixtures.len(), 10);
        for (method, password, hash) in fixtures {
            let scheme = Scheme::detect(&hash).unwrap_or_else(|| panic!("{method}: {hash} not detected"));
            assert!(scheme.verify(&password, &hash), "{method}: {hash}");
            assert!(!scheme.verify(&format!("{password}x"), &hash), "{method}");
            assert!(!scheme.verify("", &hash), "{method}");
            assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
        }
    }

    #[test]
    fn each_format_is_detected_as_its_scheme() {
        let scheme_of = |method: &str| {
            let (_, _, hash) = fixtures().into_iter().find(|(m, _, _)| m == method).unwrap();
            Scheme::detect(&hash)
        };
        assert_eq!(scheme_of("pbkdf2:sha256:1000"), Some(Scheme::WerkzeugPbkdf2));
        assert_eq!(scheme_of("scrypt:1024:8:1"), Some(Scheme::WerkzeugScrypt));
        assert_eq!(scheme_of("sha1"), Some(Scheme::WerkzeugSaltedHmac));
        assert_eq!(scheme_of("md5"), Some(Scheme::WerkzeugSaltedHmac));
        assert_eq!(scheme_of("hex-md5"), Some(Scheme::HexMd5));
        assert_eq!(scheme_of("hex-sha256"), Some(Scheme::HexSha256));
    }

    #[test]
    fn values_that_are_no_known_hash_are_not_detected_and_match_nothing() {
        for stored in [
            "",
            "secret",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "pbkdf2:sha256:0$salt$00",
            "pbkdf2:sha256:99999999999$salt$00",
            "pbkdf2:whirlpool:1000$salt$00",
            "pbkdf2:sha256:1000$$8edb6f1136ed2f105ca11d9e6b3b7522c3faa04af943f5838ab0f6f775cd363a",
            "scrypt:1000:8:1$salt$00",
            "scrypt:1073741824:8:1$salt$00",
            "sha1$salt$nothex",
            "plain$salt$abc",
            "63027ba5c5f152debe1a5847db0a9d5",
            "zz027ba5c5f152debe1a5847db0a9d59",
        ] {
            assert_eq!(Scheme::detect(stored), None, "{stored}");
            for scheme in Scheme::ALL {
                assert!(!scheme.verify("secret", stored));
            }
        }
        assert_eq!(Scheme::from_name("argon2id"), None);
    }
}
