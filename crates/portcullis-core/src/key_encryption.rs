//! Private signing keys at rest: sealed with AES-256-GCM under a key-encryption key (KEK)
//! the host supplies, so a copy of the store (a backup, a dump, a stolen disk) yields no key
//! that signs.
//!
//! A stored key is a versioned envelope:
//!
//! ```text
//! v1:     "PSK1" ‖ len(kek id) ‖ kek id ‖ nonce (12) ‖ AES-256-GCM(PKCS#8 DER) ‖ tag (16)
//! legacy: the PKCS#8 DER itself (a DER SEQUENCE: its first byte is 0x30)
//! ```
//!
//! The KEK id names the KEK that sealed it, so KEKs can rotate: new keys are sealed under
//! the current KEK, keys sealed under a previous one still open. The associated data binds
//! the envelope's header, the issuer, the key's `kid` and its algorithm: a sealed key moved
//! to another row, issuer or algorithm does not open.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::SecureRandom;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::issuer::Issuer;
use crate::jose::Algorithm;

/// A PKCS#8 DER private key. Secret: its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyDer(Vec<u8>);

impl PrivateKeyDer {
    /// Wraps DER bytes.
    pub fn new(der: Vec<u8>) -> Self {
        Self(der)
    }

    /// The DER bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyDer(<redacted>)")
    }
}

/// A sealed envelope's format: `magic ‖ len(kek id) ‖ kek id ‖ nonce (12) ‖ AES-256-GCM
/// ciphertext ‖ tag (16)`, whose associated data is `label`, the header and the parts it is
/// bound to, each length-prefixed.
pub(crate) struct EnvelopeFormat {
    magic: &'static [u8; 4],
    label: &'static [u8],
}

/// Signing keys (a PKCS#8 DER starts with 0x30, never with `P`).
const SIGNING_KEY: EnvelopeFormat = EnvelopeFormat {
    magic: b"PSK1",
    label: b"portcullis signing key v1",
};

/// Why an envelope did not open under the KEK its header names.
pub(crate) enum OpenFailure<'a> {
    /// No KEK has that id.
    UnknownKek(&'a str),
    /// That KEK does not open it (another key, or altered or moved).
    WrongKekOrAltered(&'a str),
}

impl EnvelopeFormat {
    pub(crate) const fn new(magic: &'static [u8; 4], label: &'static [u8]) -> Self {
        Self { magic, label }
    }

    fn aad(&self, header: &[u8], bound: &[&[u8]]) -> Vec<u8> {
        let mut aad = self.label.to_vec();
        for part in std::iter::once(header).chain(bound.iter().copied()) {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part);
        }
        aad
    }

    /// Seals `plaintext`, bound to `bound`, under the current KEK of `keks`.
    pub(crate) fn seal(
        &self,
        plaintext: &[u8],
        bound: &[&[u8]],
        keks: &KeyEncryptionKeys,
        rng: &dyn SecureRandom,
    ) -> Result<Vec<u8>, KeySealError> {
        let kek = keks.current();
        let mut out = self.magic.to_vec();
        out.push(kek.id.len() as u8);
        out.extend_from_slice(kek.id.as_bytes());
        let aad = self.aad(&out, bound);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| KeySealError::Random)?;
        let mut sealed = plaintext.to_vec();
        kek.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .map_err(|_| KeySealError::Random)?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The KEK id of a sealed envelope and the header's length; `None` if `bytes` is not one.
    pub(crate) fn header<'b>(&self, bytes: &'b [u8]) -> Option<(&'b str, usize)> {
        let rest = bytes.strip_prefix(self.magic)?;
        let (&len, rest) = rest.split_first()?;
        let id = rest.get(..usize::from(len)).filter(|id| valid_id(id))?;
        let id = std::str::from_utf8(id).ok()?;
        Some((id, self.magic.len() + 1 + id.len()))
    }

    /// Opens a sealed envelope (its `header` is `Some`) bound to `bound`.
    pub(crate) fn open<'b>(
        &self,
        bytes: &'b [u8],
        (kek_id, header_len): (&'b str, usize),
        bound: &[&[u8]],
        keks: &KeyEncryptionKeys,
    ) -> Result<Vec<u8>, OpenFailure<'b>> {
        let kek = keks.find(kek_id).ok_or(OpenFailure::UnknownKek(kek_id))?;
        let wrong = || OpenFailure::WrongKekOrAltered(kek_id);
        let (header, rest) = bytes.split_at(header_len);
        if rest.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buf = sealed.to_vec();
        let plain = kek
            .key
            .open_in_place(nonce, Aad::from(self.aad(header, bound)), &mut buf)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}
/// The first byte of a DER SEQUENCE: a legacy, unsealed PKCS#8 key.
const DER_SEQUENCE: u8 = 0x30;
/// Longest KEK id.
const MAX_ID_LEN: usize = 64;

/// Why a private key could not be sealed or opened. Names the signing key's `kid` and the
/// KEK's id (both public), never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySealError {
    /// A KEK id must be 1 to 64 printable ASCII characters without spaces.
    #[error("a key-encryption key id is 1 to 64 printable ASCII characters without spaces")]
    InvalidKekId,
    /// Two KEKs share an id.
    #[error("two key-encryption keys have the id {0:?}")]
    DuplicateKekId(String),
    /// The key is sealed, and no KEK is configured.
    #[error("signing key {kid} is sealed, but no key-encryption key is configured")]
    NoKek {
        /// The signing key.
        kid: String,
    },
    /// The key is sealed under a KEK that is not configured.
    #[error(
        "signing key {kid} is sealed under key-encryption key {kek_id:?}, which is not configured"
    )]
    UnknownKek {
        /// The signing key.
        kid: String,
        /// The KEK it names.
        kek_id: String,
    },
    /// The KEK of that id does not open it: another key under the same id, or a sealed key
    /// altered or moved to another row, issuer or algorithm.
    #[error("signing key {kid} does not open with key-encryption key {kek_id:?}: a wrong key under that id, or an altered or moved record")]
    WrongKekOrAltered {
        /// The signing key.
        kid: String,
        /// The KEK tried.
        kek_id: String,
    },
    /// Neither a v1 envelope nor a PKCS#8 key.
    #[error("signing key {kid}: the stored private key is neither sealed nor PKCS#8")]
    Malformed {
        /// The signing key.
        kid: String,
    },
    /// The random number generator failed while sealing.
    #[error("the random number generator failed")]
    Random,
}

/// A key-encryption key: 32 secret bytes (AES-256) and the id stored with everything it
/// seals. Its `Debug` output shows only the id.
pub struct KeyEncryptionKey {
    id: String,
    key: LessSafeKey,
}

impl KeyEncryptionKey {
    /// A KEK named `id` (1 to 64 printable ASCII characters without spaces, e.g.
    /// `2025-06`) from 32 secret random bytes.
    pub fn new(id: impl Into<String>, bytes: &[u8; 32]) -> Result<Self, KeySealError> {
        let id = id.into();
        if !valid_id(id.as_bytes()) {
            return Err(KeySealError::InvalidKekId);
        }
        // AES-256 accepts any 32-byte key, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES-256 key");
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
        })
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn valid_id(id: &[u8]) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

/// The KEKs a provider knows: the current one seals, every one opens what it sealed.
///
/// To rotate without downtime: first give every process the new KEK as a previous one, then
/// make it current everywhere (each process re-seals the keys it loads under its current
/// KEK), and drop the old one once every process has loaded the keys since.
#[derive(Debug)]
pub struct KeyEncryptionKeys {
    current: KeyEncryptionKey,
    previous: Vec<KeyEncryptionKey>,
}

impl KeyEncryptionKeys {
    /// Seals under `current`.
    pub fn new(current: KeyEncryptionKey) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Also opens keys sealed under `previous`. Its id must differ from every other's.
    pub fn with_previous(mut self, previous: KeyEncryptionKey) -> Result<Self, KeySealError> {
        if self.find(&previous.id).is_some() {
            return Err(KeySealError::DuplicateKekId(previous.id));
        }
        self.previous.push(previous);
        Ok(self)
    }

    /// The KEK new keys are sealed under.
    pub fn current(&self) -> &KeyEncryptionKey {
        &self.current
    }

    fn find(&self, id: &str) -> Option<&KeyEncryptionKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

/// Which stored key a sealed one is: the associated data of its seal.
#[derive(Debug, Clone, Copy)]
pub struct KeyBinding<'a> {
    /// The issuer whose key it is.
    pub issuer: &'a Issuer,
    /// Its `kid`.
    pub kid: &'a str,
    /// Its algorithm.
    pub alg: Algorithm,
}

impl KeyBinding<'_> {
    fn parts(&self) -> [&[u8]; 3] {
        [
            self.issuer.as_str().as_bytes(),
            self.kid.as_bytes(),
            self.alg.as_str().as_bytes(),
        ]
    }
}

/// What a stored private key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeState<'a> {
    /// Sealed (v1) under the KEK of this id.
    Sealed {
        /// The KEK's id.
        kek_id: &'a str,
    },
    /// Not sealed: written without a KEK (the memory store, or a store that predates
    /// sealing, or `dangerous_plaintext_signing_keys`).
    Plaintext,
    /// Neither.
    Malformed,
}

/// A private key as stored: sealed (v1), or a legacy plaintext PKCS#8 DER. Opaque to the
/// store, which keeps its bytes. Serialized as standard base64 (as the plaintext key was
/// before sealing, so old records still read). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateKeyEnvelope(#[serde(with = "standard_base64")] Vec<u8>);

impl PrivateKeyEnvelope {
    /// Seals `der` for the key `binding` names under the current KEK of `keks`.
    pub fn seal(
        der: &PrivateKeyDer,
        binding: KeyBinding<'_>,
        keks: &KeyEncryptionKeys,
        rng: &dyn SecureRandom,
    ) -> Result<Self, KeySealError> {
        SIGNING_KEY
            .seal(der.expose(), &binding.parts(), keks, rng)
            .map(Self)
    }

    /// `der` as it is, unsealed: only where nothing is at rest (a memory store), or where
    /// the host has said `dangerous_plaintext_signing_keys`.
    pub fn plaintext(der: &PrivateKeyDer) -> Self {
        Self(der.expose().to_vec())
    }

    /// Wraps bytes read back from a store.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether it is sealed, and under which KEK.
    pub fn state(&self) -> EnvelopeState<'_> {
        match self.header() {
            Some((kek_id, _)) => EnvelopeState::Sealed { kek_id },
            None if self.0.first() == Some(&DER_SEQUENCE) => EnvelopeState::Plaintext,
            None => EnvelopeState::Malformed,
        }
    }

    /// The KEK id and the length of the header, of a v1 envelope.
    fn header(&self) -> Option<(&str, usize)> {
        SIGNING_KEY.header(&self.0)
    }

    /// The private key of the stored key `binding` names: opened with the KEK it names, or
    /// read as it is when it is plaintext.
    pub fn open(
        &self,
        binding: KeyBinding<'_>,
        keks: Option<&KeyEncryptionKeys>,
    ) -> Result<PrivateKeyDer, KeySealError> {
        let kid = || binding.kid.to_owned();
        let Some((kek_id, header_len)) = self.header() else {
            return match self.state() {
                EnvelopeState::Plaintext => Ok(PrivateKeyDer::new(self.0.clone())),
                _ => Err(KeySealError::Malformed { kid: kid() }),
            };
        };
        let keks = keks.ok_or_else(|| KeySealError::NoKek { kid: kid() })?;
        SIGNING_KEY
            .open(&self.0, (kek_id, header_len), &binding.parts(), keks)
            .map(PrivateKeyDer::new)
            .map_err(|failure| match failure {
                OpenFailure::UnknownKek(kek_id) => KeySealError::UnknownKek {
                    kid: kid(),
                    kek_id: kek_id.to_owned(),
                },
                OpenFailure::WrongKekOrAltered(kek_id) => KeySealError::WrongKekOrAltered {
                    kid: kid(),
                    kek_id: kek_id.to_owned(),
                },
            })
    }

    /// Whether a provider with `keks` should seal it again: it is plaintext, or sealed under
    /// a KEK other than the current one.
    pub fn needs_resealing(&self, keks: &KeyEncryptionKeys) -> bool {
        match self.state() {
            EnvelopeState::Sealed { kek_id } => kek_id != keks.current.id,
            EnvelopeState::Plaintext => true,
            EnvelopeState::Malformed => false,
        }
    }
}

impl fmt::Debug for PrivateKeyEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state() {
            EnvelopeState::Sealed { kek_id } => write!(f, "PrivateKeyEnvelope(sealed: {kek_id})"),
            EnvelopeState::Plaintext => f.write_str("PrivateKeyEnvelope(plaintext: <redacted>)"),
            EnvelopeState::Malformed => f.write_str("PrivateKeyEnvelope(malformed)"),
        }
    }
}

/// Sealed bytes as standard base64 in serialized records (`#[serde(with = ...)]`).
pub(crate) mod standard_base64 {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn kek(id: &str, byte: u8) -> KeyEncryptionKey {
        KeyEncryptionKey::new(id, &[byte; 32]).unwrap()
    }

    fn issuer() -> Issuer {
        Issuer::parse("https://as.example").unwrap()
    }

    /// A PKCS#8-shaped secret (a DER SEQUENCE), recognisable in the output.
    fn der() -> PrivateKeyDer {
        let mut d = vec![DER_SEQUENCE, 0x20];
        d.extend_from_slice(b"SECRET-KEY-MATERIAL-0123456789ab");
        PrivateKeyDer::new(d)
    }

    fn binding<'a>(issuer: &'a Issuer, kid: &'a str) -> KeyBinding<'a> {
        KeyBinding {
            issuer,
            kid,
            alg: Algorithm::ES256,
        }
    }

    #[test]
    fn sealed_keys_hide_the_key_and_open_only_for_their_issuer_kid_and_alg() {
        let (rng, iss) = (SystemRandom::new(), issuer());
        let keks = KeyEncryptionKeys::new(kek("k1", 1));
        let sealed = PrivateKeyEnvelope::seal(&der(), binding(&iss, "a"), &keks, &rng).unwrap();
        assert!(!sealed.as_bytes().windows(10).any(|w| w == b"SECRET-KEY"));
        assert_eq!(sealed.state(), EnvelopeState::Sealed { kek_id: "k1" });
        assert_eq!(sealed.open(binding(&iss, "a"), Some(&keks)).unwrap(), der());
        let moved = |e: Result<PrivateKeyDer, KeySealError>| {
            assert!(
                matches!(e, Err(KeySealError::WrongKekOrAltered { .. })),
                "{e:?}"
            )
        };
        moved(sealed.open(binding(&iss, "b"), Some(&keks)));
        let other = Issuer::parse("https://other.example").unwrap();
        moved(sealed.open(binding(&other, "a"), Some(&keks)));
        let ed = KeyBinding {
            alg: Algorithm::EdDSA,
            ..binding(&iss, "a")
        };
        moved(sealed.open(ed, Some(&keks)));
        let mut altered = sealed.as_bytes().to_vec();
        *altered.last_mut().unwrap() ^= 1;
        moved(PrivateKeyEnvelope::from_bytes(altered).open(binding(&iss, "a"), Some(&keks)));
        // Two seals of one key differ (random nonce).
        let again = PrivateKeyEnvelope::seal(&der(), binding(&iss, "a"), &keks, &rng).unwrap();
        assert_ne!(again, sealed);
    }

    #[test]
    fn a_wrong_or_absent_kek_fails_clearly_without_key_material() {
        let (rng, iss) = (SystemRandom::new(), issuer());
        let keks = KeyEncryptionKeys::new(kek("k1", 1));
        let sealed = PrivateKeyEnvelope::seal(&der(), binding(&iss, "a"), &keks, &rng).unwrap();
        let wrong = KeyEncryptionKeys::new(kek("k1", 2));
        let unknown = KeyEncryptionKeys::new(kek("k2", 1));
        let errors = [
            sealed.open(binding(&iss, "a"), Some(&wrong)).unwrap_err(),
            sealed.open(binding(&iss, "a"), Some(&unknown)).unwrap_err(),
            sealed.open(binding(&iss, "a"), None).unwrap_err(),
        ];
        assert_eq!(
            errors[0].to_string(),
            "signing key a does not open with key-encryption key \"k1\": a wrong key under \
             that id, or an altered or moved record"
        );
        assert_eq!(
            errors[1].to_string(),
            "signing key a is sealed under key-encryption key \"k1\", which is not configured"
        );
        assert_eq!(
            errors[2].to_string(),
            "signing key a is sealed, but no key-encryption key is configured"
        );
        for e in &errors {
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains("SECRET") && !shown.contains("[1, 1"),
                "{shown}"
            );
        }
        let garbage = PrivateKeyEnvelope::from_bytes(b"PSK1\x05k1".to_vec());
        assert_eq!(garbage.state(), EnvelopeState::Malformed);
        assert_eq!(
            garbage.open(binding(&iss, "a"), Some(&keks)),
            Err(KeySealError::Malformed { kid: "a".into() })
        );
    }

    #[test]
    fn rotation_opens_under_previous_keks_and_seals_under_the_current_one() {
        let (rng, iss) = (SystemRandom::new(), issuer());
        let old = KeyEncryptionKeys::new(kek("2024", 1));
        let sealed_old = PrivateKeyEnvelope::seal(&der(), binding(&iss, "a"), &old, &rng).unwrap();
        let rotated = KeyEncryptionKeys::new(kek("2025", 2))
            .with_previous(kek("2024", 1))
            .unwrap();
        assert_eq!(
            sealed_old.open(binding(&iss, "a"), Some(&rotated)).unwrap(),
            der()
        );
        assert!(sealed_old.needs_resealing(&rotated));
        assert!(!sealed_old.needs_resealing(&old));
        let fresh = PrivateKeyEnvelope::seal(&der(), binding(&iss, "a"), &rotated, &rng).unwrap();
        assert_eq!(fresh.state(), EnvelopeState::Sealed { kek_id: "2025" });
        assert!(!fresh.needs_resealing(&rotated));
        assert_eq!(
            KeyEncryptionKeys::new(kek("x", 1))
                .with_previous(kek("x", 2))
                .unwrap_err(),
            KeySealError::DuplicateKekId("x".into())
        );
    }

    #[test]
    fn a_legacy_plaintext_key_is_recognised_and_still_opens() {
        let iss = issuer();
        let legacy: PrivateKeyEnvelope = serde_json::from_value(
            serde_json::to_value(PrivateKeyEnvelope::plaintext(&der())).unwrap(),
        )
        .unwrap();
        assert_eq!(legacy.state(), EnvelopeState::Plaintext);
        assert_eq!(legacy.open(binding(&iss, "a"), None).unwrap(), der());
        assert!(legacy.needs_resealing(&KeyEncryptionKeys::new(kek("k", 1))));
        assert!(!format!("{legacy:?}").contains("SECRET"));
    }

    #[test]
    fn kek_ids_are_short_printable_ascii_and_keks_never_show_their_bytes() {
        for bad in ["", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                KeyEncryptionKey::new(bad, &[0; 32]).unwrap_err(),
                KeySealError::InvalidKekId
            );
        }
        let k = kek(&"x".repeat(64), 7);
        let shown = format!("{k:?} {:?}", KeyEncryptionKeys::new(kek("k", 7)));
        assert!(!shown.contains("[7") && !shown.contains("7, 7"), "{shown}");
    }
}
