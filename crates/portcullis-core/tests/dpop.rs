//! DPoP proofs (RFC 9449 §4.3) through `DpopProof::verify`: every algorithm accepted, one proof
//! made by an independent implementation (`jsonwebtoken`), and every refusal with its error.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis_core::{
    Algorithm, DpopError, DpopNonces, DpopPolicy, DpopProof, DpopRequest, MacAlgorithm,
    SecurityProfile, SigningKey, UnixTime, VerifiedDpopProof, FAPI2_ALGORITHMS, MAX_DPOP_PROOF_LEN,
};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

mod support;

const NOW: u64 = 1_800_000_000;
const URI: &str = "https://as.example/token";
const TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

fn b(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn key(alg: Algorithm) -> SigningKey {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => support::rfc7515_a2_key("k", alg),
        _ => SigningKey::generate("k", alg, &SystemRandom::new()).unwrap(),
    }
}

fn header(key: &SigningKey) -> Value {
    json!({"typ": "dpop+jwt", "alg": key.alg().as_str(), "jwk": key.public_jwk()})
}

fn claims() -> Value {
    json!({"jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": URI, "iat": NOW})
}

fn encode(header: &Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{h}.{c}")
}

fn sign(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = encode(header, claims);
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// A proof by an ES256 key with its own header, altered by `edit_header` and `edit_claims`.
fn proof_with(
    edit_header: impl FnOnce(&mut Value),
    edit_claims: impl FnOnce(&mut Value),
) -> String {
    let key = key(Algorithm::ES256);
    let (mut h, mut c) = (header(&key), claims());
    edit_header(&mut h);
    edit_claims(&mut c);
    sign(&key, &h, &c)
}

fn claims_with(edit: impl FnOnce(&mut Value)) -> String {
    proof_with(|_| {}, edit)
}

fn request() -> DpopRequest<'static> {
    DpopRequest {
        method: "POST",
        uri: URI,
        access_token: None,
        nonce: None,
    }
}

fn verify(proof: &str) -> Result<VerifiedDpopProof, DpopError> {
    verify_for(proof, &request())
}

fn verify_for(proof: &str, request: &DpopRequest<'_>) -> Result<VerifiedDpopProof, DpopError> {
    DpopProof::verify(
        proof,
        request,
        &DpopPolicy::default(),
        UnixTime::from_secs(NOW),
    )
}

/// Refused with `error`, whose code is `invalid_dpop_proof`.
fn assert_invalid(result: Result<VerifiedDpopProof, DpopError>, error: DpopError) {
    assert_eq!(result, Err(error));
    assert_eq!(error.error_code(), "invalid_dpop_proof");
}

#[test]
fn accepts_every_algorithm_and_returns_the_key_thumbprint() {
    for alg in Algorithm::ALL {
        let key = key(alg);
        let proof = sign(&key, &header(&key), &claims());
        let verified = verify(&proof).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.jkt, key.public_jwk().thumbprint().unwrap());
        assert_eq!(verified.jti, "e1j3V_bKic8-LAEB");
        if key.public_jwk().kty == "RSA" {
            assert_eq!(key.public_jwk().n.as_deref(), Some(support::A2_N));
        }
        assert_eq!(verified.replay_until, UnixTime::from_secs(NOW + 61));
    }
}

#[test]
fn accepts_a_proof_made_by_jsonwebtoken() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let rng = SystemRandom::new();
    let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let ours = SigningKey::from_pkcs8("k", Algorithm::ES256, doc.as_ref(), &rng).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(json!(ours.public_jwk())).unwrap());
    let proof = encode(&header, &claims(), &EncodingKey::from_ec_der(doc.as_ref())).unwrap();
    let verified = verify(&proof).unwrap();
    assert_eq!(verified.jkt, ours.public_jwk().thumbprint().unwrap());
}

#[test]
fn typ_must_be_dpop_jwt() {
    let typ = |t: Value| proof_with(|h| h["typ"] = t, |_| {});
    assert_invalid(verify(&typ(json!("JWT"))), DpopError::WrongType);
    assert_invalid(verify(&typ(json!(null))), DpopError::WrongType);
    assert_invalid(verify(&typ(json!("dpop"))), DpopError::WrongType);
    assert_invalid(verify(&typ(json!("text/dpop+jwt"))), DpopError::WrongType);
    assert_invalid(verify(&typ(json!("application/jwt"))), DpopError::WrongType);
    assert_invalid(verify(&typ(json!("application/"))), DpopError::WrongType);
    assert_invalid(
        verify(&typ(json!("applications/dpop+jwt"))),
        DpopError::WrongType,
    );
    assert_invalid(
        verify(&typ(json!("example/foo/dpop+jwt"))),
        DpopError::WrongType,
    );
    assert_invalid(verify(&typ(json!("é"))), DpopError::WrongType);
    // Media types compare case-insensitively, "application/" may be omitted (RFC 7515 §4.1.9).
    for same in ["DPoP+JWT", "application/dpop+jwt", "Application/DPOP+jwt"] {
        assert!(verify(&typ(json!(same))).is_ok(), "{same}");
    }
}

#[test]
fn none_hmac_and_unlisted_algorithms_are_refused() {
    let key = key(Algorithm::ES256);
    let mut h = header(&key);
    h["alg"] = json!("none");
    let unsigned = format!("{}.", encode(&h, &claims()));
    assert_invalid(verify(&unsigned), DpopError::AlgorithmNotAllowed);

    // An HMAC keyed with the public key's JSON: refused before any key is used.
    h["alg"] = json!("HS256");
    let input = encode(&h, &claims());
    let secret = serde_json::to_vec(&key.public_jwk()).unwrap();
    let mac = MacAlgorithm::HS256.sign(&secret, input.as_bytes());
    let hs = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
    assert_invalid(verify(&hs), DpopError::AlgorithmNotAllowed);

    h.as_object_mut().unwrap().remove("alg");
    assert_invalid(
        verify(&sign(&key, &h, &claims())),
        DpopError::AlgorithmNotAllowed,
    );

    // Not in the policy's list.
    let mut policy = DpopPolicy::default();
    policy.algorithms = vec![Algorithm::EdDSA];
    let proof = sign(&key, &header(&key), &claims());
    let got = DpopProof::verify(&proof, &request(), &policy, UnixTime::from_secs(NOW));
    assert_invalid(got, DpopError::AlgorithmNotAllowed);
}

/// FAPI 2.0 §5.4.1: a FAPI client's proofs are held to PS256, ES256 and EdDSA whatever the
/// provider allows; a standard client's to the provider's list, unchanged.
#[test]
fn a_fapi2_client_is_held_to_the_fapi2_algorithms() {
    let mut provider = DpopPolicy::default();
    provider.max_age = Duration::from_secs(7);
    provider.require_nonce = true;
    let fapi = provider.for_profile(SecurityProfile::Fapi2);
    let mut expected = provider.clone();
    expected.algorithms = FAPI2_ALGORITHMS.to_vec();
    assert_eq!(fapi, expected, "only the algorithms narrow");
    assert_eq!(provider.for_profile(SecurityProfile::Standard), provider);
    let verify_with = |policy: &DpopPolicy, alg| {
        let key = key(alg);
        let proof = sign(&key, &header(&key), &claims());
        DpopProof::verify(&proof, &request(), policy, UnixTime::from_secs(NOW))
    };
    assert_invalid(
        verify_with(&fapi, Algorithm::RS256),
        DpopError::AlgorithmNotAllowed,
    );
    assert!(verify_with(&provider, Algorithm::RS256).is_ok());
    for alg in FAPI2_ALGORITHMS {
        assert!(verify_with(&fapi, alg).is_ok(), "{alg}");
    }
    // Never wider than the provider's: a FAPI client of an EdDSA-only provider gets EdDSA.
    let mut eddsa = DpopPolicy::default();
    eddsa.algorithms = vec![Algorithm::RS256, Algorithm::EdDSA];
    assert_eq!(
        eddsa.for_profile(SecurityProfile::Fapi2).algorithms,
        [Algorithm::EdDSA]
    );
}

#[test]
fn the_jwk_must_be_a_public_key_fitting_alg() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let proof = proof_with(|h| h["jwk"][member] = json!("AQAB"), |_| {});
        assert_invalid(verify(&proof), DpopError::PrivateKey);
    }
    let proof = proof_with(
        |h| h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"}),
        |_| {},
    );
    assert_invalid(verify(&proof), DpopError::PrivateKey);

    let missing = proof_with(|h| drop(h.as_object_mut().unwrap().remove("jwk")), |_| {});
    assert_invalid(verify(&missing), DpopError::InvalidKey);
    let not_a_key = proof_with(|h| h["jwk"] = json!({"kty": 1}), |_| {});
    assert_invalid(verify(&not_a_key), DpopError::InvalidKey);
    let unusable = proof_with(|h| h["jwk"] = json!({"kty": "EC", "crv": "P-384"}), |_| {});
    assert_invalid(verify(&unusable), DpopError::InvalidKey);
    // The jwk's own alg must be the proof's.
    for alg in ["PS256", "HS256", "none"] {
        let other_alg = proof_with(|h| h["jwk"]["alg"] = json!(alg), |_| {});
        assert_invalid(verify(&other_alg), DpopError::InvalidKey);
    }
    let encryption = proof_with(|h| h["jwk"]["use"] = json!("enc"), |_| {});
    assert_invalid(verify(&encryption), DpopError::InvalidKey);

    // Any kid in the header names the jwk itself.
    let with_kid = proof_with(|h| h["kid"] = json!("another"), |_| {});
    assert!(verify(&with_kid).is_ok());
}

#[test]
fn the_signature_must_verify_with_the_jwk() {
    let (signer, other) = (key(Algorithm::ES256), key(Algorithm::ES256));
    let forged = sign(&signer, &header(&other), &claims());
    assert_invalid(verify(&forged), DpopError::InvalidSignature);

    let proof = sign(&signer, &header(&signer), &claims());
    let (input, sig) = proof.rsplit_once('.').unwrap();
    let mut sig = b(sig);
    sig[0] ^= 1;
    let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_invalid(verify(&tampered), DpopError::InvalidSignature);
}

#[test]
fn malformed_proofs_are_refused() {
    let proof = claims_with(|_| {});
    let (h, rest) = proof.split_once('.').unwrap();
    let (c, s) = rest.split_once('.').unwrap();
    for bad in [
        String::new(),
        format!("{h}.{c}"),
        format!("{h}.{c}.{s}.{s}"),
        format!("!{h}.{c}.{s}"),
        format!("{}.{c}.{s}", URL_SAFE_NO_PAD.encode("not json")),
        format!("{h}.{c}.!{s}"),
    ] {
        assert_invalid(verify(&bad), DpopError::Malformed);
    }
    // Signed, but the claims are not a JSON object.
    let key = key(Algorithm::EdDSA);
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header(&key)).unwrap()),
        URL_SAFE_NO_PAD.encode("[1]")
    );
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    let not_claims = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
    assert_invalid(verify(&not_claims), DpopError::Malformed);
    // An unknown critical header.
    let crit = proof_with(|h| h["crit"] = json!(["x"]), |_| {});
    assert_invalid(verify(&crit), DpopError::Malformed);
}

#[test]
fn jti_is_required_and_bounded() {
    let jti = |j: Value| claims_with(|c| c["jti"] = j);
    assert_invalid(verify(&jti(json!(null))), DpopError::InvalidJti);
    assert_invalid(verify(&jti(json!(""))), DpopError::InvalidJti);
    assert_invalid(verify(&jti(json!("j".repeat(257)))), DpopError::InvalidJti);
    assert_eq!(
        verify(&jti(json!("j".repeat(256)))).unwrap().jti,
        "j".repeat(256)
    );
    assert_eq!(verify(&jti(json!("j"))).unwrap().jti, "j");
}

#[test]
fn htm_must_be_the_method_exactly() {
    let htm = |m: Value| claims_with(|c| c["htm"] = m);
    assert_invalid(verify(&htm(json!("GET"))), DpopError::WrongMethod);
    assert_invalid(verify(&htm(json!("post"))), DpopError::WrongMethod);
    assert_invalid(verify(&htm(json!(null))), DpopError::WrongMethod);
}

#[test]
fn htu_is_compared_normalised_without_query_and_fragment() {
    let htu = |u: &str| claims_with(|c| c["htu"] = json!(u));
    for same in [
        "https://as.example/token?x=1#f",
        "HTTPS://AS.Example:443/token",
        "https://as.example/a/../token",
        "https://as.example/%74oken",
    ] {
        assert!(verify(&htu(same)).is_ok(), "{same}");
    }
    let with_query = DpopRequest {
        uri: "https://as.example/token?other=2#g",
        ..request()
    };
    assert!(verify_for(&htu(URI), &with_query).is_ok());
    let root = DpopRequest {
        uri: "https://as.example",
        ..request()
    };
    assert!(verify_for(&htu("https://as.example/"), &root).is_ok());
    let encoded = DpopRequest {
        uri: "https://as.example/a%2fb",
        ..request()
    };
    assert!(verify_for(&htu("https://as.example/a%2Fb"), &encoded).is_ok());
    assert_invalid(
        verify_for(&htu("https://as.example/a/b"), &encoded),
        DpopError::WrongUri,
    );

    for other in [
        "https://as.example/token/",
        "https://as.example/Token",
        "http://as.example/token",
        "https://as.example:8443/token",
        "https://other.example/token",
        "/token",
        "mailto:a@as.example",
    ] {
        assert_invalid(verify(&htu(other)), DpopError::WrongUri);
    }
    assert_invalid(
        verify(&claims_with(|c| c["htu"] = json!(null))),
        DpopError::WrongUri,
    );
    let unparseable = DpopRequest {
        uri: "not a uri",
        ..request()
    };
    assert_invalid(verify_for(&htu(URI), &unparseable), DpopError::WrongUri);
}

#[test]
fn percent_encodings_are_normalised() {
    let htu = |u: &str| claims_with(|c| c["htu"] = json!(u));
    let request = DpopRequest {
        uri: "https://as.example/a~b%C3%A9%25",
        ..request()
    };
    for same in [
        "https://as.example/a%7Eb%c3%a9%25",
        "https://as.example/a%7eb%C3%A9%25",
    ] {
        assert!(verify_for(&htu(same), &request).is_ok(), "{same}");
    }
    for other in [
        "https://as.example/a~b%C3%A9%",
        "https://as.example/a~b%C3%A9%2",
        "https://as.example/a~b%C3%A9%+5",
    ] {
        assert_invalid(verify_for(&htu(other), &request), DpopError::WrongUri);
    }
}

#[test]
fn iat_must_be_within_the_window() {
    let iat = |t: Value| claims_with(|c| c["iat"] = t);
    assert!(verify(&iat(json!(NOW - 60))).is_ok());
    assert_invalid(verify(&iat(json!(NOW - 61))), DpopError::IssuedAt);
    assert!(verify(&iat(json!(NOW + 10))).is_ok());
    assert_invalid(verify(&iat(json!(NOW + 11))), DpopError::IssuedAt);
    let missing = claims_with(|c| drop(c.as_object_mut().unwrap().remove("iat")));
    assert_invalid(verify(&missing), DpopError::IssuedAt);
    assert_invalid(verify(&iat(json!(null))), DpopError::Malformed);
    assert_invalid(verify(&iat(json!("now"))), DpopError::Malformed);
    assert_eq!(
        verify(&iat(json!(NOW - 30))).unwrap().replay_until,
        UnixTime::from_secs(NOW + 31)
    );

    // The skew is capped at 60 s; the age is the host's.
    let mut policy = DpopPolicy::default();
    policy.max_skew = Duration::from_secs(600);
    policy.max_age = Duration::from_secs(300);
    let at = |t: u64| {
        DpopProof::verify(
            &iat(json!(t)),
            &request(),
            &policy,
            UnixTime::from_secs(NOW),
        )
    };
    assert!(at(NOW + 60).is_ok());
    assert_invalid(at(NOW + 61), DpopError::IssuedAt);
    assert_eq!(
        at(NOW - 300).unwrap().replay_until,
        UnixTime::from_secs(NOW + 1)
    );
    assert_invalid(at(NOW - 301), DpopError::IssuedAt);
}

#[test]
fn ath_must_hash_a_presented_access_token() {
    let ath = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        TOKEN.as_bytes(),
    ));
    let with_token = DpopRequest {
        access_token: Some(TOKEN),
        ..request()
    };
    let proof = claims_with(|c| c["ath"] = json!(ath));
    assert!(verify_for(&proof, &with_token).is_ok());
    // Without an access token, ath is not looked at.
    assert!(verify(&proof).is_ok());

    assert_invalid(
        verify_for(&claims_with(|_| {}), &with_token),
        DpopError::AccessTokenHash,
    );
    let other = claims_with(|c| c["ath"] = json!(format!("{}A", &ath[..ath.len() - 1])));
    assert_invalid(verify_for(&other, &with_token), DpopError::AccessTokenHash);
    let raw = claims_with(|c| c["ath"] = json!(TOKEN));
    assert_invalid(verify_for(&raw, &with_token), DpopError::AccessTokenHash);
}

#[test]
fn a_required_nonce_must_be_the_servers() {
    let period = Duration::from_secs(300);
    let nonces = DpopNonces::new(&[7; 32], period);
    let with_nonce = DpopRequest {
        nonce: Some(&nonces),
        ..request()
    };
    let now = UnixTime::from_secs(NOW);
    let current = nonces.current(now);
    let proof = claims_with(|c| c["nonce"] = json!(current));
    assert!(verify_for(&proof, &with_nonce).is_ok());
    assert!(verify(&proof).is_ok());
    let other_key = DpopNonces::new(&[8; 32], period).current(now);
    let mut tampered = current.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [json!(null), json!(other_key), json!(tampered), json!("")] {
        let got = verify_for(&claims_with(|c| c["nonce"] = bad), &with_nonce);
        assert_eq!(got, Err(DpopError::UseNonce));
        assert_eq!(DpopError::UseNonce.error_code(), "use_dpop_nonce");
    }
    // Any other fault is reported first: use_dpop_nonce only asks for a new nonce.
    let stale = claims_with(|c| c["iat"] = json!(NOW - 600));
    assert_invalid(verify_for(&stale, &with_nonce), DpopError::IssuedAt);
}

#[test]
fn a_nonce_lives_its_period_and_the_next_then_rotates() {
    let period = Duration::from_secs(300);
    let nonces = DpopNonces::new(&[7; 32], period);
    let start = UnixTime::from_secs(NOW - NOW % 300);
    let nonce = nonces.current(start);
    assert_eq!(nonces.current(start.plus(Duration::from_secs(299))), nonce);
    let next = nonces.current(start.plus(period));
    assert_ne!(next, nonce, "a new period hands out a new nonce");
    assert!(nonces.accepts(&nonce, start));
    assert!(nonces.accepts(&nonce, start.plus(Duration::from_secs(599))));
    assert!(!nonces.accepts(&nonce, start.plus(Duration::from_secs(600))));
    assert!(
        !nonces.accepts(&next, start),
        "a nonce of the future is refused"
    );
    assert!(nonces.accepts(
        &nonces.current(UnixTime::from_secs(0)),
        UnixTime::from_secs(1)
    ));
    assert_eq!(
        format!("{nonces:?}"),
        "DpopNonces { period_secs: 300, .. }",
        "the period shows, the key never"
    );
}

#[test]
fn the_length_bound_is_exact() {
    let key = key(Algorithm::EdDSA);
    let proof_of = |pad: usize| {
        let mut c = claims();
        c["pad"] = json!("p".repeat(pad));
        sign(&key, &header(&key), &c)
    };
    let base = proof_of(0).len();
    let pad = (0..8)
        .map(|extra| (MAX_DPOP_PROOF_LEN - base) * 3 / 4 - 4 + extra)
        .find(|&p| proof_of(p).len() == MAX_DPOP_PROOF_LEN)
        .expect("a padding reaching the bound");
    assert!(verify(&proof_of(pad)).is_ok());
    let over = proof_of(pad + 1);
    assert!(over.len() > MAX_DPOP_PROOF_LEN);
    assert_invalid(verify(&over), DpopError::TooLong);
    assert_invalid(
        verify(&"a".repeat(MAX_DPOP_PROOF_LEN + 1)),
        DpopError::TooLong,
    );
}

#[test]
fn messages_never_carry_the_proof() {
    let proof = claims_with(|c| c["htm"] = json!("GET"));
    let error = verify(&proof).unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(&proof[..20]), "{shown}");
}
