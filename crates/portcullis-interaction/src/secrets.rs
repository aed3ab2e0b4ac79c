//! The secrets a provider and its pages must keep stable across restarts, and share between
//! the nodes of one issuer: the interaction key (sealing pending sign-ins and sign-outs),
//! the salt of pairwise subject identifiers (OpenID Connect Core §8.1), the CSRF key of the
//! forms, the key-encryption keys sealing the private signing keys in the store, and the key
//! of the server's DPoP nonces (RFC 9449 §8), derived from the interaction key unless set,
//! and the key of session ids (`sid`, Back-Channel Logout 1.0 §2.1), which the engine
//! derives from the subject salt unless set.
//! [`HostSecrets`] holds those a host configured; drawn at random instead, they would
//! differ from node to node and from one start to the next.
//!
//! A single node may keep what it was not given in a secrets file beside its database
//! ([`HostSecrets::fill_from_file`]): created once, with fresh random values, readable and
//! writable by its owner only (mode 0600), and atomically — written and synced under a
//! temporary name, then linked into place, which fails if the file exists. A reader sees a
//! complete file or none, and of two processes starting at once, both end up with the first
//! one's secrets. Kept apart from the database, a copy of the database alone holds no key
//! that signs. A file written before the key-encryption key was added to it has none: its
//! key-encryption key is then derived from its interaction key (HKDF-SHA256), as secret as
//! a key of its own, and the file is never rewritten.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis::core::{KeyEncryptionKey, KeyEncryptionKeys, KeySealError};
use portcullis::ProviderBuilder;
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::SecureRandom;
use serde::{Deserialize, Deserializer};

use crate::session::SessionManagerBuilder;

/// The id of the key-encryption key kept in a secrets file.
const KEK_ID: &str = "secrets-file";
/// The id of the one derived for a file without one.
const DERIVED_KEK_ID: &str = "secrets-file-derived";
/// Names the derivation, so the derived key is of no other use (fixed: files depend on it).
const DERIVED_KEK_SALT: &[u8] = b"portcullis example provider: key-encryption key v1";
/// Names the derivation of the DPoP nonce key from the interaction key.
const DERIVED_DPOP_NONCE_KEY_SALT: &[u8] = b"portcullis: DPoP nonce key v1";

/// 32 secret bytes: a key or a salt. Never shown (`Debug` prints `<redacted>`); read as
/// base64url without padding (43 characters).
#[derive(Clone)]
pub struct Secret32(pub [u8; 32]);

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .map(Secret32)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "expected 32 bytes encoded as base64url without padding (43 characters)",
                )
            })
    }
}

impl Secret32 {
    /// 32 fresh random bytes.
    fn generate(rng: &dyn SecureRandom) -> Result<Self, SecretsFileError> {
        let mut k = [0u8; 32];
        rng.fill(&mut k).map_err(|_| SecretsFileError::Random)?;
        Ok(Self(k))
    }

    fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

/// A key-encryption key and the id that names it in what it seals
/// ([`KeyEncryptionKey`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedKey {
    /// The key's id.
    pub id: String,
    /// The key.
    pub key: Secret32,
}

impl NamedKey {
    /// The engine's key-encryption key.
    pub fn kek(&self) -> Result<KeyEncryptionKey, KeySealError> {
        KeyEncryptionKey::new(self.id.clone(), &self.key.0)
    }
}

/// One of the secrets every node of an issuer must share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SharedSecret {
    /// [`HostSecrets::interaction_key`].
    InteractionKey,
    /// [`HostSecrets::subject_salt`].
    SubjectSalt,
    /// [`HostSecrets::csrf_key`].
    CsrfKey,
    /// [`HostSecrets::key_encryption_key`].
    KeyEncryptionKey,
}

/// The secrets of a provider and its pages (see the module documentation); `None` is not
/// set. Never shown.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HostSecrets {
    /// Seals pending authorizations and logouts (`ProviderBuilder::interaction_key`).
    pub interaction_key: Option<Secret32>,
    /// Salts pairwise subject identifiers (`ProviderBuilder::subject_salt`).
    pub subject_salt: Option<Secret32>,
    /// Keys the forms' CSRF tokens ([`SessionManagerBuilder::csrf_key`]).
    pub csrf_key: Option<Secret32>,
    /// Seals the private signing keys in the store (`ProviderBuilder::key_encryption_keys`).
    pub key_encryption_key: Option<NamedKey>,
    /// Earlier key-encryption keys, still opening what they sealed.
    pub previous_key_encryption_keys: Vec<NamedKey>,
    /// Keeps the private signing keys in plaintext on a store that persists
    /// (`ProviderBuilder::dangerous_plaintext_signing_keys`): no key-encryption key needed.
    pub dangerous_plaintext_signing_keys: bool,
    /// Keys the server's DPoP nonces (`ProviderBuilder::dpop_nonce_key`). When not set,
    /// derived from the interaction key (HKDF-SHA256): every node sharing that one shares it.
    pub dpop_nonce_key: Option<Secret32>,
    /// Keys the session ids (`sid`) of ID tokens and logout tokens
    /// (`ProviderBuilder::sid_key`). When not set, the engine derives it from the subject
    /// salt (HKDF-SHA256): every node sharing that one shares it, and a secrets file written
    /// before it existed needs no change.
    pub sid_key: Option<Secret32>,
}

impl HostSecrets {
    /// The first secret not set of those the nodes of one issuer must share; `None` when
    /// every one is. A store shared by several nodes needs them all configured.
    pub fn missing(&self) -> Option<SharedSecret> {
        let kek = self.key_encryption_key.is_some() || self.dangerous_plaintext_signing_keys;
        [
            (SharedSecret::InteractionKey, self.interaction_key.is_some()),
            (SharedSecret::SubjectSalt, self.subject_salt.is_some()),
            (SharedSecret::CsrfKey, self.csrf_key.is_some()),
            (SharedSecret::KeyEncryptionKey, kek),
        ]
        .into_iter()
        .find_map(|(secret, set)| (!set).then_some(secret))
    }

    /// Sets every secret not set from the secrets file at `path`, creating it with fresh
    /// random values if absent; reads nothing when every secret is set.
    pub fn fill_from_file(
        &mut self,
        path: &Path,
        rng: &dyn SecureRandom,
    ) -> Result<(), SecretsFileError> {
        if self.missing().is_none() {
            return Ok(());
        }
        let kept = load_or_create(path, rng)?;
        if self.key_encryption_key.is_none() && !self.dangerous_plaintext_signing_keys {
            self.key_encryption_key = Some(kept.key_encryption_key());
        }
        self.interaction_key.get_or_insert(kept.interaction_key);
        self.subject_salt.get_or_insert(kept.subject_salt);
        self.csrf_key.get_or_insert(kept.session_key);
        Ok(())
    }

    /// The key-encryption keys, current first; `None` without a current one.
    pub fn key_encryption_keys(&self) -> Result<Option<KeyEncryptionKeys>, KeySealError> {
        let Some(current) = &self.key_encryption_key else {
            return Ok(None);
        };
        let keks = KeyEncryptionKeys::new(current.kek()?);
        let keks = self
            .previous_key_encryption_keys
            .iter()
            .try_fold(keks, |keks, p| keks.with_previous(p.kek()?))?;
        Ok(Some(keks))
    }

    /// `builder` with the provider's secrets that are set.
    pub fn configure_provider(
        &self,
        mut builder: ProviderBuilder,
    ) -> Result<ProviderBuilder, KeySealError> {
        if let Some(key) = &self.interaction_key {
            builder = builder.interaction_key(key.0);
        }
        if let Some(salt) = &self.subject_salt {
            builder = builder.subject_salt(salt.0);
        }
        if let Some(keks) = self.key_encryption_keys()? {
            builder = builder.key_encryption_keys(keks);
        }
        if self.dangerous_plaintext_signing_keys {
            builder = builder.dangerous_plaintext_signing_keys();
        }
        if let Some(key) = self.dpop_nonce_key() {
            builder = builder.dpop_nonce_key(key.0);
        }
        if let Some(key) = &self.sid_key {
            builder = builder.sid_key(key.0);
        }
        Ok(builder)
    }

    /// The DPoP nonce key: the one set, or the interaction key's derived one.
    fn dpop_nonce_key(&self) -> Option<Secret32> {
        let derived = |key| derive(key, DERIVED_DPOP_NONCE_KEY_SALT);
        self.dpop_nonce_key
            .clone()
            .or_else(|| self.interaction_key.as_ref().map(derived))
    }

    /// `builder` with the CSRF key, if set.
    pub fn configure_sessions(&self, builder: SessionManagerBuilder) -> SessionManagerBuilder {
        match &self.csrf_key {
            Some(key) => builder.csrf_key(key.0),
            None => builder,
        }
    }
}

/// The secrets file could not be read or created, or the random generator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsFileError {
    /// The file is unreadable, malformed or cannot be created.
    #[error("secrets file {}: {reason}", path.display())]
    File {
        /// The secrets file.
        path: PathBuf,
        /// What is wrong (never a secret's value).
        reason: String,
    },
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Random,
}

/// The content of a secrets file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kept {
    interaction_key: Secret32,
    subject_salt: Secret32,
    session_key: Secret32,
    /// Absent from files written before it was added.
    #[serde(default)]
    key_encryption_key: Option<Secret32>,
}

impl Kept {
    /// The key-encryption key: the file's, or one derived from its interaction key.
    fn key_encryption_key(&self) -> NamedKey {
        match &self.key_encryption_key {
            Some(key) => NamedKey {
                id: KEK_ID.to_owned(),
                key: key.clone(),
            },
            None => NamedKey {
                id: DERIVED_KEK_ID.to_owned(),
                key: derive(&self.interaction_key, DERIVED_KEK_SALT),
            },
        }
    }

    fn generate(rng: &dyn SecureRandom) -> Result<Self, SecretsFileError> {
        Ok(Self {
            interaction_key: Secret32::generate(rng)?,
            subject_salt: Secret32::generate(rng)?,
            session_key: Secret32::generate(rng)?,
            key_encryption_key: Some(Secret32::generate(rng)?),
        })
    }

    fn to_toml(&self) -> String {
        let mut text = format!(
            "# Secrets of a Portcullis provider, generated for the database beside this file.\n\
             # Keep them private and keep them with the database, but not in the same backup:\n\
             # without them, pending sign-ins, pairwise `sub` values, open forms and the\n\
             # signing keys (sealed under key_encryption_key) do not survive.\n\
             interaction_key = \"{}\"\n\
             subject_salt = \"{}\"\n\
             session_key = \"{}\"\n",
            self.interaction_key.encoded(),
            self.subject_salt.encoded(),
            self.session_key.encoded(),
        );
        if let Some(kek) = &self.key_encryption_key {
            text.push_str(&format!("key_encryption_key = \"{}\"\n", kek.encoded()));
        }
        text
    }
}

/// A key of its own for the use `salt` names, derived from `key` (HKDF-SHA256).
fn derive(key: &Secret32, salt: &[u8]) -> Secret32 {
    let prk = Salt::new(HKDF_SHA256, salt).extract(&key.0);
    let mut derived = [0u8; 32];
    // One SHA-256-sized output is always a valid HKDF-SHA256 length.
    let okm = prk.expand(&[], HKDF_SHA256).expect("32-byte HKDF output");
    okm.fill(&mut derived).expect("32-byte HKDF output");
    Secret32(derived)
}

/// Reads the secrets file at `path`, or creates it with fresh secrets.
fn load_or_create(path: &Path, rng: &dyn SecureRandom) -> Result<Kept, SecretsFileError> {
    let fail = |reason: String| SecretsFileError::File {
        path: path.to_owned(),
        reason,
    };
    let loaded = |read: io::Result<Result<Kept, String>>| {
        read.map_err(|e| fail(format!("cannot read it: {e}")))?
            .map_err(fail)
    };
    match read(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => return loaded(other),
    }
    let fresh = Kept::generate(rng)?;
    let mut suffix = [0u8; 8];
    rng.fill(&mut suffix)
        .map_err(|_| SecretsFileError::Random)?;
    match create_new(path, fresh.to_toml().as_bytes(), &suffix) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the provider's secrets");
            Ok(fresh)
        }
        // Another process created it first: use its secrets.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => loaded(read(path)),
        Err(e) => Err(fail(format!("cannot create it: {e}"))),
    }
}

/// The file's secrets; the inner error names what is wrong without echoing a value.
fn read(path: &Path) -> io::Result<Result<Kept, String>> {
    let text = fs::read_to_string(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the secrets file is readable by others: chmod 600 it");
        }
    }
    Ok(toml::from_str(&text).map_err(|e| e.message().trim_end().to_owned()))
}

/// Writes `contents` to `path` unless it exists (`AlreadyExists`), all at once: to a
/// temporary file beside it (mode 0600), synced, then hard-linked into place.
fn create_new(path: &Path, contents: &[u8], suffix: &[u8]) -> io::Result<()> {
    let name = path.file_name().ok_or(ErrorKind::InvalidInput)?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        URL_SAFE_NO_PAD.encode(suffix)
    ));
    let written = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let removed = fs::remove_file(&tmp);
    written?;
    removed?;
    // The new directory entry must survive a power cut as well.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    File::open(dir.unwrap_or(Path::new(".")))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(secret: &Option<Secret32>) -> Option<[u8; 32]> {
        secret.as_ref().map(|s| s.0)
    }
    use ring::rand::SystemRandom;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("portcullis-secrets-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn created_once_private_then_read_back() {
        let dir = temp_dir("once");
        let path = dir.join("p.db.secrets");
        let rng = SystemRandom::new();
        let first = load_or_create(&path, &rng).unwrap();
        let again = load_or_create(&path, &rng).unwrap();
        assert_eq!(first.interaction_key.0, again.interaction_key.0);
        assert_eq!(first.subject_salt.0, again.subject_salt.0);
        assert_eq!(first.session_key.0, again.session_key.0);
        assert_ne!(first.interaction_key.0, first.subject_salt.0);
        let kek = first.key_encryption_key();
        assert_eq!(kek.id, "secrets-file");
        assert_eq!(kek.key.0, again.key_encryption_key().key.0);
        assert_ne!(kek.key.0, first.interaction_key.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["p.db.secrets"]);
        // The second creator loses the race and uses the first one's file.
        let err = create_new(&path, b"x", b"other").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_without_a_key_encryption_key_derives_a_stable_one() {
        let dir = temp_dir("legacy");
        let path = dir.join("p.db.secrets");
        let written_before = "interaction_key = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"\n\
             subject_salt = \"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\"\n\
             session_key = \"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM\"\n";
        fs::write(&path, written_before).unwrap();
        let rng = SystemRandom::new();
        let kek = load_or_create(&path, &rng).unwrap().key_encryption_key();
        assert_eq!(kek.id, "secrets-file-derived");
        assert_ne!(kek.key.0, [1; 32]);
        let again = load_or_create(&path, &rng).unwrap().key_encryption_key();
        assert_eq!(kek.key.0, again.key.0, "the same at every start");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            written_before,
            "not rewritten"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    /// Every node sharing the interaction key shares the DPoP nonce key derived from it,
    /// a key of its own; one set wins.
    #[test]
    fn the_dpop_nonce_key_is_set_or_derived_from_the_interaction_key() {
        let mut secrets = HostSecrets::default();
        assert!(secrets.dpop_nonce_key().is_none());
        secrets.interaction_key = Some(Secret32([1; 32]));
        let derived = secrets.dpop_nonce_key().unwrap().0;
        assert_eq!(derived, secrets.clone().dpop_nonce_key().unwrap().0);
        assert_ne!(derived, [1; 32]);
        assert_ne!(derived, derive(&Secret32([1; 32]), DERIVED_KEK_SALT).0);
        secrets.interaction_key = Some(Secret32([2; 32]));
        assert_ne!(secrets.dpop_nonce_key().unwrap().0, derived);
        secrets.dpop_nonce_key = Some(Secret32([3; 32]));
        assert_eq!(secrets.dpop_nonce_key().unwrap().0, [3; 32]);
    }

    #[test]
    fn a_damaged_file_is_refused_without_echoing_it() {
        let dir = temp_dir("damaged");
        let path = dir.join("p.db.secrets");
        fs::write(&path, "interaction_key = \"c2VjcmV0\"\n").unwrap();
        let e = load_or_create(&path, &SystemRandom::new()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("p.db.secrets"), "{text}");
        assert!(text.contains("43 characters"), "{text}");
        assert!(!text.contains("c2VjcmV0"), "{text}");
        fs::write(
            &path,
            "interaction_key = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"\n",
        )
        .unwrap();
        let e = load_or_create(&path, &SystemRandom::new()).unwrap_err();
        assert!(
            e.to_string().contains("missing field `subject_salt`"),
            "{e}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn configured_secrets_win_over_the_secrets_file() {
        let dir = temp_dir("configured");
        let path = dir.join("p.db.secrets");
        let rng = SystemRandom::new();
        let mut secrets = HostSecrets {
            subject_salt: Some(Secret32([2; 32])),
            ..HostSecrets::default()
        };
        assert_eq!(secrets.missing(), Some(SharedSecret::InteractionKey));
        secrets.fill_from_file(&path, &rng).unwrap();
        assert_eq!(secrets.missing(), None);
        let kept = load_or_create(&path, &rng).unwrap();
        assert_eq!(bytes(&secrets.subject_salt), Some([2; 32]));
        assert_ne!(kept.subject_salt.0, [2; 32]);
        assert_eq!(
            bytes(&secrets.interaction_key),
            Some(kept.interaction_key.0)
        );
        assert_eq!(bytes(&secrets.csrf_key), Some(kept.session_key.0));
        let kek = secrets.key_encryption_key.clone().unwrap();
        assert_eq!(kek.id, "secrets-file");
        let keks = secrets.key_encryption_keys().unwrap().unwrap();
        assert_eq!(keks.current().id(), "secrets-file");
        assert!(!format!("{secrets:?}").contains("[2, 2"), "never shown");

        // Every secret set: no file read or written.
        let other = dir.join("q.db.secrets");
        let mut all = secrets.clone();
        all.fill_from_file(&other, &rng).unwrap();
        assert!(!other.exists());
        // Plaintext signing keys need no key-encryption key, and get none from the file.
        let mut plain = HostSecrets {
            dangerous_plaintext_signing_keys: true,
            ..HostSecrets::default()
        };
        assert_eq!(plain.missing(), Some(SharedSecret::InteractionKey));
        plain.fill_from_file(&path, &rng).unwrap();
        assert!(plain.key_encryption_key.is_none() && plain.missing().is_none());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn previous_key_encryption_keys_follow_the_current_one() {
        let named = |id: &str, byte| NamedKey {
            id: id.into(),
            key: Secret32([byte; 32]),
        };
        let mut secrets = HostSecrets::default();
        assert!(secrets.key_encryption_keys().unwrap().is_none());
        secrets.key_encryption_key = Some(named("2025", 1));
        secrets.previous_key_encryption_keys = vec![named("2024", 2)];
        let keks = secrets.key_encryption_keys().unwrap().unwrap();
        assert_eq!(keks.current().id(), "2025");
        // Two keys of one id are refused.
        secrets.previous_key_encryption_keys = vec![named("2025", 2)];
        assert!(secrets.key_encryption_keys().is_err());
    }
}
