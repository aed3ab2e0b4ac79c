//! Token exchange (RFC 8693 §2.1) and JWT bearer grant (RFC 7523 §2.1) requests as the token
//! endpoint reads them: `Params::parse` and `TokenRequest::parse`; then a token exchange's
//! subject and actor tokens as a trusted issuer's JWTs (`ExchangeParty::from_trusted_jwt`)
//! and as ID token payloads (`ExchangeParty::from_id_token`, `id_token_auth_time`), the decision
//! (`decide_token_exchange`) in both modes, and a JWT bearer grant's assertion
//! (`check_grant_assertion`).
//!
//! A token or assertion starting with `{` is taken as claims and signed with the trusted
//! issuer's fixed Ed25519 key, so mutations reach the claim rules. What is accepted is
//! unexpired, never wider than the subject token and the client, and an accepted assertion
//! has a subject and a `jti` spent until a bounded `exp`.
#![no_main]

use std::sync::OnceLock;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    check_grant_assertion, decide_token_exchange, exchange_audience, id_token_auth_time, Client,
    ClientKind, ExchangeMode, ExchangeParty, ExchangeRole, Issuer, JwkSet, JwtBearerPolicy, Params,
    ScopeSet, SigningKey, TokenExchangePolicy, TokenFormat, TokenRequest, TrustedIssuer, UnixTime,
};
use ring::rand::SystemRandom;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://as.example";
const PARTNER: &str = "https://idp.partner.example";

struct Fixture {
    key: SigningKey,
    header: String,
    exchange: TokenExchangePolicy,
    bearer: JwtBearerPolicy,
    client: Client,
    issuer: Issuer,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = SigningKey::ed25519_from_seed("p1", &[7; 32]).unwrap();
        let header = serde_json::json!({"typ": "JWT", "alg": "EdDSA", "kid": "p1"});
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        let trusted = vec![TrustedIssuer::new(
            PARTNER,
            JwkSet {
                keys: vec![key.public_jwk()],
            },
        )];
        let mut exchange = TokenExchangePolicy::default();
        exchange.issuers = trusted.clone();
        let mut bearer = JwtBearerPolicy::default();
        bearer.issuers = trusted;
        let scopes = |s| ScopeSet::parse(s).unwrap();
        let client = Client::new("c", ClientKind::Public)
            .with_allowed_scopes(scopes("read write"))
            .with_default_scopes(scopes("read"));
        Fixture {
            key,
            header,
            exchange,
            bearer,
            client,
            issuer: Issuer::parse(ISSUER).unwrap(),
        }
    })
}

/// `token` itself, or, starting with `{`, those claims signed by the trusted issuer.
fn signed(token: &str) -> String {
    let f = fixture();
    if !token.starts_with('{') {
        return token.to_owned();
    }
    let input = format!("{}.{}", f.header, URL_SAFE_NO_PAD.encode(token));
    let sig = f.key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn party(token: &str, role: ExchangeRole) -> Option<ExchangeParty> {
    let f = fixture();
    let audiences = [ISSUER, "https://as.example/token"];
    let jwt = ExchangeParty::from_trusted_jwt(&signed(token), &f.exchange, &audiences, role, NOW);
    // The header's `typ`: absent, `JWT` (an ID token's) or another JWT's.
    let typ = ["JWT", "logout+jwt"].get(token.len() % 3).copied();
    let id = ExchangeParty::from_id_token(typ, token.as_bytes(), &f.issuer, &f.client, role, NOW);
    for p in [&jwt, &id].into_iter().flatten() {
        assert!(p.expires_at > NOW);
    }
    // An ID token's login is never later than now.
    if let Ok(login) = id_token_auth_time(token.as_bytes(), role, NOW) {
        assert!(login <= NOW);
    }
    jwt.ok().or(id.ok())
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let f = fixture();
    match TokenRequest::parse(&params) {
        Ok(TokenRequest::TokenExchange(g)) => {
            assert!(!g.subject_token.is_empty());
            let Some(subject) = party(&g.subject_token, ExchangeRole::Subject) else {
                return;
            };
            let actor = g
                .actor_token
                .as_ref()
                .and_then(|(t, _)| party(t, ExchangeRole::Actor));
            let Ok(audience) = exchange_audience(Vec::new(), &g.audience, &[], "c") else {
                return;
            };
            assert!(audience.is_empty());
            for mode in [ExchangeMode::Impersonation, ExchangeMode::Delegation] {
                let decided = decide_token_exchange(
                    &f.client,
                    &g,
                    &subject,
                    actor.as_ref(),
                    Some(mode),
                    &audience,
                    TokenFormat::Opaque,
                    &[],
                );
                if let Ok(d) = decided {
                    assert!(d.scopes.is_subset(&f.client.allowed_scopes));
                    if let Some(carried) = &subject.scopes {
                        assert!(d.scopes.is_subset(carried));
                    }
                    assert!(d.not_after <= subject.expires_at);
                    assert!(mode == ExchangeMode::Impersonation || d.act.is_some());
                }
            }
        }
        Ok(TokenRequest::JwtBearer(mut g)) => {
            g.assertion = signed(&g.assertion);
            let audiences = [ISSUER, "https://as.example/token"];
            if let Ok(a) = check_grant_assertion(&g, &f.bearer, &audiences, NOW) {
                assert!(!a.subject.is_empty());
                assert!(a.expires_at > NOW);
                assert!(a.expires_at <= NOW.plus(f.bearer.max_lifetime));
                assert_eq!(a.issuer, PARTNER);
            }
        }
        _ => {}
    }
});
