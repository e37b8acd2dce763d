//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1), run on a
//! fixed set of threads: one per CPU core but one, so a sign-in flood queues instead of starving
//! the async workers and the other requests they serve.
//!
//! Each thread keeps its 19 MiB of argon2 memory and reuses it for every hash. Letting argon2
//! allocate it per hash made member's RSS grow to 217–306 MiB (against a 256 MiB pod limit): the
//! block is 64-byte aligned, and glibc, once it has raised its mmap threshold past the first freed
//! block, serves each aligned request from the heap with a little more than the hole the last one
//! left, so the heap grows instead of reusing it. Reuse is also why the threads are fixed: tokio's
//! blocking pool would spread hashes over many short-lived threads, each keeping a block. Now the
//! process stays at its idle size plus one block per hashing thread.

use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OnceCell, oneshot};

use crate::domain::NewPassword;

/// Hashing could not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The argon2 library refused (a bug or broken parameters).
    #[error("argon2 failed: {0}")]
    Argon2(String),
    /// The hashing thread panicked or is gone.
    #[error("password hashing task failed")]
    Task,
}

/// Work for a hashing thread.
type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords; cheap to clone. Its threads end when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Passwords {
    jobs: mpsc::Sender<Job>,
    dummy: Arc<OnceCell<String>>,
}

fn failed(error: impl std::fmt::Display) -> HashError {
    HashError::Argon2(error.to_string())
}

/// OWASP's argon2id parameters (m = 19 MiB, t = 2, p = 1), 32-byte output.
fn params() -> Result<Params, HashError> {
    Params::new(19 * 1024, 2, 1, Some(32)).map_err(failed)
}

thread_local! {
    /// This hashing thread's argon2 memory, kept from hash to hash (see the module documentation).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 into `out` on this thread's memory, grown to what `argon2`'s parameters need and
/// cleared afterwards so no password-derived state stays behind.
fn hash_into(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    MEMORY.with_borrow_mut(|memory| {
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        let hashed =
            argon2.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks]);
        memory[..blocks].fill(Block::new());
        hashed.map_err(failed)
    })
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let params = params()?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| HashError::Argon2(format!("no random salt: {e}")))?;
    let mut out = [0_u8; 32];
    hash_into(&argon2, &params, password.as_bytes(), &salt, &mut out)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(Salt::new(&salt).map_err(failed)?),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` gives `hash` (a PHC string) again, with the parameters stored in it.
fn verify_blocking(password: &str, hash: &str) -> Result<bool, HashError> {
    let stored = PasswordHash::new(hash).map_err(failed)?;
    let algorithm = Algorithm::try_from(stored.algorithm.as_str()).map_err(failed)?;
    let version = match stored.version {
        Some(v) => Version::try_from(v).map_err(failed)?,
        None => Version::default(),
    };
    let params = Params::try_from(&stored).map_err(failed)?;
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else {
        return Err(HashError::Argon2(
            "stored hash without salt or output".into(),
        ));
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0_u8; expected.len()];
    hash_into(
        &argon2,
        &params,
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
    )?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).map_err(failed)? == *expected)
}

impl Default for Passwords {
    /// One hash per core but one, so a sign-in flood always leaves a core to the other requests.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores.saturating_sub(1).max(1))
    }
}

impl Passwords {
    /// `concurrency` hashing threads (at least one). A thread that cannot be started is left
    /// out; with none at all, every hash fails with [`HashError::Task`].
    pub fn new(concurrency: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = Arc::clone(&queue);
            let started = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || work_through(&queue));
            if let Err(e) = started {
                tracing::error!(error = %e, "password hashing thread not started");
            }
        }
        Self {
            jobs,
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(work());
        });
        self.jobs.send(job).map_err(|_| HashError::Task)?;
        answered.await.map_err(|_| HashError::Task)?
    }

    /// The PHC string of a new password.
    pub async fn hash(&self, password: &NewPassword) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `hash`; with no hash (unknown account) a dummy hash is checked
    /// instead, so both cases take the same time and give the same answer.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, HashError> {
        let (hash, known) = match hash {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        let matches = self.run(move || verify_blocking(&password, &hash)).await?;
        Ok(known && matches)
    }

    async fn dummy_hash(&self) -> Result<String, HashError> {
        self.dummy
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                self.run(move || hash_blocking(&random)).await
            })
            .await
            .cloned()
    }
}

/// A hashing thread's loop: jobs until every sender is gone. A panicking job loses its answer
/// (its caller gets [`HashError::Task`]), not the thread.
fn work_through(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .recv();
        let Ok(job) = next else { return };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a password hashing job panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library's own hashing and checking, as stored hashes were made before memory reuse.
    fn library() -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap())
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_library_itself_still_verify() {
        use argon2::password_hash::PasswordHasher as _;
        let stored = library()
            .hash_password(b"a long secret")
            .unwrap()
            .to_string();
        let passwords = Passwords::new(1);
        assert!(
            passwords
                .verify("a long secret", Some(&stored))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("a long secreT", Some(&stored))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn our_hashes_verify_with_the_argon2_library_itself() {
        use argon2::password_hash::PasswordVerifier as _;
        let password = NewPassword::parse("a long secret").unwrap();
        let hash = Passwords::new(1).hash(&password).await.unwrap();
        assert!(
            library()
                .verify_password(b"a long secret", hash.as_str())
                .is_ok()
        );
    }

    #[tokio::test]
    async fn hashes_run_on_no_more_threads_than_the_concurrency() {
        let passwords = Passwords::new(2);
        let runs = (0..8).map(|_| {
            passwords.run(|| {
                std::thread::sleep(std::time::Duration::from_millis(5));
                Ok(std::thread::current().id())
            })
        });
        let threads: std::collections::HashSet<_> = futures::future::join_all(runs)
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(threads.len() <= 2, "{} threads", threads.len());
    }

    #[tokio::test]
    async fn a_job_that_panics_fails_alone_and_the_thread_goes_on() {
        let passwords = Passwords::new(1);
        let panicked = passwords.run(|| -> Result<(), HashError> { panic!("boom") });
        assert!(matches!(panicked.await, Err(HashError::Task)));
        assert!(passwords.verify("anything at all", None).await.is_ok());
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_another_does_not() {
        let passwords = Passwords::new(1);
        let hash = passwords
            .hash(&NewPassword::parse("a long secret").unwrap())
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            passwords
                .verify("a long secret", Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("a long secreT", Some(&hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let passwords = Passwords::new(1);
        assert!(!passwords.verify("anything at all", None).await.unwrap());
    }
}
