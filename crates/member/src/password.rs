//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1), run on a
//! bounded blocking pool: at most one hash per CPU core but one runs at a time, so a sign-in flood
//! queues instead of starving the async workers and the other requests they serve.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::domain::NewPassword;

/// Hashing could not run.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The argon2 library refused (a bug or broken parameters).
    #[error("argon2 failed: {0}")]
    Argon2(String),
    /// The blocking task died or the pool was closed.
    #[error("password hashing task failed")]
    Task,
}

/// Hashes and verifies passwords; cheap to clone.
#[derive(Debug, Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy: Arc<OnceCell<String>>,
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    argon2()?
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

fn verify_blocking(password: &str, hash: &str) -> Result<bool, HashError> {
    let argon2 = argon2()?;
    match argon2.verify_password(password.as_bytes(), hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(HashError::Argon2(e.to_string())),
    }
}

impl Default for Passwords {
    /// One hash per core but one, so a sign-in flood always leaves a core to the other requests.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self::new(cores.saturating_sub(1).max(1))
    }
}

impl Passwords {
    /// A pool running at most `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Task)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| HashError::Task)?
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

#[cfg(test)]
mod tests {
    use super::*;

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
