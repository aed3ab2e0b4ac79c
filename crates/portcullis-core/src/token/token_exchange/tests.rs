use serde_json::json;

use super::*;
use crate::client::SubjectType;
use crate::secret::TokenHash;
use crate::token::test_support::*;
use crate::trusted_jwt::tests::{partner_key, sign, trusted, NOW, PARTNER};

const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

fn parse(body: &str) -> Result<TokenExchangeGrant, TokenError> {
    TokenExchangeGrant::parse(&Params::parse(body.as_bytes()).unwrap(), None)
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn request_error(description: &str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description.to_owned())
}

#[test]
fn token_types_have_one_uri_each() {
    for t in [TokenType::AccessToken, TokenType::IdToken, TokenType::Jwt] {
        assert_eq!(TokenType::parse(t.as_str()), Some(t));
    }
    assert_eq!(
        TokenType::parse("urn:ietf:params:oauth:token-type:refresh_token"),
        None
    );
    assert_eq!(
        TokenType::parse("urn:ietf:params:oauth:token-type:saml2"),
        None
    );
}

#[test]
fn parses_the_parameters_of_rfc_8693() {
    let g = parse(&format!(
        "subject_token=s&subject_token_type={}&actor_token=a&actor_token_type={}\
         &requested_token_type={}&audience=x&audience=y",
        enc(ACCESS),
        enc(JWT),
        enc(JWT)
    ))
    .unwrap();
    assert_eq!(g.subject_token, "s");
    assert_eq!(g.subject_token_type, TokenType::AccessToken);
    assert_eq!(g.actor_token, Some(("a".into(), TokenType::Jwt)));
    assert_eq!(g.requested_token_type, Some(TokenType::Jwt));
    assert_eq!(g.audience, ["x", "y"]);
    let dbg = format!("{g:?}");
    assert!(
        !dbg.contains("\"s\"") && !dbg.contains("\"a\"") && dbg.contains("<redacted>"),
        "{dbg}"
    );
    let plain = parse(&format!(
        "subject_token=s&subject_token_type={}",
        enc(ID_TOKEN)
    ))
    .unwrap();
    assert_eq!(plain.actor_token, None);
    assert_eq!(plain.requested_token_type, None);
    assert!(plain.audience.is_empty());
}

#[test]
fn malformed_requests_are_invalid_request() {
    let st = format!("subject_token_type={}", enc(ACCESS));
    let cases = [
        (st.clone(), "subject_token is missing"),
        (format!("subject_token=&{st}"), "subject_token is missing"),
        ("subject_token=s".to_owned(), "subject_token_type is missing"),
        (
            "subject_token=s&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Arefresh_token"
                .to_owned(),
            "subject_token_type is not supported",
        ),
        (
            format!("subject_token=s&{st}&actor_token=a"),
            "actor_token and actor_token_type go together",
        ),
        (
            format!("subject_token=s&{st}&actor_token_type={}", enc(ACCESS)),
            "actor_token and actor_token_type go together",
        ),
        (
            format!("subject_token=s&{st}&actor_token=&actor_token_type={}", enc(ACCESS)),
            "actor_token and actor_token_type go together",
        ),
        (
            format!("subject_token=s&{st}&actor_token=a&actor_token_type=saml"),
            "actor_token_type is not supported",
        ),
        (
            format!("subject_token=s&{st}&requested_token_type={}", enc(ID_TOKEN)),
            "requested_token_type is not supported",
        ),
        (
            format!("subject_token=s&{st}&requested_token_type=x"),
            "requested_token_type is not supported",
        ),
    ];
    for (body, description) in cases {
        assert_eq!(
            parse(&body).unwrap_err(),
            request_error(description),
            "{body}"
        );
    }
}

fn access_record(client_id: &str, subject: Option<&str>) -> AccessTokenRecord {
    AccessTokenRecord {
        hash: TokenHash::of("at"),
        jti: "j".into(),
        audience: vec![API.into()],
        issuer: issuer(),
        client_id: client_id.into(),
        subject: subject.map(str::to_owned),
        scopes: set("read write"),
        scope_expiry: Default::default(),
        grant_id: None,
        family_id: None,
        userinfo_claims: vec![],
        confirmation: None,
        auth_time: None,
        acr: None,
        amr: None,
        authorization_details: vec![],
        act: Some(json!({ "sub": "gateway" })),
        issued_at: now(),
        expires_at: UnixTime::from_secs(2_000),
    }
}

#[test]
fn an_access_token_must_be_live_and_for_the_client() {
    let record = access_record("c", Some("alice"));
    let party = |r: &AccessTokenRecord, client: &str, at: u64| {
        ExchangeParty::from_access_token(r, client, ExchangeRole::Subject, UnixTime::from_secs(at))
    };
    let ok = party(&record, "c", 1_999).unwrap();
    assert_eq!(ok.subject, PartySubject::User("alice".into()));
    assert_eq!(ok.scopes, Some(set("read write")));
    assert_eq!(ok.act, Some(json!({ "sub": "gateway" })));
    assert_eq!(ok.issuer, None);
    assert_eq!(ok.expires_at, UnixTime::from_secs(2_000));
    assert_eq!(
        party(&record, "c", 2_000),
        Err(request_error(
            "subject_token: the token is invalid or expired"
        ))
    );
    // A resource server in the token's audience exchanges it (on behalf of).
    assert!(party(&record, API, 1_000).is_ok());
    assert_eq!(
        ExchangeParty::from_access_token(&record, "d", ExchangeRole::Actor, now()),
        Err(request_error(
            "actor_token: the token was not issued to or for this client"
        ))
    );
    let own = party(&access_record("c", None), "c", 1_000).unwrap();
    assert_eq!(own.subject, PartySubject::Client("c".into()));
}

fn id_token(claims: serde_json::Value) -> Vec<u8> {
    claims.to_string().into_bytes()
}

#[test]
fn an_id_token_must_be_ours_for_the_client_and_live() {
    let client = confidential_client();
    let iss = issuer();
    let typed = |typ: Option<&str>, claims| {
        ExchangeParty::from_id_token(
            typ,
            &id_token(claims),
            &iss,
            &client,
            ExchangeRole::Subject,
            now(),
        )
    };
    let party = |claims| typed(None, claims);
    let ok = party(json!({ "iss": iss.as_str(), "sub": "alice", "aud": "c", "exp": 1_001 }));
    let good = json!({ "iss": iss.as_str(), "sub": "alice", "aud": "c", "exp": 1_001 });
    assert_eq!(typed(Some("JWT"), good.clone()), ok);
    assert_eq!(
        typed(Some("jwt"), good.clone()),
        ok,
        "typ is case-insensitive"
    );
    // RFC 8725 §3.11: our access tokens and logout tokens are signed by the same keys.
    let not_an_id_token = Err(request_error("subject_token: the token is not an ID token"));
    for typ in ["at+jwt", "logout+jwt", "application/at+jwt", "JWS"] {
        assert_eq!(typed(Some(typ), good.clone()), not_an_id_token, "{typ}");
    }
    let events = json!({ "http://schemas.openid.net/event/backchannel-logout": {} });
    let mut logout = good.clone();
    logout["events"] = events;
    assert_eq!(typed(None, logout.clone()), not_an_id_token);
    assert_eq!(typed(Some("JWT"), logout), not_an_id_token);
    assert_eq!(
        ok,
        Ok(ExchangeParty {
            issuer: None,
            subject: PartySubject::User("alice".into()),
            scopes: None,
            act: None,
            expires_at: UnixTime::from_secs(1_001),
            auth_time: None,
        })
    );
    let refusals = [
        (
            json!({ "iss": "https://evil.example", "sub": "alice", "aud": "c", "exp": 2_000 }),
            "subject_token: the ID token is not this provider's",
        ),
        (
            json!({ "iss": iss.as_str(), "sub": "alice", "aud": "d", "exp": 2_000 }),
            "subject_token: the ID token was not issued to this client",
        ),
        (
            json!({ "iss": iss.as_str(), "sub": "alice", "aud": "c", "exp": 1_000 }),
            "subject_token: the token is invalid or expired",
        ),
        (
            json!({ "iss": iss.as_str(), "sub": "alice", "aud": "c" }),
            "subject_token: the token is invalid or expired",
        ),
        (
            json!({ "iss": iss.as_str(), "sub": "", "aud": ["c"], "exp": 2_000 }),
            "subject_token: the token has no sub",
        ),
        (json!([]), "subject_token: the token is malformed"),
    ];
    for (claims, description) in refusals {
        assert_eq!(party(claims), Err(request_error(description)));
    }
    let mut pairwise = confidential_client();
    pairwise.oidc.subject_type = SubjectType::Pairwise {
        sector_identifier: "app.example".into(),
    };
    let claims = json!({ "iss": iss.as_str(), "sub": "x", "aud": "c", "exp": 2_000 });
    assert_eq!(
        ExchangeParty::from_id_token(
            None,
            &id_token(claims),
            &iss,
            &pairwise,
            ExchangeRole::Actor,
            now()
        ),
        Err(request_error(
            "actor_token: ID tokens with pairwise subjects cannot be exchanged"
        ))
    );
}

fn user_grant(id: &str, scope: &str, last_used: u64, expires: u64, revoked: bool) -> Grant {
    Grant {
        id: crate::ids::GrantId::from_stored(id.to_owned()),
        issuer: issuer(),
        subject: "alice".into(),
        client_id: "c".into(),
        scopes: set(scope),
        created_at: UnixTime::from_secs(1),
        last_used_at: UnixTime::from_secs(last_used),
        expires_at: UnixTime::from_secs(expires),
        revoked,
        sessions: Vec::new(),
    }
}

/// An ID token carries the scopes of the user's live grant, the most recently used, and
/// lives no longer than it; revoked or expired grants give none (`invalid_request`).
#[test]
fn an_id_token_lives_under_the_users_live_grant() {
    let id = ExchangeParty {
        issuer: None,
        subject: PartySubject::User("alice".into()),
        scopes: None,
        act: None,
        expires_at: UnixTime::from_secs(1_500),
        auth_time: None,
    };
    let under = |grants| id.clone().under_grant(grants, ExchangeRole::Subject, now());
    let none = Err(request_error(
        "subject_token: the user has no live grant to this client",
    ));
    assert_eq!(under(vec![]), none);
    assert_eq!(under(vec![user_grant("r", "read", 5, 2_000, true)]), none);
    // `now()` is 1 000: a grant expiring then is dead.
    assert_eq!(under(vec![user_grant("e", "read", 5, 1_000, false)]), none);
    let (party, grant) = under(vec![
        user_grant("old", "read", 5, 2_000, false),
        user_grant("new", "read write", 9, 1_200, false),
        user_grant("revoked", "admin", 20, 2_000, true),
        user_grant("expired", "admin", 30, 1_000, false),
    ])
    .unwrap();
    assert_eq!(grant.id.as_str(), "new");
    assert_eq!(party.scopes, Some(set("read write")));
    assert_eq!(
        party.expires_at,
        UnixTime::from_secs(1_200),
        "the grant's end"
    );
    let (party, _) = under(vec![user_grant("long", "read", 5, 1_001, false)]).unwrap();
    assert_eq!(party.expires_at, UnixTime::from_secs(1_001));
    let (party, _) = under(vec![user_grant("long", "read", 5, 9_000, false)]).unwrap();
    assert_eq!(
        party.expires_at,
        UnixTime::from_secs(1_500),
        "the ID token's end"
    );
}

#[test]
fn a_trusted_jwt_must_be_for_us_with_a_subject() {
    let key = partner_key();
    let policy = TokenExchangePolicy {
        issuers: trusted(&key),
        ..TokenExchangePolicy::default()
    };
    let at = UnixTime::from_secs(NOW);
    let party = |claims: serde_json::Value| {
        ExchangeParty::from_trusted_jwt(
            &sign(&key, &claims),
            &policy,
            &["https://as.example", "c"],
            ExchangeRole::Subject,
            at,
        )
    };
    let ok = party(json!({
        "iss": PARTNER, "sub": "bob", "aud": "c", "exp": NOW + 60,
        "scope": "read", "act": { "sub": "svc" },
    }))
    .unwrap();
    assert_eq!(ok.issuer.as_deref(), Some(PARTNER));
    assert_eq!(ok.subject, PartySubject::User("bob".into()));
    assert_eq!(ok.scopes, Some(set("read")));
    assert_eq!(ok.act, Some(json!({ "sub": "svc" })));
    assert_eq!(
        ok.clone().with_local_subject("local-bob".into()).subject,
        PartySubject::User("local-bob".into())
    );
    let refusals = [
        (
            json!({ "iss": PARTNER, "sub": "bob", "aud": "d", "exp": NOW + 60 }),
            "subject_token: the JWT is not for this server",
        ),
        (
            json!({ "iss": PARTNER, "aud": "c", "exp": NOW + 60 }),
            "subject_token: the token has no sub",
        ),
        (
            json!({ "iss": PARTNER, "sub": "bob", "aud": "c", "exp": NOW + 60, "scope": "a\\b" }),
            "subject_token: the JWT's scope is malformed",
        ),
        (
            json!({ "iss": PARTNER, "sub": "bob", "aud": "c" }),
            "subject_token: the JWT has no exp",
        ),
    ];
    for (claims, description) in refusals {
        assert_eq!(party(claims), Err(request_error(description)));
    }
}

fn grant(scope: Option<&str>, requested: Option<TokenType>) -> TokenExchangeGrant {
    TokenExchangeGrant {
        subject_token: "s".into(),
        subject_token_type: TokenType::AccessToken,
        actor_token: None,
        requested_token_type: requested,
        scope: scope.map(set),
        audience: vec![],
    }
}

fn user(scopes: Option<&str>, act: Option<serde_json::Value>, exp: u64) -> ExchangeParty {
    ExchangeParty {
        issuer: None,
        subject: PartySubject::User("alice".into()),
        scopes: scopes.map(set),
        act,
        expires_at: UnixTime::from_secs(exp),
        auth_time: None,
    }
}

fn client() -> Client {
    confidential_client()
        .with_allowed_scopes(set("read write admin"))
        .with_default_scopes(set("read"))
}

fn decide(
    g: &TokenExchangeGrant,
    subject: &ExchangeParty,
    actor: Option<&ExchangeParty>,
    mode: Option<ExchangeMode>,
) -> Result<ExchangeDecision, TokenError> {
    decide_token_exchange(
        &client(),
        g,
        subject,
        actor,
        mode,
        &[],
        TokenFormat::Opaque,
        &registry(),
    )
}

#[test]
fn the_hosts_policy_decides_and_refusal_is_invalid_request() {
    let subject = user(Some("read"), None, 2_000);
    assert_eq!(
        decide(&grant(None, None), &subject, None, None),
        Err(request_error("the token exchange is not allowed"))
    );
    assert_eq!(
        decide(
            &grant(None, None),
            &subject,
            None,
            Some(ExchangeMode::Delegation)
        ),
        Err(request_error("delegation needs an actor_token"))
    );
    let impersonation = decide(
        &grant(None, None),
        &subject,
        None,
        Some(ExchangeMode::Impersonation),
    )
    .unwrap();
    assert_eq!(
        impersonation,
        ExchangeDecision {
            scopes: set("read"),
            act: None,
            issued_token_type: TokenType::AccessToken,
            not_after: UnixTime::from_secs(2_000),
        }
    );
}

#[test]
fn delegation_names_the_actor_over_the_chain() {
    let subject = user(Some("read"), Some(json!({ "sub": "first" })), 2_000);
    let actor = ExchangeParty {
        issuer: Some(PARTNER.into()),
        subject: PartySubject::Client("agent".into()),
        scopes: None,
        act: Some(json!({ "sub": "ignored" })),
        expires_at: UnixTime::from_secs(1_500),
        auth_time: None,
    };
    let d = decide(
        &grant(None, None),
        &subject,
        Some(&actor),
        Some(ExchangeMode::Delegation),
    )
    .unwrap();
    assert_eq!(
        d.act,
        Some(json!({ "sub": "agent", "iss": PARTNER, "act": { "sub": "first" } }))
    );
    assert_eq!(d.not_after, UnixTime::from_secs(1_500));
    // An actor outliving the subject: the subject's expiry.
    let late = ExchangeParty {
        expires_at: UnixTime::from_secs(3_000),
        ..actor.clone()
    };
    let d = decide(
        &grant(None, None),
        &subject,
        Some(&late),
        Some(ExchangeMode::Delegation),
    )
    .unwrap();
    assert_eq!(d.not_after, UnixTime::from_secs(2_000));
    // Impersonation with an actor names no new actor, and keeps the subject's chain.
    let d = decide(
        &grant(None, None),
        &subject,
        Some(&actor),
        Some(ExchangeMode::Impersonation),
    )
    .unwrap();
    assert_eq!(d.act, Some(json!({ "sub": "first" })));
    // A local actor without a chain: only its subject.
    let local = ExchangeParty {
        issuer: None,
        act: None,
        ..actor
    };
    let d = decide(
        &grant(None, None),
        &user(Some("read"), None, 2_000),
        Some(&local),
        Some(ExchangeMode::Delegation),
    )
    .unwrap();
    assert_eq!(d.act, Some(json!({ "sub": "agent" })));
}

#[test]
fn never_wider_than_the_subject_token_nor_the_client() {
    let imp = Some(ExchangeMode::Impersonation);
    let subject = user(Some("read write other"), None, 2_000);
    let scopes = |scope, subject: &ExchangeParty| {
        decide(&grant(scope, None), subject, None, imp).map(|d| d.scopes)
    };
    // By default all the subject token carries that the client may have.
    assert_eq!(scopes(None, &subject), Ok(set("read write")));
    assert_eq!(scopes(Some("write"), &subject), Ok(set("write")));
    let beyond = |s: &str| {
        Err(OAuthError::new(
            TokenErrorCode::InvalidScope,
            format!("scope {s} is beyond the subject token or the client"),
        ))
    };
    assert_eq!(scopes(Some("read admin"), &subject), beyond("admin"));
    assert_eq!(scopes(Some("other"), &subject), beyond("other"));
    // A token naming no scopes (an ID token): the client's allowed, its default by default.
    let id = user(None, None, 2_000);
    assert_eq!(scopes(None, &id), Ok(set("read")));
    assert_eq!(scopes(Some("admin"), &id), Ok(set("admin")));
    assert_eq!(scopes(Some("other"), &id), beyond("other"));
    // For an audience, only what it understands.
    let d = decide_token_exchange(
        &client(),
        &grant(None, None),
        &subject,
        None,
        imp,
        &[API.to_owned()],
        TokenFormat::Opaque,
        &registry(),
    );
    assert_eq!(d.map(|d| d.scopes), Ok(set("read")));
}

#[test]
fn a_jwt_only_where_the_format_is_jwt() {
    let imp = Some(ExchangeMode::Impersonation);
    let subject = user(Some("read"), None, 2_000);
    let issued = |requested, format| {
        decide_token_exchange(
            &client(),
            &grant(None, requested),
            &subject,
            None,
            imp,
            &[],
            format,
            &registry(),
        )
        .map(|d| d.issued_token_type)
    };
    assert_eq!(
        issued(Some(TokenType::Jwt), TokenFormat::Opaque),
        Err(request_error(
            "a JWT is not issued for this audience or client"
        ))
    );
    assert_eq!(
        issued(Some(TokenType::Jwt), TokenFormat::Jwt),
        Ok(TokenType::Jwt)
    );
    assert_eq!(
        issued(Some(TokenType::AccessToken), TokenFormat::Jwt),
        Ok(TokenType::AccessToken)
    );
    assert_eq!(
        issued(None, TokenFormat::Opaque),
        Ok(TokenType::AccessToken)
    );
}

#[test]
fn a_clients_own_token_is_exchanged_only_by_it() {
    let imp = Some(ExchangeMode::Impersonation);
    let own = ExchangeParty {
        subject: PartySubject::Client("c".into()),
        ..user(Some("read"), None, 2_000)
    };
    assert!(decide(&grant(None, None), &own, None, imp).is_ok());
    let other = ExchangeParty {
        subject: PartySubject::Client("d".into()),
        ..own
    };
    assert_eq!(
        decide(&grant(None, None), &other, None, imp),
        Err(request_error(
            "subject_token: a client's own token is exchanged only by it"
        ))
    );
}

#[test]
fn audience_names_are_registered_resources_for_the_client() {
    let mut registry = registry();
    registry[1].clients = Some(["d".to_owned()].into());
    let audience = |names: &[&str]| {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        exchange_audience(vec![API.to_owned()], &names, &registry, "c")
    };
    assert_eq!(audience(&[]), Ok(vec![API.to_owned()]));
    assert_eq!(audience(&[API]), Ok(vec![API.to_owned()]));
    let refused = Err(OAuthError::new(
        TokenErrorCode::InvalidTarget,
        "audience is unknown or not allowed for this client",
    ));
    assert_eq!(audience(&["https://unknown.example"]), refused);
    assert_eq!(audience(&[OTHER_API]), refused);
    assert_eq!(
        exchange_audience(vec![], &[OTHER_API.to_owned()], &registry, "d"),
        Ok(vec![OTHER_API.to_owned()])
    );
}

/// An ID token's login is its `auth_time`, never later than now, never the exchange's time
/// when it has none: refused (RFC 8693 §2.2.2).
#[test]
fn an_id_tokens_login_is_its_auth_time() {
    let now = UnixTime::from_secs(1_000);
    let login = |payload: &str, role| id_token_auth_time(payload.as_bytes(), role, now);
    assert_eq!(
        login(r#"{"sub":"a","auth_time":900}"#, ExchangeRole::Subject),
        Ok(UnixTime::from_secs(900))
    );
    assert_eq!(
        login(r#"{"auth_time":1000}"#, ExchangeRole::Subject),
        Ok(now)
    );
    assert_eq!(
        login(r#"{"auth_time":1100}"#, ExchangeRole::Subject),
        Ok(now)
    );
    assert_eq!(
        login(r#"{"sub":"a","iat":999}"#, ExchangeRole::Subject),
        Err(request_error(
            "subject_token: the ID token has no auth_time"
        ))
    );
    assert_eq!(
        login(r#"{"sub":"a"}"#, ExchangeRole::Actor),
        Err(request_error("actor_token: the ID token has no auth_time"))
    );
    assert_eq!(
        login(r#"{"auth_time":"soon"}"#, ExchangeRole::Subject),
        Err(request_error("subject_token: the token is malformed"))
    );
}
