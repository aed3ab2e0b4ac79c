//! `private_key_jwt` client assertions (RFC 7523 §2.2, §3) for the `private_key_jwt` case,
//! signed with the `jsonwebtoken` crate, so the servers verify what an independent signer
//! made. `keygen` makes a P-256 key (the client's, or the `dpop` case's proof key);
//! `assertions` signs a pool of single-use assertions (each with its own `jti`), one a line,
//! before a wrk run spends them. [`sign_pool`] and [`public_jwk`] serve `proofs.rs` too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, EncodingKey, Header};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Map, Value};

use crate::Result;

/// The private key (PKCS#8 DER) in the key directory.
pub(crate) const PRIVATE_KEY: &str = "client.p8";
/// The client's public key, a JWK Set (RFC 7517 §5) to register on both servers.
const PUBLIC_JWKS: &str = "client.jwks.json";
/// The key's `kid`.
const KID: &str = "bench-client-es256";

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// The directory to write `client.p8` and `client.jwks.json` into.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AssertionArgs {
    /// The directory `keygen` wrote.
    #[arg(long)]
    keys: PathBuf,
    /// The client's id (`iss` and `sub`).
    #[arg(long)]
    client_id: String,
    /// The audience (`aud`): the token endpoint's URL.
    #[arg(long)]
    audience: String,
    /// Seconds from now to `exp` (Portcullis accepts at most 300).
    #[arg(long, default_value_t = 290)]
    lifetime: u64,
    /// Assertions to sign.
    #[arg(long)]
    count: usize,
    /// The file to write, one assertion a line.
    #[arg(long)]
    out: PathBuf,
}

/// Makes a P-256 key pair with ring: the private key as PKCS#8, the public one as a JWK Set.
pub(crate) fn keygen(args: KeygenArgs) -> Result<()> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| "P-256 key generation failed")?;
    let mut jwk = public_jwk(pkcs8.as_ref())?;
    for (name, value) in [("kid", KID), ("alg", "ES256"), ("use", "sig")] {
        jwk.insert(name.to_owned(), value.into());
    }
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join(PRIVATE_KEY), pkcs8.as_ref())?;
    std::fs::write(
        args.out.join(PUBLIC_JWKS),
        json!({ "keys": [jwk] }).to_string(),
    )?;
    Ok(())
}

/// The public members of a P-256 key given as PKCS#8: `kty`, `crv`, `x`, `y` (RFC 7518 §6.2.1).
pub(crate) fn public_jwk(pkcs8: &[u8]) -> Result<Map<String, Value>> {
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8,
        &SystemRandom::new(),
    )
    .map_err(|_| "P-256 key unreadable")?;
    // The uncompressed point: 0x04 ‖ x ‖ y (SEC 1 §2.3.3).
    let point = pair.public_key().as_ref();
    let members = [
        ("kty", "EC".to_owned()),
        ("crv", "P-256".to_owned()),
        ("x", URL_SAFE_NO_PAD.encode(&point[1..33])),
        ("y", URL_SAFE_NO_PAD.encode(&point[33..65])),
    ];
    Ok(members
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect())
}

/// Signs assertions, each with a random 256-bit `jti`, `iat` now and `exp` `lifetime` ahead.
pub(crate) fn assertions(args: AssertionArgs) -> Result<()> {
    let key = EncodingKey::from_ec_der(&std::fs::read(args.keys.join(PRIVATE_KEY))?);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(KID.to_owned());
    sign_pool(args.count, &args.out, |jti| {
        let claims = json!({
            "iss": args.client_id, "sub": args.client_id, "aud": args.audience,
            "iat": now, "exp": now + args.lifetime, "jti": jti,
        });
        Ok(encode(&header, &claims, &key)?)
    })
}

/// Writes `count` JWTs to `out`, one a line, made by `sign` from a random 256-bit `jti`
/// each, signed on every core.
pub(crate) fn sign_pool<F>(count: usize, out: &Path, sign: F) -> Result<()>
where
    F: Fn(&str) -> Result<String> + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = count.div_ceil(threads);
    let chunks: Vec<Result<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let n = per_thread.min(count.saturating_sub(i * per_thread));
                let sign = &sign;
                s.spawn(move || sign_many(n, sign))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a signer panicked".into())))
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(out)?);
    for chunk in chunks {
        out.write_all(chunk?.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn sign_many(n: usize, sign: impl Fn(&str) -> Result<String>) -> Result<String> {
    let rng = SystemRandom::new();
    let mut lines = String::new();
    for _ in 0..n {
        let mut jti = [0u8; 32];
        rng.fill(&mut jti).map_err(|_| "no randomness")?;
        lines.push_str(&sign(&URL_SAFE_NO_PAD.encode(jti))?);
        lines.push('\n');
    }
    Ok(lines)
}
