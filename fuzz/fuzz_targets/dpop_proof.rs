//! DPoP proofs (RFC 9449 §4.3): `DpopProof::verify` on a request and proof from the input.
//!
//! Lines: the method, the URI, the access token and whether the server's nonce is required
//! (empty: not), then the proof. A proof starting with `{` is taken as claims and signed with a fixed Ed25519 key
//! under a valid header, so mutations reach the claim rules; anything else is checked as is.
#![no_main]

use std::sync::OnceLock;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    DpopNonces, DpopPolicy, DpopProof, DpopRequest, SigningKey, UnixTime, MAX_DPOP_PROOF_LEN,
};
use ring::rand::SystemRandom;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// The fixed key and the encoded header of the signed proofs.
fn signer() -> &'static (SigningKey, String) {
    static K: OnceLock<(SigningKey, String)> = OnceLock::new();
    K.get_or_init(|| {
        let key = SigningKey::ed25519_from_seed("dpop", &[7; 32]).unwrap();
        let header =
            serde_json::json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.public_jwk()});
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        (key, header)
    })
}

/// The server's nonces, under a fixed key.
fn nonces() -> &'static DpopNonces {
    static N: OnceLock<DpopNonces> = OnceLock::new();
    N.get_or_init(|| DpopNonces::new(&[9; 32], std::time::Duration::from_secs(300)))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(5, '\n');
    let (Some(method), Some(uri), Some(token), Some(nonce), Some(proof)) = (
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
        lines.next(),
    ) else {
        return;
    };
    let request = DpopRequest {
        method,
        uri,
        access_token: Some(token).filter(|t| !t.is_empty()),
        nonce: (!nonce.is_empty()).then(nonces),
    };
    let signed;
    let proof = if proof.starts_with('{') {
        let (key, header) = signer();
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(proof));
        let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        signed = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        &signed
    } else {
        proof
    };
    if let Ok(verified) = DpopProof::verify(proof, &request, &DpopPolicy::default(), NOW) {
        assert!(proof.len() <= MAX_DPOP_PROOF_LEN);
        assert!(!verified.jti.is_empty());
        assert!(verified.replay_until >= NOW);
    }
});
