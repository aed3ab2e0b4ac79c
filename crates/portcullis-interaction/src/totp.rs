//! A second factor: time-based one-time passwords (TOTP, RFC 6238), as authenticator apps
//! compute them: HMAC-SHA-1 (RFC 4226 §5), 30-second steps from the Unix epoch, 6 digits.
//!
//! [`TotpCheck::verify`] accepts the code of the current step or of one step either side
//! (RFC 6238 §5.2: a clock drift and a network delay of up to one step), compares in constant
//! time, and accepts a code once per user and step (RFC 6238 §5.2: "the verifier MUST NOT
//! accept the second attempt of the OTP after the successful validation"), through the
//! provider's replay cache, so that nodes sharing a store agree. Failed attempts are the
//! caller's to throttle (a 6-digit code falls to guessing otherwise): the login flow counts
//! them with the password's ([`LoginThrottle`](crate::LoginThrottle)).
//!
//! A sign-in with a password and a code reaches [`MFA_ACR`] with `amr` [`MFA_AMR`]
//! (RFC 8176 §2: `pwd`, `otp`).

use std::fmt;
use std::sync::Arc;

use portcullis::core::{constant_time_eq, Issuer, TokenHash, UnixTime};
use portcullis::store::{ReplayCache, ReplayNamespace, ReplayOutcome, StoreError};
use ring::hmac;

/// The authentication context class (`acr`) of a sign-in with a password and a one-time
/// code: what a client puts in `acr_values` (OpenID Connect Core §3.1.2.1, RFC 9470 §4) to
/// ask for it, and what a resource server's step-up challenge names.
pub const MFA_ACR: &str = "urn:portcullis:acr:mfa";

/// The authentication methods (`amr`, RFC 8176 §2) of that sign-in: a password and a
/// one-time password.
pub const MFA_AMR: [&str; 2] = ["pwd", "otp"];

/// The length of a step (RFC 6238 §5.2 recommends 30 seconds).
const STEP_SECS: u64 = 30;
/// Steps accepted either side of the current one.
const SKEW_STEPS: u64 = 1;
/// The digits of a code.
const DIGITS: usize = 6;

const USED_CODES: ReplayNamespace = ReplayNamespace::new("totp_step");

/// A user's TOTP key, shared with their authenticator app. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct TotpSecret(hmac::Key);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

/// A TOTP secret that is not valid base32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a TOTP secret must be at least 16 bytes (26 characters) of base32 (RFC 4648 §6)")]
pub struct TotpSecretError;

impl TotpSecret {
    /// The shortest key accepted: 128 bits (RFC 4226 §4 R6; 160 recommended).
    pub const MIN_LEN: usize = 16;

    /// The key of `base32`, as authenticator apps show and take it (RFC 4648 §6, the
    /// `secret` of an `otpauth://` URI): letters of either case and `2`–`7`, optional `=`
    /// padding at the end, spaces ignored; at least [`TotpSecret::MIN_LEN`] bytes.
    pub fn from_base32(base32: &str) -> Result<Self, TotpSecretError> {
        let bytes = decode_base32(base32).ok_or(TotpSecretError)?;
        if bytes.len() < Self::MIN_LEN {
            return Err(TotpSecretError);
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// The key of raw `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, bytes))
    }

    /// The code of `step` (RFC 4226 §5.3: dynamic truncation, then the low 6 digits).
    fn code(&self, step: u64) -> [u8; DIGITS] {
        let mac = hmac::sign(&self.0, &step.to_be_bytes());
        let mac = mac.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let word = [
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ];
        let mut value = u32::from_be_bytes(word) & 0x7fff_ffff;
        let mut digits = [b'0'; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (value % 10) as u8;
            value /= 10;
        }
        digits
    }
}

/// RFC 4648 §6 base32, case-insensitive, spaces skipped, `=` padding only at the end; `None`
/// for anything else, or leftover bits that are not zero.
fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in text.bytes().filter(|c| *c != b' ') {
        let value = match c {
            b'=' => {
                padding = true;
                continue;
            }
            _ if padding => return None,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (buffer == 0).then_some(out)
}

/// Checks one-time codes (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct TotpCheck {
    replays: Arc<dyn ReplayCache>,
    issuer: Issuer,
}

impl fmt::Debug for TotpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpCheck")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TotpCheck {
    /// Codes of `issuer`'s users, each accepted once, remembered in `replays` (the provider's
    /// replay cache, e.g. its store).
    pub fn new(replays: Arc<dyn ReplayCache>, issuer: Issuer) -> Self {
        Self { replays, issuer }
    }

    /// Whether `code` is `subject`'s code from `secret` at `now`, one step of drift either
    /// way, and not accepted before for that user and step. Anything but 6 ASCII digits is
    /// wrong.
    pub async fn verify(
        &self,
        subject: &str,
        secret: &TotpSecret,
        code: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(false);
        }
        let current = now.secs() / STEP_SECS;
        let steps = current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS);
        // Every step is computed and compared, whichever matches.
        let matched = steps.fold(None, |found, step| {
            let equal = constant_time_eq(&secret.code(step), code.as_bytes());
            if equal {
                Some(step)
            } else {
                found
            }
        });
        let Some(step) = matched else {
            return Ok(false);
        };
        // Remembered until no clock accepts the step any more.
        let until = UnixTime::from_secs((step + SKEW_STEPS + 1).saturating_mul(STEP_SECS));
        let id = TokenHash::of_parts(&[subject.as_bytes(), &step.to_be_bytes()]);
        let outcome = self
            .replays
            .check_and_insert(&self.issuer, USED_CODES, &id, until, now)
            .await?;
        Ok(outcome == ReplayOutcome::Fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_store_memory::MemoryStore;

    /// RFC 6238 Appendix B's SHA-1 key, "12345678901234567890".
    const RFC_KEY: &[u8] = b"12345678901234567890";

    fn check() -> TotpCheck {
        let issuer = Issuer::parse("https://as.example").unwrap();
        TotpCheck::new(Arc::new(MemoryStore::new()), issuer)
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// RFC 6238 Appendix B, SHA-1 rows, their low 6 digits (RFC 4226 Appendix D computes
    /// them the same way).
    #[test]
    fn the_rfc_6238_test_vectors() {
        let secret = TotpSecret::from_bytes(RFC_KEY);
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let got = secret.code(time / STEP_SECS);
            assert_eq!(std::str::from_utf8(&got).unwrap(), code, "{time}");
        }
    }

    /// RFC 4648 §10's base32 vectors; bad characters, padding inside, nonzero leftover bits
    /// and short keys are refused.
    #[test]
    fn base32_secrets() {
        for (text, bytes) in [
            ("", ""),
            ("MY======", "f"),
            ("MZXQ====", "fo"),
            ("MZXW6===", "foo"),
            ("MZXW6YQ=", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
            ("mzxw 6ytb oi", "foobar"),
        ] {
            assert_eq!(
                decode_base32(text).as_deref(),
                Some(bytes.as_bytes()),
                "{text}"
            );
        }
        for bad in ["MZXW6YT1", "MZ=XW6YTB", "MZ", "MZXW6YTB!", "MZXW6YTBOJ"] {
            assert_eq!(decode_base32(bad), None, "{bad}");
        }
        // The RFC key in base32: 20 bytes.
        let rfc = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        assert_eq!(decode_base32(rfc).as_deref(), Some(RFC_KEY));
        let secret = TotpSecret::from_base32(rfc).unwrap();
        assert_eq!(&secret.code(1), b"287082");
        assert_eq!(format!("{secret:?}"), "TotpSecret(…)");
        assert_eq!(
            TotpSecret::from_base32("MZXW6YTBOI======").unwrap_err(),
            TotpSecretError
        );
        assert!(TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY").is_ok());
        assert!(TotpSecret::from_base32("x").is_err());
    }

    /// The current step's code and its neighbours' pass, once each per user; two steps off,
    /// a wrong code, or a code that is not 6 digits fails.
    #[tokio::test]
    async fn codes_pass_once_within_one_step_of_drift() {
        let check = check();
        let secret = TotpSecret::from_bytes(RFC_KEY);
        let now = at(1_111_111_111);
        let step = now.secs() / STEP_SECS;
        let code = |s: u64| String::from_utf8(secret.code(s).to_vec()).unwrap();
        for s in [step - 1, step, step + 1] {
            assert!(check.verify("alice", &secret, &code(s), now).await.unwrap());
            assert!(!check.verify("alice", &secret, &code(s), now).await.unwrap());
            // Another user's step is theirs.
            assert!(check.verify("bob", &secret, &code(s), now).await.unwrap());
        }
        for s in [step - 2, step + 2] {
            assert!(!check.verify("carol", &secret, &code(s), now).await.unwrap());
        }
        let right = code(step);
        let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
        for bad in [wrong.as_str(), "12345", "1234567", "12345a", "", "+12345"] {
            assert!(
                !check.verify("carol", &secret, bad, now).await.unwrap(),
                "{bad}"
            );
        }
        assert!(check.verify("carol", &secret, &right, now).await.unwrap());
    }

    /// A used step is remembered until no clock within the drift accepts it: one step later
    /// the code is still refused; at the start of the first step that no longer accepts it,
    /// it is refused as stale.
    #[tokio::test]
    async fn a_used_code_stays_refused_while_it_is_valid() {
        let check = check();
        let secret = TotpSecret::from_bytes(RFC_KEY);
        let step = 40_000_000;
        let code = String::from_utf8(secret.code(step).to_vec()).unwrap();
        let start = at(step * STEP_SECS);
        assert!(check.verify("alice", &secret, &code, start).await.unwrap());
        let last = at((step + 2) * STEP_SECS - 1);
        assert!(!check.verify("alice", &secret, &code, last).await.unwrap());
        let later = at((step + 2) * STEP_SECS);
        assert!(!check.verify("alice", &secret, &code, later).await.unwrap());
    }
}
