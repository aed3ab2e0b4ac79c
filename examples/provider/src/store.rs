//! Where the provider keeps its clients, codes, tokens, grants, signing keys and sessions: `--store
//! memory` (the default), `--store sqlite:PATH` or `--store postgres:URL`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis::store::{FullStore, SessionStore, StoreError};
use portcullis::Stores;
use portcullis_store_memory::MemoryStore;
use portcullis_store_postgres::{redact_connection_string, PostgresConfig, PostgresStore};
use portcullis_store_sqlite::SqliteStore;
use serde::{Deserialize, Deserializer};

use crate::app::StartError;

/// Which store the provider runs on: the `--store` flag, or `store` in the configuration
/// file (the flag wins).
#[derive(Clone, Default, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: in the process only. Nothing survives a restart; nothing is written to disk.
    /// For demos and tests.
    #[default]
    Memory,
    /// `sqlite:PATH`: one SQLite database file, created (and migrated) on start, and the
    /// provider's secrets in `PATH.secrets` beside it. Survives restarts; one node.
    Sqlite(PathBuf),
    /// `postgres:URL`: one PostgreSQL database (`postgres://user:password@host:port/dbname`,
    /// or the `key=value` form), migrated on connect, shared by every node of one issuer.
    /// The nodes must share the issuer (`--issuer`) and the secrets, so the configuration
    /// must set `[secrets] interaction_key`, `[secrets] subject_salt` and `[session] key`.
    Postgres(String),
}

/// `--store` is neither `memory`, `sqlite:PATH` nor `postgres:URL` (with a valid URL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `memory`, `sqlite:PATH` or `postgres:URL`")]
pub struct StoreSpecError;

impl FromStr for StoreSpec {
    type Err = StoreSpecError;

    fn from_str(value: &str) -> Result<Self, StoreSpecError> {
        match value.split_once(':') {
            None if value == "memory" => Ok(Self::Memory),
            Some(("sqlite", path)) if !path.is_empty() => Ok(Self::Sqlite(PathBuf::from(path))),
            // Checked now, so that a malformed URL is refused before anything starts.
            Some(("postgres", url)) if !url.is_empty() && PostgresConfig::from_url(url).is_ok() => {
                Ok(Self::Postgres(url.to_owned()))
            }
            _ => Err(StoreSpecError),
        }
    }
}

impl fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => write!(f, "postgres:{}", redact_connection_string(url)),
        }
    }
}

/// Like `Display`: a postgres URL's password is never shown.
impl fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&redact_connection_string(url))
                .finish(),
        }
    }
}

impl<'de> Deserialize<'de> for StoreSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl StoreSpec {
    /// Where the provider's secrets are kept for a store that outlives the process:
    /// `PATH.secrets` beside an SQLite database; `None` for memory and for postgres (whose
    /// nodes share the secrets of the configuration file).
    pub fn secrets_path(&self) -> Option<PathBuf> {
        match self {
            Self::Memory | Self::Postgres(_) => None,
            Self::Sqlite(path) => {
                let mut name = path.file_name()?.to_owned();
                name.push(".secrets");
                Some(path.with_file_name(name))
            }
        }
    }

    /// Whether several provider processes may share the store, and so must share the
    /// secrets and the issuer.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Opens the store (creating and migrating an SQLite database; connecting to and
    /// migrating a PostgreSQL one with `postgres`'s options): the provider's stores, and
    /// the one keeping sessions.
    pub(crate) async fn open(
        &self,
        postgres: &PostgresOptions,
    ) -> Result<(Stores, Arc<dyn SessionStore>), StartError> {
        match self {
            Self::Memory => Ok(both(Arc::new(MemoryStore::new()))),
            Self::Sqlite(path) => {
                let file = path.clone();
                let opened = tokio::task::spawn_blocking(move || SqliteStore::open(&file))
                    .await
                    .map_err(|e| StoreError::with_source("the opening task failed", e))
                    .and_then(|r| r);
                let store = opened.map_err(|source| StartError::Store {
                    path: path.clone(),
                    source,
                })?;
                Ok(both(Arc::new(store)))
            }
            Self::Postgres(url) => {
                let connected = match PostgresConfig::from_url(url) {
                    Ok(config) => PostgresStore::connect_with(postgres.apply(config)).await,
                    Err(e) => Err(e),
                };
                let store = connected.map_err(|source| StartError::Postgres {
                    url: redact_connection_string(url),
                    source,
                })?;
                Ok(both(Arc::new(store)))
            }
        }
    }
}

/// The PostgreSQL store's options of the configuration (`[postgres]`): `None` keeps the
/// store's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PostgresOptions {
    pub(crate) max_connections: Option<usize>,
    pub(crate) shared_connections: Option<usize>,
    pub(crate) wait_timeout: Option<Duration>,
    pub(crate) operation_timeout: Option<Duration>,
}

impl PostgresOptions {
    /// `config` with these options set.
    pub(crate) fn apply(self, mut config: PostgresConfig) -> PostgresConfig {
        if let Some(n) = self.max_connections {
            config = config.max_connections(n);
        }
        if let Some(n) = self.shared_connections {
            config = config.shared_connections(n);
        }
        if let Some(t) = self.wait_timeout {
            config = config.wait_timeout(t);
        }
        if let Some(t) = self.operation_timeout {
            config = config.operation_timeout(t);
        }
        config
    }
}

/// One store as the provider's stores and the session store.
fn both<S>(store: Arc<S>) -> (Stores, Arc<dyn SessionStore>)
where
    S: FullStore,
{
    (Stores::shared(store.clone()), store)
}

/// `error`'s message followed by its sources', for the operator (never for a client).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        let spec: StoreSpec = "sqlite:/var/lib/p.db".parse().unwrap();
        assert_eq!(spec, StoreSpec::Sqlite("/var/lib/p.db".into()));
        assert_eq!(spec.to_string(), "sqlite:/var/lib/p.db");
        assert_eq!(
            spec.secrets_path(),
            Some(PathBuf::from("/var/lib/p.db.secrets"))
        );
        assert_eq!(StoreSpec::Memory.secrets_path(), None);
        // A relative path is relative to the working directory; a colon may follow.
        let spec: StoreSpec = "sqlite:data/a:b.db".parse().unwrap();
        assert_eq!(
            spec.secrets_path(),
            Some(PathBuf::from("data/a:b.db.secrets"))
        );
        let url = "postgres://auth:hunter2@db.example:5433/auth";
        let spec: StoreSpec = format!("postgres:{url}").parse().unwrap();
        assert_eq!(spec, StoreSpec::Postgres(url.into()));
        assert!(spec.is_shared() && !StoreSpec::Memory.is_shared());
        assert_eq!(spec.secrets_path(), None);
        // The password is never shown.
        assert_eq!(
            spec.to_string(),
            "postgres:postgres://auth:***@db.example:5433/auth"
        );
        assert!(!format!("{spec:?}").contains("hunter2"));
        let spec: StoreSpec = "postgres:host=db password=hunter2".parse().unwrap();
        assert_eq!(spec.to_string(), "postgres:<connection string>");
        let spec: StoreSpec = "postgres:postgres://u@db/x?password=hunter2"
            .parse()
            .unwrap();
        assert!(!spec.to_string().contains("hunter2"), "{spec}");
        for bad in [
            "",
            "sqlite",
            "sqlite:",
            "memory:",
            "postgres:",
            "postgres://db",
            "postgres:postgres://u@db:notaport/x",
            "Memory",
        ] {
            assert_eq!(bad.parse::<StoreSpec>(), Err(StoreSpecError), "{bad}");
        }
    }
}
