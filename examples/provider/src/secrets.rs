//! The provider's secrets for a store that outlives the process (`PATH.secrets` beside an
//! SQLite database): the key sealing pending sign-ins and sign-outs, the salt of pairwise
//! subject identifiers (OpenID Connect Core §8.1), and the key of the CSRF tokens. Kept
//! stable, they let a restart keep pending sign-ins, pairwise `sub` values and open forms
//! valid (the sessions themselves are in the database).
//!
//! The file is created once, with fresh random values, readable and writable by its owner
//! only (mode 0600), and atomically: written and synced under a temporary name, then linked
//! into place, which fails if the file exists. A reader sees a complete file or none, and
//! of two processes starting at once, both end up with the first one's secrets.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::Path;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::rand::SecureRandom;
use serde::Deserialize;

use crate::app::StartError;
use crate::config::Secret32;

/// The secrets a restart must keep.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Secrets {
    pub(crate) interaction_key: Secret32,
    pub(crate) subject_salt: Secret32,
    pub(crate) session_key: Secret32,
}

impl Secrets {
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
        })
    }

    fn to_toml(&self) -> String {
        let b64 = |s: &Secret32| URL_SAFE_NO_PAD.encode(s.0);
        format!(
            "# Secrets of the Portcullis example provider, generated for the database beside\n\
             # this file. Keep them private and keep them with the database: without them,\n\
             # pending sign-ins, pairwise `sub` values and open forms do not survive a restart.\n\
             interaction_key = \"{}\"\n\
             subject_salt = \"{}\"\n\
             session_key = \"{}\"\n",
            b64(&self.interaction_key),
            b64(&self.subject_salt),
            b64(&self.session_key),
        )
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
