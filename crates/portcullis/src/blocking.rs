//! CPU-heavy work kept off the async workers: a deliberately slow password hash (PBKDF2)
//! takes milliseconds, RSA key generation much longer, and either one run on a runtime's
//! worker stalls every request queued behind it there (a flood of wrong client secrets slowed
//! `GET /jwks` a thousandfold: docs/BENCHMARKS.md). The [`BlockingPool`] runs such jobs on tokio's blocking threads,
//! at most its size at once.

use std::num::NonZeroUsize;
use std::sync::Arc;

use portcullis_core::ClientSecretHash;
use tokio::sync::Semaphore;

/// A bounded pool for CPU-heavy jobs: password and client-secret hashes (PBKDF2), RSA key
/// generation. At most its size of jobs run at once, each on tokio's blocking
/// threads (`spawn_blocking`); later callers wait their turn, first come first served.
///
/// Callers wait rather than being refused: each waiting caller is a request holding a
/// connection, which the server's connection limit and request timeout already bound (see
/// [`ServerLimits`](crate::ServerLimits)), and a caller that gives up (its request timed out,
/// its client left) leaves the queue without running its job. A job that has started runs to
/// its end and keeps its place until then, even when its caller has gone, so the bound holds.
///
/// Cheap to clone: clones share the bound. A [`Provider`](crate::Provider) checks client
/// secrets and generates keys on the pool given to
/// [`ProviderBuilder::blocking_pool`](crate::ProviderBuilder::blocking_pool); a host should
/// check its users' passwords on the same pool ([`BlockingPool::verify_secret`]), so that one
/// bound covers both.
#[derive(Debug, Clone)]
pub struct BlockingPool {
    permits: Arc<Semaphore>,
}

/// A job on the [`BlockingPool`] did not complete: it panicked, or the runtime is shutting
/// down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a job on the blocking pool did not complete")]
pub struct BlockingError;

impl BlockingPool {
    /// A pool running at most `size` jobs at once.
    pub fn new(size: NonZeroUsize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(size.get())),
        }
    }

    /// Runs `job` on a blocking thread once fewer than the pool's size of jobs run, and
    /// returns its result. Outside a tokio runtime there are no blocking threads to use: the
    /// job then runs on the calling thread.
    pub async fn run<T, F>(&self, job: F) -> Result<T, BlockingError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Ok(job());
        };
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| BlockingError)?;
        runtime
            .spawn_blocking(move || {
                let _running = permit;
                job()
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "a job on the blocking pool did not complete");
                BlockingError
            })
    }

    /// Whether `presented` is the secret `stored` hashes, compared in constant time. A
    /// stretched hash (PBKDF2: secrets and passwords people chose) is computed on the pool;
    /// the SHA-256 of a generated secret is cheap and computed at once. `false` when the check
    /// could not complete: a secret not checked is not accepted.
    pub async fn verify_secret(&self, stored: &ClientSecretHash, presented: &str) -> bool {
        if !stored.is_stretched() {
            return stored.verify(presented);
        }
        let (stored, presented) = (stored.clone(), presented.to_owned());
        self.run(move || stored.verify(&presented))
            .await
            .unwrap_or(false)
    }
}

impl Default for BlockingPool {
    /// As many jobs at once as the machine has cores
    /// ([`std::thread::available_parallelism`], 1 if unknown).
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }
}
