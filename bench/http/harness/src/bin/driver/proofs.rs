//! DPoP proofs (RFC 9449 §4.2) for the `dpop` case, signed with the `jsonwebtoken` crate, so
//! the servers verify what an independent signer made: `typ` `dpop+jwt`, `alg` ES256, `jwk`
//! the public key of a key `keygen` made; `jti` a random 256-bit value, `htm` and `htu` the
//! token request's, `iat` the time of signing. `proofs` signs a pool of them, one a line,
//! just before a wrk run spends them, one per request.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::assertions::{public_jwk, sign_pool, PRIVATE_KEY};
use crate::Result;

#[derive(Debug, clap::Args)]
pub(crate) struct ProofArgs {
    /// The directory `keygen` wrote: the proofs' key.
    #[arg(long)]
    keys: PathBuf,
    /// The request's method (`htm`).
    #[arg(long, default_value = "POST")]
    htm: String,
    /// The request's URL without query and fragment (`htu`): the token endpoint's.
    #[arg(long)]
    htu: String,
    /// Proofs to sign.
    #[arg(long)]
    count: usize,
    /// The file to write, one proof a line.
    #[arg(long)]
    out: PathBuf,
}

/// Signs `count` proofs with the key in `keys`, each with its own `jti`.
pub(crate) fn proofs(args: ProofArgs) -> Result<()> {
    let pkcs8 = std::fs::read(args.keys.join(PRIVATE_KEY))?;
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("dpop+jwt".to_owned());
    header.jwk = Some(serde_json::from_value::<Jwk>(Value::Object(public_jwk(
        &pkcs8,
    )?))?);
    let key = EncodingKey::from_ec_der(&pkcs8);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    sign_pool(args.count, &args.out, |jti| {
        let claims = json!({ "jti": jti, "htm": args.htm, "htu": args.htu, "iat": now });
        Ok(encode(&header, &claims, &key)?)
    })
}
