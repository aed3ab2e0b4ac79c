//! JSON Web Keys (RFC 7517), public keys only, and thumbprints (RFC 7638).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use super::algorithm::Algorithm;
use super::error::JoseError;
use super::verifying_key::{PublicMaterial, VerifyingKey};

/// JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1;
/// RFC 8037 §2): a JWK that must be a public key (a registered `jwks`, a DPoP proof's
/// `jwk`, RFC 9449 §4.3 item 7) is refused with any of them, not stripped.
pub(crate) const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A public JWK. Private members (`d`, `p`, …) are never read or written: a JWK with them is
/// parsed as its public part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// The algorithm the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Curve (`P-256`, `Ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// EC x coordinate, or the OKP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(field: &Option<String>) -> Result<Vec<u8>, JoseError> {
    let value = field
        .as_deref()
        .ok_or(JoseError::InvalidKey("missing key member"))?;
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| JoseError::InvalidKey("key member is not base64url"))
}

impl VerifyingKey {
    /// The JWK of this key, marked `use: sig`.
    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            kty: String::new(),
            kid: self.kid.clone(),
            use_: Some("sig".into()),
            alg: self.alg.map(|a| a.as_str().to_owned()),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match &self.material {
            PublicMaterial::Rsa { n, e } => {
                jwk.kty = "RSA".into();
                jwk.n = Some(b64(n));
                jwk.e = Some(b64(e));
            }
            PublicMaterial::P256(point) => {
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                jwk.x = Some(b64(&point[1..33]));
                jwk.y = Some(b64(&point[33..65]));
            }
            PublicMaterial::Ed25519(x) => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(b64(x));
            }
        }
        jwk
    }
}

impl Jwk {
    /// The verifying key this JWK describes. Refuses keys meant for encryption, unknown
    /// types and curves, and an `alg` that does not fit the key type.
    pub fn to_verifying_key(&self) -> Result<VerifyingKey, JoseError> {
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JoseError::InvalidKey("key is not for signatures"));
        }
        let alg = match self.alg.as_deref() {
            None => None,
            Some(a) => Some(Algorithm::parse(a).ok_or(JoseError::AlgorithmNotAllowed)?),
        };
        let material = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => PublicMaterial::Rsa {
                n: strip_zeros(unb64(&self.n)?),
                e: strip_zeros(unb64(&self.e)?),
            },
            ("EC", Some("P-256")) => {
                let (x, y) = (unb64(&self.x)?, unb64(&self.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidKey("P-256 coordinates must be 32 bytes"));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                PublicMaterial::P256(point)
            }
            ("OKP", Some("Ed25519")) => {
                let x = unb64(&self.x)?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidKey("Ed25519 keys are 32 bytes"));
                }
                PublicMaterial::Ed25519(x)
            }
            _ => return Err(JoseError::InvalidKey("unsupported key type or curve")),
        };
        let key = VerifyingKey {
            kid: self.kid.clone(),
            alg,
            material,
        };
        if let Some(a) = alg {
            if !key.fits(a) {
                return Err(JoseError::KeyMismatch);
            }
        }
        Ok(key)
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required members, in
    /// lexicographic order, without whitespace (§3.2, §3.3).
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        let s = |v: &Option<String>| -> Result<String, JoseError> {
            let v = v
                .as_deref()
                .ok_or(JoseError::InvalidKey("missing key member"))?;
            Ok(serde_json::to_string(v).unwrap_or_default())
        };
        let kty = serde_json::to_string(&self.kty).unwrap_or_default();
        let canonical = match self.kty.as_str() {
            "RSA" => format!(r#"{{"e":{},"kty":{kty},"n":{}}}"#, s(&self.e)?, s(&self.n)?),
            "EC" => format!(
                r#"{{"crv":{},"kty":{kty},"x":{},"y":{}}}"#,
                s(&self.crv)?,
                s(&self.x)?,
                s(&self.y)?
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":{kty},"x":{}}}"#,
                s(&self.crv)?,
                s(&self.x)?
            ),
            _ => return Err(JoseError::InvalidKey("unsupported key type")),
        };
        Ok(b64(digest(&SHA256, canonical.as_bytes()).as_ref()))
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let zeros = v.iter().take_while(|&&b| b == 0).count();
    v.drain(..zeros);
    v
}

/// A JWK Set (RFC 7517 §5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWK Set document, skipping members it cannot use (RFC 7517 §5: keys of an
    /// unknown `kty` SHOULD be ignored).
    pub fn parse(json: &[u8]) -> Result<Self, JoseError> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_slice(json).map_err(|_| JoseError::Malformed)?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .collect();
        Ok(Self { keys })
    }

    /// The keys usable for verification.
    pub fn verifying_keys(&self) -> Vec<VerifyingKey> {
        self.keys
            .iter()
            .filter_map(|k| k.to_verifying_key().ok())
            .collect()
    }
}
