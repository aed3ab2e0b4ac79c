//! JOSE against the published vectors (RFC 7515 A.2/A.3, RFC 8037 A, RFC 7638 §3.1), against
//! an independent implementation (`jsonwebtoken`), and against tampering.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis_core::{
    sign_compact, verify_compact, Algorithm, JoseError, Jwk, JwkSet, SigningKey,
};
use proptest::prelude::*;
use ring::rand::SystemRandom;
use support::A2_N;

mod support;

fn b(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

const RFC7515_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const A3_SIG: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const ED_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn rsa_jwk() -> Jwk {
    serde_json::from_value(serde_json::json!({"kty": "RSA", "n": A2_N, "e": "AQAB"})).unwrap()
}

fn rfc7515_a2_key() -> SigningKey {
    support::rfc7515_a2_key("rfc", Algorithm::RS256)
}

#[test]
fn rfc7515_a2_rs256_verifies_and_signs_identically() {
    let jws = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}.{A2_SIG}");
    let keys = [rsa_jwk().to_verifying_key().unwrap()];
    let v = verify_compact(&jws, &keys, &[Algorithm::RS256]).unwrap();
    assert_eq!(v.payload, b(RFC7515_PAYLOAD));
    // RS256 is deterministic: the same input gives the RFC's signature.
    let key = rfc7515_a2_key();
    let input = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    assert_eq!(URL_SAFE_NO_PAD.encode(sig), A2_SIG);
    // Refused when RS256 is not allowed, or when asked as PS256.
    assert_eq!(
        verify_compact(&jws, &keys, &[Algorithm::ES256]),
        Err(JoseError::AlgorithmNotAllowed)
    );
}

#[test]
fn rfc7515_a3_es256_verifies() {
    let jwk: Jwk = serde_json::from_value(
        serde_json::json!({"kty": "EC", "crv": "P-256", "x": A3_X, "y": A3_Y}),
    )
    .unwrap();
    let jws = format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}.{A3_SIG}");
    let keys = [jwk.to_verifying_key().unwrap()];
    assert!(verify_compact(&jws, &keys, &[Algorithm::ES256]).is_ok());
}

#[test]
fn rfc8037_a_ed25519_vectors() {
    let key = SigningKey::ed25519_from_seed("ed", &b(ED_D)).unwrap();
    let jwk = key.public_jwk();
    assert_eq!(jwk.x.as_deref(), Some(ED_X));
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    assert_eq!(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)), ED_JWS);
    let mut public = jwk.clone();
    public.kid = None;
    let v = verify_compact(
        ED_JWS,
        &[public.to_verifying_key().unwrap()],
        &[Algorithm::EdDSA],
    )
    .unwrap();
    assert_eq!(v.payload, b"Example of Ed25519 signing");
}

#[test]
fn rfc7638_thumbprint() {
    let jwk: Jwk = serde_json::from_value(serde_json::json!({
        "kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    })).unwrap();
    assert_eq!(
        jwk.thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

fn generated(alg: Algorithm) -> SigningKey {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => support::rfc7515_a2_key(&format!("k-{alg}"), alg),
        _ => SigningKey::generate(format!("k-{alg}"), alg, &SystemRandom::new()).unwrap(),
    }
}

#[test]
fn refuses_none_unknown_crit_and_mismatched_keys() {
    let rng = SystemRandom::new();
    let es = generated(Algorithm::ES256);
    let ed = generated(Algorithm::EdDSA);
    let keys = [es.verifying_key(), ed.verifying_key()];
    let token = sign_compact(b"{}", Some("JWT"), &es, &rng).unwrap();
    assert!(verify_compact(&token, &keys, &[Algorithm::ES256]).is_ok());
    let (_, rest) = token.split_once('.').unwrap();
    let with_header = |h: &str| format!("{}.{rest}", URL_SAFE_NO_PAD.encode(h));
    assert_eq!(
        verify_compact(&with_header(r#"{"alg":"none"}"#), &keys, &Algorithm::ALL),
        Err(JoseError::AlgorithmNotAllowed)
    );
    assert_eq!(
        verify_compact(
            &format!(
                "{}.",
                with_header(r#"{"alg":"none"}"#).rsplit_once('.').unwrap().0
            ),
            &keys,
            &Algorithm::ALL
        ),
        Err(JoseError::AlgorithmNotAllowed)
    );
    assert_eq!(
        verify_compact(
            &with_header(r#"{"alg":"HS256","kid":"k-ES256"}"#),
            &keys,
            &Algorithm::ALL
        ),
        Err(JoseError::AlgorithmNotAllowed)
    );
    assert_eq!(
        verify_compact(
            &with_header(r#"{"alg":"ES256","kid":"k-ES256","crit":["exp"],"exp":1}"#),
            &keys,
            &Algorithm::ALL
        ),
        Err(JoseError::UnsupportedCritical)
    );
    // The ES256 key asked to verify as EdDSA: the key carries its algorithm.
    assert_eq!(
        verify_compact(
            &with_header(r#"{"alg":"EdDSA","kid":"k-ES256"}"#),
            &keys,
            &Algorithm::ALL
        ),
        Err(JoseError::KeyMismatch)
    );
    assert_eq!(
        verify_compact(
            &with_header(r#"{"alg":"ES256","kid":"unknown"}"#),
            &keys,
            &Algorithm::ALL
        ),
        Err(JoseError::NoMatchingKey)
    );
    for bad in ["", "a.b", "a.b.c.d", "!!.e30.sig", &"a".repeat(70_000)] {
        assert_eq!(
            verify_compact(bad, &keys, &Algorithm::ALL),
            Err(JoseError::Malformed),
            "{bad:.20}"
        );
    }
}

/// The documented bound on a compact JWS: 64 KiB.
const MAX_JWS_LEN: usize = 64 * 1024;

/// A well-signed EdDSA token of exactly `len` bytes, found by growing the payload (and the
/// `kid`, for the lengths base64url cannot reach with one header).
fn signed_token_of_len(len: usize, key_for: impl Fn(&str) -> SigningKey) -> (String, SigningKey) {
    let rng = SystemRandom::new();
    for kid in ["k", "kk", "kkk"] {
        let key = key_for(kid);
        let short = sign_compact(b"", None, &key, &rng).unwrap().len();
        // Each three payload bytes add four characters.
        let start = (len.saturating_sub(short) * 3 / 4).saturating_sub(4);
        for n in start..start + 8 {
            let token = sign_compact(&vec![b'x'; n], None, &key, &rng).unwrap();
            if token.len() == len {
                return (token, key);
            }
        }
    }
    panic!("no token of {len} bytes");
}

/// A token at the bound verifies; one byte over it is refused as malformed even though it is
/// otherwise well-formed and correctly signed.
#[test]
fn the_length_bound_is_exact() {
    let key_for = |kid: &str| SigningKey::ed25519_from_seed(kid, &b(ED_D)).unwrap();
    let (at, key) = signed_token_of_len(MAX_JWS_LEN, key_for);
    let keys = [key.verifying_key()];
    let verified = verify_compact(&at, &keys, &[Algorithm::EdDSA]).unwrap();
    assert!(verified.payload.len() > 48_000);
    let (over, key) = signed_token_of_len(MAX_JWS_LEN + 1, key_for);
    assert_eq!(
        verify_compact(&over, &[key.verifying_key()], &[Algorithm::EdDSA]),
        Err(JoseError::Malformed)
    );
}

#[test]
fn jwks_publish_public_members_only_and_round_trip() {
    for alg in Algorithm::ALL {
        let key = generated(alg);
        let jwk = key.public_jwk();
        assert_eq!(jwk.kty, alg.key_type());
        assert_eq!(jwk.alg.as_deref(), Some(alg.as_str()));
        assert_eq!(jwk.use_.as_deref(), Some("sig"));
        let json = serde_json::to_value(&jwk).unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(json.get(private).is_none(), "{alg}: {private}");
        }
        let set = JwkSet { keys: vec![jwk] };
        let parsed = JwkSet::parse(&serde_json::to_vec(&set).unwrap()).unwrap();
        let token = sign_compact(b"hello", None, &key, &SystemRandom::new()).unwrap();
        assert_eq!(
            verify_compact(&token, &parsed.verifying_keys(), &[alg])
                .unwrap()
                .payload,
            b"hello"
        );
        // Debug shows the kid and algorithm, never key material.
        let dbg = format!("{key:?}");
        assert_eq!(
            dbg,
            format!("SigningKey {{ kid: \"k-{alg}\", alg: {alg}, .. }}")
        );
    }
    // Unknown key types are skipped, not fatal (RFC 7517 §5).
    let set = JwkSet::parse(br#"{"keys":[{"kty":"oct","k":"AAAA"},{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#).unwrap();
    assert_eq!(set.verifying_keys().len(), 1);
}

#[test]
fn interoperates_with_jsonwebtoken() {
    use jsonwebtoken::{decode, encode, DecodingKey, EncodingKey, Header, Validation};
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
        exp: u64,
    }
    let claims = Claims {
        sub: "alice".into(),
        exp: 4_000_000_000,
    };
    let payload = serde_json::to_vec(&claims).unwrap();
    let rng = SystemRandom::new();

    // Ours signs, jsonwebtoken verifies.
    let es = generated(Algorithm::ES256);
    let jwk = es.public_jwk();
    let token = sign_compact(&payload, Some("JWT"), &es, &rng).unwrap();
    let key = DecodingKey::from_ec_components(jwk.x.as_deref().unwrap(), jwk.y.as_deref().unwrap())
        .unwrap();
    let got = decode::<Claims>(
        &token,
        &key,
        &Validation::new(jsonwebtoken::Algorithm::ES256),
    )
    .unwrap();
    assert_eq!(got.claims, claims);

    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let rsa = generated(alg);
        let token = sign_compact(&payload, Some("JWT"), &rsa, &rng).unwrap();
        let key = DecodingKey::from_rsa_components(A2_N, "AQAB").unwrap();
        let jalg = if alg == Algorithm::RS256 {
            jsonwebtoken::Algorithm::RS256
        } else {
            jsonwebtoken::Algorithm::PS256
        };
        assert_eq!(
            decode::<Claims>(&token, &key, &Validation::new(jalg))
                .unwrap()
                .claims,
            claims
        );
    }

    // jsonwebtoken signs, ours verifies.
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ours = SigningKey::from_pkcs8("ed", Algorithm::EdDSA, doc.as_ref(), &rng).unwrap();
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some("ed".into());
    let token = encode(&header, &claims, &EncodingKey::from_ed_der(doc.as_ref())).unwrap();
    let v = verify_compact(&token, &[ours.verifying_key()], &[Algorithm::EdDSA]).unwrap();
    assert_eq!(
        serde_json::from_slice::<Claims>(&v.payload).unwrap(),
        claims
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// A JWS with any byte changed never verifies.
    #[test]
    fn any_changed_byte_breaks_the_signature(index in any::<prop::sample::Index>(), replacement in any::<u8>()) {
        let rng = SystemRandom::new();
        let key = SigningKey::ed25519_from_seed("ed", &b(ED_D)).unwrap();
        let token = sign_compact(br#"{"sub":"alice"}"#, Some("JWT"), &key, &rng).unwrap();
        let mut bytes = token.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        prop_assume!(tampered != token);
        prop_assert!(verify_compact(&tampered, &[key.verifying_key()], &Algorithm::ALL).is_err());
    }
}
