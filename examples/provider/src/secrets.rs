//! The provider's secrets for a store that outlives the process (`PATH.secrets` beside an
//! SQLite database): the key sealing pending sign-ins and sign-outs, the salt of pairwise
//! subject identifiers (OpenID Connect Core §8.1), the key of the CSRF tokens, and the
//! key-encryption key sealing the private signing keys in the database. Kept stable, they
//! let a restart keep pending sign-ins, pairwise `sub` values, open forms and signing keys
//! valid (the sessions themselves are in the database); kept apart from the database, a
//! copy of the database alone holds no key that signs.
//!
//! A file written before the key-encryption key was added to it has none: its
//! key-encryption key is then derived from its interaction key (HKDF-SHA256), as secret as
//! a key of its own, and the file is never rewritten.
//!
//! The file is created once, with fresh random values, readable and writable by its owner
//! only (mode 0600), and atomically: written and synced under a temporary name, then linked
//! into place, which fails if the file exists. A reader sees a complete file or none, and
//! of two processes starting at once, both end up with the first one's secrets.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::Path;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::SecureRandom;
use serde::Deserialize;

use crate::app::StartError;
use crate::schema::{NamedKey, Secret32};

/// The id of the key-encryption key kept in the file.
const KEK_ID: &str = "secrets-file";
/// The id of the one derived for a file without one.
const DERIVED_KEK_ID: &str = "secrets-file-derived";
/// Names the derivation, so the derived key is of no other use.
const DERIVED_KEK_SALT: &[u8] = b"portcullis example provider: key-encryption key v1";

/// The secrets a restart must keep.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Secrets {
    pub(crate) interaction_key: Secret32,
    pub(crate) subject_salt: Secret32,
    pub(crate) session_key: Secret32,
    /// Absent from files written before it was added.
    #[serde(default)]
    key_encryption_key: Option<Secret32>,
}

impl Secrets {
    /// The key-encryption key: the file's, or one derived from its interaction key.
    pub(crate) fn key_encryption_key(&self) -> NamedKey {
        match &self.key_encryption_key {
            Some(key) => NamedKey {
                id: KEK_ID.to_owned(),
                key: key.clone(),
            },
            None => {
                let prk = Salt::new(HKDF_SHA256, DERIVED_KEK_SALT).extract(&self.interaction_key.0);
                let mut key = [0u8; 32];
                // One SHA-256-sized output is always a valid HKDF-SHA256 length.
                let okm = prk.expand(&[], HKDF_SHA256).expect("32-byte HKDF output");
                okm.fill(&mut key).expect("32-byte HKDF output");
                NamedKey {
                    id: DERIVED_KEK_ID.to_owned(),
                    key: Secret32(key),
                }
            }
        }
    }

    fn generate(rng: &dyn SecureRandom) -> Result<Self, StartError> {
        let draw = || {
            let mut k = [0u8; 32];
            rng.fill(&mut k).map_err(|_| StartError::Random)?;
            Ok::<_, StartError>(Secret32(k))
        };
        Ok(Self {
            interaction_key: draw()?,
            subject_salt: draw()?,
            session_key: draw()?,
            key_encryption_key: Some(draw()?),
        })
    }

    fn to_toml(&self) -> String {
        let b64 = |s: &Secret32| URL_SAFE_NO_PAD.encode(s.0);
        let mut text = format!(
            "# Secrets of the Portcullis example provider, generated for the database beside\n\
             # this file. Keep them private and keep them with the database, but not in the\n\
             # same backup: without them, pending sign-ins, pairwise `sub` values, open forms\n\
             # and the signing keys (sealed under key_encryption_key) do not survive.\n\
             interaction_key = \"{}\"\n\
             subject_salt = \"{}\"\n\
             session_key = \"{}\"\n",
            b64(&self.interaction_key),
            b64(&self.subject_salt),
            b64(&self.session_key),
        );
        if let Some(kek) = &self.key_encryption_key {
            text.push_str(&format!("key_encryption_key = \"{}\"\n", b64(kek)));
        }
        text
    }
}

/// Reads the secrets file at `path`, or creates it with fresh secrets.
pub(crate) fn load_or_create(path: &Path, rng: &dyn SecureRandom) -> Result<Secrets, StartError> {
    let fail = |reason: String| StartError::Secrets {
        path: path.to_owned(),
        reason,
    };
    let loaded = |read: io::Result<Result<Secrets, String>>| {
        read.map_err(|e| fail(format!("cannot read it: {e}")))?
            .map_err(fail)
    };
    match read(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        other => return loaded(other),
    }
    let fresh = Secrets::generate(rng)?;
    let mut suffix = [0u8; 8];
    rng.fill(&mut suffix).map_err(|_| StartError::Random)?;
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
fn read(path: &Path) -> io::Result<Result<Secrets, String>> {
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

/// Creates the file `path`, readable and writable by its owner only; `AlreadyExists` if it
/// exists.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
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
        let mut file = create_private(&tmp)?;
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
    use ring::rand::SystemRandom;

    fn temp_dir(name: &str) -> std::path::PathBuf {
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
}
