//! Password hashing: argon2id with a random salt, stored as a PHC string. The cost
//! parameters come from settings: strong in production, light in tests.
//!
//! A hash takes a core and `memory_kib` of working memory (19 MiB by default) for tens
//! of milliseconds. Three things keep that bounded (found by `make bench`, BENCHMARKS.md):
//! - at most one hash per core runs at once ([`Hasher::hash_blocking`],
//!   [`Hasher::verify_blocking`]); the others wait, holding no memory. Unbounded, a
//!   burst of registrations ran hundreds of hashes at once and every request timed out.
//!   (One per two cores, as before, left a core idle during a burst of registrations
//!   on a 2-core machine, and 32 at once took over the gateway's budget.);
//! - at most [`QUEUED_PER_SLOT`] hashes per slot wait; one more is refused at once
//!   ([`Busy`], answered `503 overloaded` with `Retry-After`), rather than waiting past
//!   any caller's time-out;
//! - each running hash reuses a working memory kept from the previous one instead of
//!   allocating 19 MiB anew: with fresh allocations, glibc's arenas fragmented and the
//!   process grew by about 19 MiB per registration, to gigabytes.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use argon2::{
    password_hash::{self, rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use minitwit_api::domain::Password;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::legacy::Scheme;

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

/// Hashes allowed to wait per slot: at ~20 ms a hash, 32 per slot wait at most about
/// 0.7 s, within the gateway's budget for the calls that hash (`hash_timeout_ms`).
pub const QUEUED_PER_SLOT: usize = 32;

/// Every slot is busy and the queue in front of them is full: try again shortly.
#[derive(Debug, thiserror::Error)]
#[error("{queued} password hashes are already waiting for {slots} slot(s)")]
pub struct Busy {
    pub queued: usize,
    pub slots: usize,
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// One slot per hash allowed to run at once.
    slots: Arc<Semaphore>,
    slot_count: usize,
    /// Hashes waiting for a slot or running; at most `slot_count * (1 + QUEUED_PER_SLOT)`.
    admitted: Arc<AtomicUsize>,
    /// The working memories of the slots not hashing right now.
    memories: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Hasher {
    /// A hasher that runs at most one hash per core (as the process may use them: a
    /// CPU limit counts) at once.
    pub fn new(settings: &Argon2Settings) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_slots(settings, cores)
    }

    fn with_slots(settings: &Argon2Settings, slots: usize) -> anyhow::Result<Self> {
        let params = Params::new(settings.memory_kib, settings.iterations, settings.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 settings: {e}"))?;
        let slots = slots.max(1);
        Ok(Self {
            params,
            slots: Arc::new(Semaphore::new(slots)),
            slot_count: slots,
            admitted: Arc::new(AtomicUsize::new(0)),
            memories: Arc::new(Mutex::new(Vec::new())),
        })
    }

    /// The raw argon2 output of `password` and `salt` into `out`, in a reused working
    /// memory. Only memories sized for the configured parameters are kept.
    fn compute(
        &self,
        algorithm: Algorithm,
        version: Version,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let mut memory = self.memories.lock().expect("argon2 memories").pop().unwrap_or_default();
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::default());
        }
        let done = Argon2::new(algorithm, version, params.clone()).hash_password_into_with_memory(
            password,
            salt,
            out,
            &mut memory,
        );
        if memory.len() == self.params.block_count() {
            self.memories.lock().expect("argon2 memories").push(memory);
        }
        done
    }

    /// The PHC string of `password` with a fresh random salt.
    pub fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let fail = |e: password_hash::Error| anyhow::anyhow!("hashing failed: {e}");
        let salt = SaltString::generate(&mut OsRng);
        let mut buf = [0u8; 64];
        let raw_salt = salt.as_salt().decode_b64(&mut buf).map_err(fail)?;
        let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
        let len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let hash = Output::init_with(len, |out| {
            Ok(self.compute(algorithm, version, &self.params, password.expose().as_bytes(), raw_salt, out)?)
        })
        .map_err(fail)?;
        let phc = PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&self.params).map_err(fail)?,
            salt: Some(salt.as_salt()),
            hash: Some(hash),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches `phc`. Verifies with the parameters stored in the
    /// hash, so hashes made under older settings keep working.
    pub fn verify(&self, password: &str, phc: &str) -> anyhow::Result<bool> {
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash is not PHC: {e}"))?;
        // As argon2's own `verify_password`: a hash it cannot check matches nothing.
        Ok(self.matches(password.as_bytes(), &parsed).unwrap_or(false))
    }

    fn matches(&self, password: &[u8], phc: &PasswordHash<'_>) -> password_hash::Result<bool> {
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(phc.algorithm)?;
        let version = phc.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let params = Params::try_from(phc)?;
        let mut buf = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut buf)?;
        let computed = Output::init_with(expected.len(), |out| {
            Ok(self.compute(algorithm, version, &params, password, raw_salt, out)?)
        })?;
        // `Output`'s equality is constant-time.
        Ok(&computed == expected)
    }

    /// [`Hasher::hash`] on the blocking thread pool, once a slot is free.
    pub async fn hash_blocking(&self, password: Password) -> anyhow::Result<String> {
        self.in_slot(move |h| h.hash(&password)).await?
    }

    /// [`Hasher::verify`] on the blocking thread pool, once a slot is free.
    pub async fn verify_blocking(&self, password: Password, phc: String) -> anyhow::Result<bool> {
        self.in_slot(move |h| h.verify(password.expose(), &phc)).await?
    }

    /// Whether `password` matches the legacy hash `stored` of `scheme` (see
    /// [`crate::legacy`]), on the blocking thread pool once a slot is free: PBKDF2 and
    /// scrypt cost as much as an argon2 hash.
    pub async fn verify_legacy_blocking(
        &self,
        scheme: Scheme,
        password: Password,
        stored: String,
    ) -> anyhow::Result<bool> {
        self.in_slot(move |_| scheme.verify(password.expose(), &stored)).await
    }

    /// Runs `work` on the blocking thread pool once a slot is free. Waiting is
    /// cancellable (a dropped request never starts its hash); the slot then belongs to
    /// the blocking task until `work` returns, even if the request is dropped meanwhile.
    async fn in_slot<T, F>(&self, work: F) -> anyhow::Result<T>
    where
        F: FnOnce(&Hasher) -> T + Send + 'static,
        T: Send + 'static,
    {
        let limit = self.slot_count * (1 + QUEUED_PER_SLOT);
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy { queued: limit - self.slot_count, slots: self.slot_count }.into());
        }
        // Counted until the hash is done, or until the waiting request is dropped.
        let admitted = Admitted(self.admitted.clone());
        let slot = self.slots.clone().acquire_owned().await?;
        let hasher = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let _admitted = admitted;
            work(&hasher)
        })
        .await?;
        Ok(done)
    }
}

/// One admitted hash, given back when dropped.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
    fn hashes_agree_with_the_argon2_crates_own() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let h = light();
        let ours = h.hash(&Password::parse("pw").unwrap()).unwrap();
        let crate_hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, h.params.clone());
        assert!(crate_hasher.verify_password(b"pw", &PasswordHash::new(&ours).unwrap()).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = crate_hasher.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(h.verify("pw", &theirs).unwrap());
        assert!(!h.verify("pw!", &theirs).unwrap());
        // Several hashes in a row reuse one working memory and stay right.
        for pw in ["a", "bb", "ccc"] {
            let phc = h.hash(&Password::parse(pw).unwrap()).unwrap();
            assert!(h.verify(pw, &phc).unwrap());
        }
        assert_eq!(h.memories.lock().unwrap().len(), 1);
        // A hash without salt or output, or of another algorithm family, matches nothing.
        assert!(!h.verify("pw", "$argon2id$v=19$m=64,t=1,p=1").unwrap());
    }

    #[test]
    fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        assert!(light().verify("pw", "not a hash").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_frees_as_hashes_finish() {
        let settings = Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 };
        let h = Hasher::with_slots(&settings, 1).unwrap();
        let gate = Arc::new(std::sync::Barrier::new(2));
        // One hash running (held at the barrier), QUEUED_PER_SLOT waiting.
        let running = {
            let (h, gate) = (h.clone(), gate.clone());
            tokio::spawn(async move { h.in_slot(move |_| gate.wait()).await.unwrap() })
        };
        while h.admitted.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (0..QUEUED_PER_SLOT)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.in_slot(|_| ()).await.unwrap() })
            })
            .collect();
        while h.admitted.load(Ordering::SeqCst) < 1 + QUEUED_PER_SLOT {
            tokio::task::yield_now().await;
        }
        let refused = h.in_slot(|_| ()).await.unwrap_err();
        let busy = refused.downcast_ref::<Busy>().expect("Busy");
        assert_eq!((busy.queued, busy.slots), (QUEUED_PER_SLOT, 1));
        // Once the running hash is done, the queue drains and admits again.
        gate.wait();
        running.await.unwrap();
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(h.admitted.load(Ordering::SeqCst), 0);
        h.in_slot(|_| ()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_one_hash_per_slot_runs_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let settings = Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 };
        let h = Hasher::with_slots(&settings, 2).unwrap();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (h, running, most) = (h.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    h.in_slot(move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                    .unwrap()
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
        let phc = h.hash_blocking(Password::parse("pw").unwrap()).await.unwrap();
        let password = |raw| Password::parse(raw).unwrap();
        assert!(h.verify_blocking(password("pw"), phc.clone()).await.unwrap());
        assert!(!h.verify_blocking(password("nope"), phc).await.unwrap());
    }

    #[test]
    fn nonsense_settings_are_refused() {
        assert!(Hasher::new(&Argon2Settings { memory_kib: 1, iterations: 0, parallelism: 1 }).is_err());
    }
}
