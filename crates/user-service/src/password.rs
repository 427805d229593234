//! Password hashing: argon2id with a random salt, stored as a PHC string. The cost
//! parameters come from settings: strong in production, light in tests.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use minitwit_api::domain::Password;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Argon2Settings {
    /// Memory per hash in KiB (OWASP: 19456 with 2 iterations).
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self { memory_kib: 19_456, iterations: 2, parallelism: 1 }
    }
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
}

impl Hasher {
    pub fn new(settings: &Argon2Settings) -> anyhow::Result<Self> {
        let params = Params::new(settings.memory_kib, settings.iterations, settings.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 settings: {e}"))?;
        Ok(Self { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
    }

    /// Whether `password` matches `phc`. Verifies with the parameters stored in the
    /// hash, so hashes made under older settings keep working.
    pub fn verify(&self, password: &str, phc: &str) -> anyhow::Result<bool> {
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash is not PHC: {e}"))?;
        Ok(self.argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn light() -> Hasher {
        Hasher::new(&Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }).unwrap()
    }

    #[test]
    fn hashes_are_salted_argon2id_phc_strings_that_verify() {
        let h = light();
        let pw = Password::parse("correct horse").unwrap();
        let a = h.hash(&pw).unwrap();
        let b = h.hash(&pw).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(h.verify("correct horse", &a).unwrap());
        assert!(!h.verify("wrong horse", &a).unwrap());
    }

    #[test]
    fn hashes_made_with_other_parameters_still_verify() {
        let old = Hasher::new(&Argon2Settings { memory_kib: 128, iterations: 2, parallelism: 1 }).unwrap();
        let phc = old.hash(&Password::parse("pw").unwrap()).unwrap();
        assert!(light().verify("pw", &phc).unwrap());
    }

    #[test]
    fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        assert!(light().verify("pw", "not a hash").is_err());
    }

    #[test]
    fn nonsense_settings_are_refused() {
        assert!(Hasher::new(&Argon2Settings { memory_kib: 1, iterations: 0, parallelism: 1 }).is_err());
    }
}
