//! The core's operations and, beside each, ring doing only the cryptography of it.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis::core::{
    mint_access_token, mint_jwt_access_token, negotiate_scopes, sign_compact, verify_compact,
    AcceptedAssertion, AccessTokenRecord, Algorithm, ClientAssertion, ClientAssertionPolicy,
    CodeChallenge, CodeChallengeMethod, DpopPolicy, DpopProof, DpopRequest, MintedToken, Params,
    ScopeSet, SigningKey, TokenSubject, VerifiedDpopProof, VerifiedJws, VerifyingKey,
    JWT_BEARER_ASSERTION_TYPE,
};
use portcullis_resource::TokenClaims;
use ring::digest::{digest, Digest, SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use ring::rsa::{KeyPairComponents, PublicKeyComponents};
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, UnparsedPublicKey,
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_SHA256,
};

use crate::fixtures::{Delegated, ISSUER, LIFETIME, NOW};
use crate::resource::ResourceServer;

/// The JWT access-token algorithms benchmarked.
const JWT_ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

/// The client and token endpoint of the client-assertion benchmark.
const ASSERTION_CLIENT: &str = "bench-jwt";
const TOKEN_ENDPOINT: &str = "https://as.example/token";

/// A PKCE verifier (RFC 7636 Appendix B).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The 2048-bit RSA key of RFC 7515 Appendix A.2 (ring cannot generate RSA keys).
const RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RSA_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
const RSA_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
const RSA_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
const RSA_DP: &str = "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
const RSA_DQ: &str = "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
const RSA_QI: &str = "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url constant")
}

/// ring's own key object for an algorithm.
enum RingKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// One algorithm: our key and ring's for the same key, and a JWT access token minted by
/// the core to verify.
pub struct Signer {
    alg: Algorithm,
    key: SigningKey,
    verifying: Vec<VerifyingKey>,
    ring: RingKey,
    /// The public key as ring takes it: the P-256 point, the Ed25519 key, or the RSA modulus.
    public: Vec<u8>,
    /// A JWT access token as the core mints it without a resource (no `aud`).
    jwt: Compact,
    /// The same for the issuer as its audience, as the engine mints it without a resource
    /// (RFC 9068 §3): what a resource server validates.
    access_token: Compact,
}

/// A compact JWS, its signing input and signature as ring takes them.
struct Compact {
    jws: String,
    signing_input_len: usize,
    signature: Vec<u8>,
}

impl Compact {
    fn new(jws: String) -> Self {
        let signing_input_len = jws.rfind('.').expect("compact JWS");
        let signature = b64(&jws[signing_input_len + 1..]);
        Self {
            jws,
            signing_input_len,
            signature,
        }
    }

    fn signing_input(&self) -> &[u8] {
        &self.jws.as_bytes()[..self.signing_input_len]
    }
}

impl Signer {
    fn new(alg: Algorithm, who: &Delegated, rng: &SystemRandom) -> Self {
        let (key, ring) = match alg {
            Algorithm::RS256 => {
                let (n, e, d, p, q, dp, dq, qi) = (
                    b64(RSA_N),
                    b64("AQAB"),
                    b64(RSA_D),
                    b64(RSA_P),
                    b64(RSA_Q),
                    b64(RSA_DP),
                    b64(RSA_DQ),
                    b64(RSA_QI),
                );
                let c = KeyPairComponents {
                    public_key: PublicKeyComponents {
                        n: &n[..],
                        e: &e[..],
                    },
                    d: &d[..],
                    p: &p[..],
                    q: &q[..],
                    dP: &dp[..],
                    dQ: &dq[..],
                    qInv: &qi[..],
                };
                let key = SigningKey::rsa_from_components("rsa", alg, &c).expect("RSA key");
                let pair = RsaKeyPair::from_components(&c).expect("RSA key");
                (key, RingKey::Rsa(pair))
            }
            Algorithm::ES256 => {
                let key = SigningKey::generate("ec", alg, rng).expect("P-256 key");
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    key.pkcs8_der(),
                    rng,
                )
                .expect("P-256 key");
                (key, RingKey::Ecdsa(pair))
            }
            Algorithm::EdDSA => {
                let key = SigningKey::generate("ed", alg, rng).expect("Ed25519 key");
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.pkcs8_der())
                    .expect("Ed25519 key");
                (key, RingKey::Ed25519(pair))
            }
            Algorithm::PS256 => unreachable!("PS256 is not benchmarked"),
        };
        let jwt = Compact::new(
            mint_jwt(&who.subject(), &key, rng)
                .secret
                .expose()
                .to_owned(),
        );
        let audience = [ISSUER.to_owned()];
        let for_issuer = TokenSubject {
            audience: &audience,
            ..who.subject()
        };
        let access_token =
            Compact::new(mint_jwt(&for_issuer, &key, rng).secret.expose().to_owned());
        let public = match &ring {
            RingKey::Ecdsa(pair) => pair.public_key().as_ref().to_vec(),
            RingKey::Ed25519(pair) => pair.public_key().as_ref().to_vec(),
            RingKey::Rsa(_) => b64(RSA_N),
        };
        Self {
            public,
            alg,
            verifying: vec![key.verifying_key()],
            key,
            ring,
            jwt,
            access_token,
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
}

fn mint_jwt(
    to: &TokenSubject<'_>,
    key: &SigningKey,
    rng: &SystemRandom,
) -> MintedToken<AccessTokenRecord> {
    mint_jwt_access_token(to, NOW, NOW.plus(LIFETIME), Default::default(), key, rng)
        .expect("JWT minted")
}

/// ring verifying `jws`'s signature with `signer`'s key.
fn ring_verify(signer: &Signer, jws: &Compact) -> bool {
    let (message, sig) = (jws.signing_input(), &jws.signature[..]);
    let public = &signer.public[..];
    match &signer.ring {
        RingKey::Ecdsa(_) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(message, sig)
            .is_ok(),
        RingKey::Ed25519(_) => UnparsedPublicKey::new(&ED25519, public)
            .verify(message, sig)
            .is_ok(),
        RingKey::Rsa(_) => PublicKeyComponents {
            n: public,
            e: &[1u8, 0, 1][..],
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, sig)
        .is_ok(),
    }
}

/// Every core operation benchmarked, with its inputs prepared once.
pub struct CoreOps {
    rng: SystemRandom,
    who: Delegated,
    signers: Vec<Signer>,
    challenge: CodeChallenge,
    requested: &'static str,
    allowed: ScopeSet,
    default_scopes: ScopeSet,
    assertion: Assertion,
    proofs: Vec<Proof>,
    resource: ResourceServer,
}

/// The DPoP proof algorithms benchmarked.
const DPOP_ALGORITHMS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::EdDSA];

/// A DPoP proof (RFC 9449 §4.2) for a token request, and its signing input, signature and
/// public key as ring takes them.
pub struct Proof {
    alg: Algorithm,
    jwt: String,
    policy: DpopPolicy,
    public: Vec<u8>,
    signing_input_len: usize,
    signature: Vec<u8>,
}

impl Proof {
    fn new(alg: Algorithm, rng: &SystemRandom) -> Self {
        let key = SigningKey::generate("dpop", alg, rng).expect("key");
        let header =
            serde_json::json!({"typ": "dpop+jwt", "alg": alg.as_str(), "jwk": key.public_jwk()});
        let claims = serde_json::json!({
            "jti": "e1j3V_bKic8-LAEB", "htm": "POST", "htu": TOKEN_ENDPOINT, "iat": NOW.secs(),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(input.as_bytes(), rng).expect("signed");
        let public = match alg {
            Algorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.pkcs8_der(), rng)
                    .expect("P-256 key")
                    .public_key()
                    .as_ref()
                    .to_vec()
            }
            _ => Ed25519KeyPair::from_pkcs8_maybe_unchecked(key.pkcs8_der())
                .expect("Ed25519 key")
                .public_key()
                .as_ref()
                .to_vec(),
        };
        Self {
            alg,
            jwt: format!("{input}.{}", URL_SAFE_NO_PAD.encode(&signature)),
            policy: DpopPolicy::default(),
            public,
            signing_input_len: input.len(),
            signature,
        }
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
}

/// A `private_key_jwt` client-credentials form (RFC 7523 §2.2) with its ES256 assertion,
/// the client's key, and the assertion's signing input and signature as ring takes them.
struct Assertion {
    form: Vec<u8>,
    keys: Vec<VerifyingKey>,
    policy: ClientAssertionPolicy,
    public: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Assertion {
    fn new(rng: &SystemRandom) -> Self {
        let key = SigningKey::generate("client", Algorithm::ES256, rng).expect("P-256 key");
        let claims = serde_json::json!({
            "iss": ASSERTION_CLIENT, "sub": ASSERTION_CLIENT, "aud": TOKEN_ENDPOINT,
            "iat": NOW.secs(), "exp": NOW.secs() + 60, "jti": "3JgB1wq2hN0kTq7X5m9Yc",
        });
        let jwt = sign_compact(claims.to_string().as_bytes(), Some("JWT"), &key, rng)
            .expect("assertion signed");
        let dot = jwt.rfind('.').expect("compact JWS");
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", "api")
            .append_pair("client_assertion_type", JWT_BEARER_ASSERTION_TYPE)
            .append_pair("client_assertion", &jwt)
            .finish();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.pkcs8_der(), rng)
            .expect("P-256 key");
        Self {
            form: form.into_bytes(),
            keys: vec![key.verifying_key()],
            policy: ClientAssertionPolicy::default(),
            public: pair.public_key().as_ref().to_vec(),
            signing_input: jwt.as_bytes()[..dot].to_vec(),
            signature: b64(&jwt[dot + 1..]),
        }
    }
}

impl Default for CoreOps {
    fn default() -> Self {
        Self::new()
    }
}

impl CoreOps {
    /// Keys for every algorithm (fresh ES256 and EdDSA keys, the RFC 7515 RSA key), one
    /// user's delegation, a PKCE challenge, a client's scope policy.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let who = Delegated::user(42, &rng);
        let signers: Vec<Signer> = JWT_ALGORITHMS
            .iter()
            .map(|&alg| Signer::new(alg, &who, &rng))
            .collect();
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes()));
        Self {
            challenge: CodeChallenge::new(CodeChallengeMethod::S256, &challenge)
                .expect("S256 challenge"),
            requested: "openid profile email offline_access",
            allowed: ScopeSet::parse("openid profile email phone address offline_access read")
                .expect("scopes"),
            default_scopes: ScopeSet::parse("openid").expect("scopes"),
            assertion: Assertion::new(&rng),
            proofs: DPOP_ALGORITHMS
                .iter()
                .map(|&alg| Proof::new(alg, &rng))
                .collect(),
            resource: ResourceServer::new(
                ISSUER,
                signers
                    .iter()
                    .map(|s: &Signer| s.key.public_jwk())
                    .collect(),
            ),
            signers,
            who,
            rng,
        }
    }

    /// The benchmarked algorithms' fixtures.
    pub fn signers(&self) -> &[Signer] {
        &self.signers
    }

    /// Ours: an opaque access token and its record (`mint_access_token`).
    pub fn mint_opaque(&self) -> MintedToken<AccessTokenRecord> {
        mint_access_token(&self.who.subject(), NOW, LIFETIME, &self.rng).expect("rng")
    }

    /// ring alone: one 32-byte draw from `SystemRandom` and one SHA-256.
    pub fn ring_opaque(&self) -> Digest {
        let mut bytes = [0u8; 32];
        self.rng.fill(&mut bytes).expect("rng");
        digest(&SHA256, &bytes)
    }

    /// Ours: a JWT access token (RFC 9068) and its record (`mint_jwt_access_token`).
    pub fn mint_jwt(&self, signer: &Signer) -> MintedToken<AccessTokenRecord> {
        mint_jwt(&self.who.subject(), &signer.key, &self.rng)
    }

    /// ring alone: the signature over a signing input as long as ours, same key and
    /// algorithm. Returns the signature's length.
    pub fn ring_sign(&self, signer: &Signer) -> usize {
        let message = signer.jwt.signing_input();
        match &signer.ring {
            RingKey::Ecdsa(pair) => pair.sign(&self.rng, message).expect("sign").as_ref().len(),
            RingKey::Ed25519(pair) => pair.sign(message).as_ref().len(),
            RingKey::Rsa(pair) => {
                let mut sig = [0u8; 512];
                let sig = &mut sig[..pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, sig)
                    .expect("sign");
                sig.len()
            }
        }
    }

    /// Ours: verifying the JWT access token (`verify_compact`: parse, header checks, key
    /// selection, signature).
    pub fn verify_jwt(&self, signer: &Signer) -> VerifiedJws {
        verify_compact(&signer.jwt.jws, &signer.verifying, &[signer.alg]).expect("verifies")
    }

    /// Ours, at a resource server: the signer's JWT access token validated by
    /// `portcullis-resource`'s `JwtValidator` (RFC 9068 §4: size, header, allow-listed `alg`,
    /// key by `kid` from the cached JWK Set, signature, `typ`, claims read, `iss`, `aud`,
    /// `exp`/`nbf`/`iat`).
    pub fn validate_access_token(&self, signer: &Signer) -> TokenClaims {
        self.resource.validate(&signer.access_token.jws, NOW)
    }

    /// ring alone: verifying the same signature over the same input with the same key.
    pub fn ring_verify(&self, signer: &Signer) -> bool {
        ring_verify(signer, &signer.jwt)
    }

    /// ring alone: verifying the resource server's access token's signature, as
    /// [`ring_verify`](Self::ring_verify).
    pub fn ring_verify_access_token(&self, signer: &Signer) -> bool {
        ring_verify(signer, &signer.access_token)
    }

    /// Ours: a `private_key_jwt` client assertion (RFC 7523 §2.2, §3) as the token endpoint
    /// takes it: the form parsed, the assertion read, its ES256 signature verified with the
    /// client's key, its claims judged.
    pub fn verify_assertion(&self) -> AcceptedAssertion {
        let a = &self.assertion;
        let params = Params::parse(&a.form).expect("form");
        let assertion = ClientAssertion::extract(&params).expect("assertion");
        assertion
            .verify_signature(&a.keys, &[Algorithm::ES256])
            .expect("verifies")
            .decide(ASSERTION_CLIENT, &[TOKEN_ENDPOINT], &a.policy, NOW)
            .expect("accepted")
    }

    /// ring alone: verifying the assertion's ES256 signature over its signing input.
    pub fn ring_verify_assertion(&self) -> bool {
        let a = &self.assertion;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &a.public)
            .verify(&a.signing_input, &a.signature)
            .is_ok()
    }

    /// The DPoP proofs' fixtures, one per benchmarked algorithm.
    pub fn proofs(&self) -> &[Proof] {
        &self.proofs
    }

    /// Ours: a DPoP proof checked for a token request (RFC 9449 §4.3): header read, `jwk`
    /// parsed, signature verified, thumbprint taken, claims judged.
    pub fn verify_proof(&self, proof: &Proof) -> VerifiedDpopProof {
        let request = DpopRequest {
            method: "POST",
            uri: TOKEN_ENDPOINT,
            access_token: None,
            nonce: None,
        };
        DpopProof::verify(&proof.jwt, &request, &proof.policy, NOW).expect("valid proof")
    }

    /// ring alone: verifying the proof's signature over its signing input with its key.
    pub fn ring_verify_proof(&self, proof: &Proof) -> bool {
        let alg: &dyn ring::signature::VerificationAlgorithm = match proof.alg {
            Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
            _ => &ED25519,
        };
        UnparsedPublicKey::new(alg, &proof.public)
            .verify(
                &proof.jwt.as_bytes()[..proof.signing_input_len],
                &proof.signature,
            )
            .is_ok()
    }

    /// Ours: checking an S256 PKCE verifier against the code's challenge (RFC 7636 §4.6).
    pub fn pkce_verify(&self) -> bool {
        self.challenge.verify(VERIFIER)
    }

    /// ring alone: SHA-256 of the verifier, base64url-encoded.
    pub fn ring_pkce(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes()))
    }

    /// Ours: parsing a request's `scope` and negotiating it against the client's policy.
    pub fn negotiate(&self) -> ScopeSet {
        let requested = ScopeSet::parse(self.requested).expect("scope");
        negotiate_scopes(Some(&requested), &self.allowed, &self.default_scopes).expect("allowed")
    }
}
