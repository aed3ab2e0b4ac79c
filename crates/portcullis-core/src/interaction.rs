//! Interaction tickets: a pending authorization sealed while the host runs its login and
//! consent pages, so the host can carry it through its forms but never forge or alter it.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::SecureRandom;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::authorize::{AuthorizationRequest, RequestFields};
use crate::issuer::Issuer;
use crate::secret::RandomError;
use crate::time::UnixTime;

/// Longest ticket accepted, so decoding an attacker's string costs little. Sealing refuses
/// to make a longer one ([`SealError::TooLarge`]), so every ticket handed out opens.
pub const MAX_TICKET_LEN: usize = 16 * 1024;

/// Why a value could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The random number generator (or the cipher) failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The ticket would be longer than [`MAX_TICKET_LEN`]: the request carries too much
    /// (e.g. a long `state` full of characters JSON escapes). Refuse the request up front
    /// with `invalid_request`, rather than hand out a ticket that will not open.
    #[error("the request is too large to carry through the interaction")]
    TooLarge,
}

/// The AES-256-GCM key that seals interaction tickets. Every provider process sharing
/// pending authorizations (e.g. behind a load balancer) needs the same key.
pub struct InteractionKey(LessSafeKey);

impl InteractionKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        // AES-256 accepts any 32-byte key, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES-256 key");
        Self(LessSafeKey::new(unbound))
    }

    /// A key derived from a high-entropy `secret` (such as a 256-bit token) with
    /// HKDF-SHA256 (RFC 5869) under `salt`, which names its use.
    pub(crate) fn derive(salt: &[u8], secret: &[u8]) -> Self {
        let prk = Salt::new(HKDF_SHA256, salt).extract(secret);
        let okm = prk
            .expand(&[], &AES_256_GCM)
            .expect("one AES-256 key is a valid HKDF-SHA256 output length");
        Self(LessSafeKey::new(UnboundKey::from(okm)))
    }

    /// A fresh random key (for a single process).
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, RandomError> {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes).map_err(|_| RandomError)?;
        Ok(Self::from_bytes(&bytes))
    }
}

impl fmt::Debug for InteractionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InteractionKey(<redacted>)")
    }
}

/// A ticket that does not open: forged, altered, sealed for another issuer, or expired.
/// Which of these is deliberately not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pending authorization is invalid or has expired")]
pub struct TicketError;

#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    value: T,
    expires_at: UnixTime,
}

/// The associated data: what the ticket is for and whose it is, so a ticket of one purpose
/// or one provider never opens as another.
fn aad(purpose: &str, issuer: &Issuer) -> Vec<u8> {
    let mut a = purpose.as_bytes().to_vec();
    a.push(0);
    a.extend_from_slice(issuer.as_str().as_bytes());
    a
}

/// Seals `value` for `purpose` at `issuer` until `expires_at`:
/// `base64url(nonce ‖ ciphertext ‖ tag)` under AES-256-GCM with a random nonce.
pub fn seal_payload<T: Serialize>(
    purpose: &str,
    value: &T,
    expires_at: UnixTime,
    issuer: &Issuer,
    key: &InteractionKey,
    rng: &dyn SecureRandom,
) -> Result<String, SealError> {
    let sealed = Sealed { value, expires_at };
    let mut buf = serde_json::to_vec(&sealed).map_err(|_| RandomError)?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| RandomError)?;
    key.0
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(purpose, issuer)),
            &mut buf,
        )
        .map_err(|_| RandomError)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    if base64::encoded_len(out.len(), false).is_none_or(|len| len > MAX_TICKET_LEN) {
        return Err(SealError::TooLarge);
    }
    Ok(URL_SAFE_NO_PAD.encode(out))
}

/// Opens a ticket sealed by [`seal_payload`] with the same purpose, issuer and key, if it
/// has not expired at `now`.
pub fn open_payload<T: DeserializeOwned>(
    purpose: &str,
    ticket: &str,
    issuer: &Issuer,
    key: &InteractionKey,
    now: UnixTime,
) -> Result<(T, UnixTime), TicketError> {
    if ticket.len() > MAX_TICKET_LEN {
        return Err(TicketError);
    }
    let raw = URL_SAFE_NO_PAD.decode(ticket).map_err(|_| TicketError)?;
    if raw.len() < NONCE_LEN {
        return Err(TicketError);
    }
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TicketError)?;
    let mut buf = rest.to_vec();
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(aad(purpose, issuer)), &mut buf)
        .map_err(|_| TicketError)?;
    let sealed: Sealed<T> = serde_json::from_slice(plain).map_err(|_| TicketError)?;
    if now >= sealed.expires_at {
        return Err(TicketError);
    }
    Ok((sealed.value, sealed.expires_at))
}

const AUTHORIZE: &str = "authorize";

/// Seals a pending authorization request (see [`seal_payload`]).
pub fn seal_ticket(
    request: &AuthorizationRequest,
    expires_at: UnixTime,
    issuer: &Issuer,
    key: &InteractionKey,
    rng: &dyn SecureRandom,
) -> Result<String, SealError> {
    seal_payload(AUTHORIZE, &request.0, expires_at, issuer, key, rng)
}

/// Opens a ticket sealed by [`seal_ticket`].
pub fn open_ticket(
    ticket: &str,
    issuer: &Issuer,
    key: &InteractionKey,
    now: UnixTime,
) -> Result<(AuthorizationRequest, UnixTime), TicketError> {
    let (fields, expires_at): (RequestFields, _) =
        open_payload(AUTHORIZE, ticket, issuer, key, now)?;
    Ok((AuthorizationRequest(fields), expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        validate_authorization_request, Client, ClientKind, GrantType, Params, PkcePolicy, Policy,
        RedirectUri, ScopeSet,
    };
    use ring::rand::SystemRandom;
    use std::collections::BTreeSet;

    fn request(issuer: &Issuer) -> AuthorizationRequest {
        let client = Client {
            id: "app".into(),
            kind: ClientKind::Public,
            redirect_uris: vec![RedirectUri::parse("https://app.example/cb").unwrap()],
            allowed_scopes: ScopeSet::parse("read").unwrap(),
            default_scopes: ScopeSet::new(),
            grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: Default::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            request_objects: Default::default(),
            registration: None,
            profile: Default::default(),
            tokens: Default::default(),
            requests: Default::default(),
        };
        let q = "response_type=code&client_id=app&scope=read&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
        validate_authorization_request(
            &Params::parse(q.as_bytes()).unwrap(),
            Some(&client),
            issuer,
            &Policy::default(),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let rng = SystemRandom::new();
        let iss = Issuer::parse("https://a.example").unwrap();
        let other = Issuer::parse("https://b.example").unwrap();
        let key = InteractionKey::generate(&rng).unwrap();
        let req = request(&iss);
        let exp = UnixTime::from_secs(1000);
        let t = seal_ticket(&req, exp, &iss, &key, &rng).unwrap();
        assert_eq!(
            open_ticket(&t, &iss, &key, UnixTime::from_secs(999)).unwrap(),
            (req, exp)
        );
        assert_eq!(open_ticket(&t, &iss, &key, exp), Err(TicketError));
        assert_eq!(
            open_ticket(&t, &other, &key, UnixTime::from_secs(1)),
            Err(TicketError)
        );
        let other_key = InteractionKey::generate(&rng).unwrap();
        assert_eq!(
            open_ticket(&t, &iss, &other_key, UnixTime::from_secs(1)),
            Err(TicketError)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            open_ticket(&tampered, &iss, &key, UnixTime::from_secs(1)),
            Err(TicketError)
        );
        assert_eq!(
            open_ticket("!!", &iss, &key, UnixTime::from_secs(1)),
            Err(TicketError)
        );
        assert_eq!(
            open_ticket("", &iss, &key, UnixTime::from_secs(1)),
            Err(TicketError)
        );
    }

    /// Sealing never hands out a ticket that opening would refuse: the largest sealable
    /// value opens, one byte more is `TooLarge`.
    #[test]
    fn sealing_refuses_what_opening_would_refuse() {
        let rng = SystemRandom::new();
        let iss = Issuer::parse("https://a.example").unwrap();
        let key = InteractionKey::generate(&rng).unwrap();
        let exp = UnixTime::from_secs(1000);
        let now = UnixTime::from_secs(1);
        // The longest string whose sealed form is within the limit.
        let sealable =
            |n: &usize| seal_payload("t", &"x".repeat(*n), exp, &iss, &key, &rng).is_ok();
        let longest = (0..MAX_TICKET_LEN)
            .collect::<Vec<_>>()
            .partition_point(sealable)
            - 1;
        let fits = "x".repeat(longest);
        let ticket = seal_payload("t", &fits, exp, &iss, &key, &rng).unwrap();
        assert_eq!(
            ticket.len(),
            MAX_TICKET_LEN,
            "a ticket of exactly the limit is made"
        );
        assert_eq!(
            open_payload::<String>("t", &ticket, &iss, &key, now)
                .unwrap()
                .0,
            fits
        );
        let more = format!("{fits}x");
        assert_eq!(
            seal_payload("t", &more, exp, &iss, &key, &rng),
            Err(SealError::TooLarge)
        );
    }
}
