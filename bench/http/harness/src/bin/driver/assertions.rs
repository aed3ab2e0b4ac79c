//! `private_key_jwt` client assertions (RFC 7523 §2.2, §3) for the `private_key_jwt` case,
//! signed with the `jsonwebtoken` crate, so the servers verify what an independent signer
//! made. `keygen` makes the client's P-256 key; `assertions` signs a pool of single-use
//! assertions (each with its own `jti`), one a line, before a wrk run spends them.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, EncodingKey, Header};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

use crate::Result;

/// The client's private key (PKCS#8 DER) in the key directory.
const PRIVATE_KEY: &str = "client.p8";
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
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "P-256 key unreadable")?;
    // The uncompressed point: 0x04 ‖ x ‖ y (SEC 1 §2.3.3).
    let point = pair.public_key().as_ref();
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": KID, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]});
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join(PRIVATE_KEY), pkcs8.as_ref())?;
    std::fs::write(args.out.join(PUBLIC_JWKS), jwks.to_string())?;
    Ok(())
}

/// Signs `count` assertions on every core, each with a random 256-bit `jti`.
pub(crate) fn assertions(args: AssertionArgs) -> Result<()> {
    let key = EncodingKey::from_ec_der(&std::fs::read(args.keys.join(PRIVATE_KEY))?);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = args.count.div_ceil(threads);
    let chunks: Vec<Result<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let n = per_thread.min(args.count.saturating_sub(i * per_thread));
                let (key, args) = (&key, &args);
                s.spawn(move || sign_many(key, args, now, n))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a signer panicked".into())))
            .collect()
    });
    let mut out = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    for chunk in chunks {
        out.write_all(chunk?.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

fn sign_many(key: &EncodingKey, args: &AssertionArgs, now: u64, n: usize) -> Result<String> {
    let rng = SystemRandom::new();
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(KID.to_owned());
    let mut lines = String::new();
    for _ in 0..n {
        let mut jti = [0u8; 32];
        rng.fill(&mut jti).map_err(|_| "no randomness")?;
        let claims = json!({
            "iss": args.client_id, "sub": args.client_id, "aud": args.audience,
            "iat": now, "exp": now + args.lifetime, "jti": URL_SAFE_NO_PAD.encode(jti),
        });
        lines.push_str(&encode(&header, &claims, key)?);
        lines.push('\n');
    }
    Ok(lines)
}
