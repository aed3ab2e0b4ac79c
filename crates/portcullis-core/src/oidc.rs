//! The OpenID Connect parts of an authorization request (OpenID Connect Core 1.0 §3.1.2.1,
//! §5.5) and what of them travels with the code and tokens.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::params::Params;
use crate::standard_claims::scope_claims;

/// Longest `claims` parameter accepted.
const MAX_CLAIMS_LEN: usize = 8 * 1024;

/// The `prompt` values (§3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// `none`: no user interaction may happen.
    pub none: bool,
    /// `login`: the user must authenticate again.
    pub login: bool,
    /// `consent`: consent must be asked again.
    pub consent: bool,
    /// `select_account`: the user chooses an account.
    pub select_account: bool,
}

impl Prompt {
    /// The `prompt` values, as advertised.
    pub const VALUES: [&'static str; 4] = ["none", "login", "consent", "select_account"];

    /// Parses `prompt`: space-delimited known values; `none` stands alone.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let mut p = Prompt::default();
        for v in value.split(' ') {
            match v {
                "none" => p.none = true,
                "login" => p.login = true,
                "consent" => p.consent = true,
                "select_account" => p.select_account = true,
                _ => return Err("prompt has an unsupported value"),
            }
        }
        if p.none && (p.login || p.consent || p.select_account) {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(p)
    }
}

/// The `claims` request parameter (§5.5): which individual claims to return where. The
/// names are used, and the ID token's `acr` member in full (§5.5.1.1); the other members'
/// `essential` and `value(s)` are advisory and ignored (§5.5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    /// Claims asked for in the UserInfo response.
    #[serde(default)]
    pub userinfo: Vec<String>,
    /// Claims asked for in the ID token.
    #[serde(default)]
    pub id_token: Vec<String>,
    /// The ID token's `acr` member, when it names values (§5.5.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_acr: Option<AcrClaim>,
}

/// The authentication context classes a `claims` request asks for in the ID token's `acr`
/// (OpenID Connect Core §5.5.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrClaim {
    /// Whether one of `values` is required: an authentication that reaches none of them is a
    /// failed one. Otherwise they are preferences, like `acr_values`.
    pub essential: bool,
    /// The acceptable `acr` values (`value` or `values`), in the client's order.
    pub values: Vec<String>,
}

impl AcrClaim {
    /// Reads the `acr` member's object: `essential` a boolean, `value` a string, `values` an
    /// array of strings (§5.5.1). `None` when it names no value.
    fn parse(member: &Map<String, Value>) -> Result<Option<Self>, &'static str> {
        const BAD: &str = "claims has an invalid acr request";
        let essential = match member.get("essential") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(BAD),
        };
        let mut values = Vec::new();
        match member.get("value") {
            None | Some(Value::Null) => {}
            Some(Value::String(v)) => values.push(v.clone()),
            Some(_) => return Err(BAD),
        }
        match member.get("values") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for v in list {
                    values.push(v.as_str().ok_or(BAD)?.to_owned());
                }
            }
            Some(_) => return Err(BAD),
        }
        Ok((!values.is_empty()).then_some(Self { essential, values }))
    }
}

impl ClaimsRequest {
    /// Parses the JSON `claims` parameter.
    pub fn parse(json: &str) -> Result<Self, &'static str> {
        const BAD: &str = "claims is not a valid claims request";
        if json.len() > MAX_CLAIMS_LEN {
            return Err(BAD);
        }
        let value: Map<String, Value> = serde_json::from_str(json).map_err(|_| BAD)?;
        let names = |member: &str| -> Result<Vec<String>, &'static str> {
            match value.get(member) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(m)) => {
                    for v in m.values() {
                        if !(v.is_null() || v.is_object()) {
                            return Err(BAD);
                        }
                    }
                    Ok(m.keys().cloned().collect())
                }
                Some(_) => Err(BAD),
            }
        };
        let id_token_acr = match value.get("id_token").and_then(|m| m.get("acr")) {
            Some(Value::Object(acr)) => AcrClaim::parse(acr)?,
            _ => None,
        };
        Ok(Self {
            userinfo: names("userinfo")?,
            id_token: names("id_token")?,
            id_token_acr,
        })
    }
}

/// The login a request asks for with `max_age` and `acr_values` (OpenID Connect Core
/// §3.1.2.1), which RFC 9470 §4 lets a plain OAuth request send too, e.g. to answer a
/// resource server's step-up challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// `max_age` in seconds: the authentication must be at most this old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
    /// `acr_values` asked for, in the client's order (voluntary: OpenID Connect Core §5.5.1.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
}

impl LoginRequest {
    /// Reads `max_age` (a non-negative integer) and `acr_values` (space-delimited).
    pub fn parse(params: &Params) -> Result<Self, &'static str> {
        let max_age = match params.get("max_age") {
            None => None,
            Some(v) => Some(
                v.parse::<u64>()
                    .map_err(|_| "max_age must be a non-negative integer")?,
            ),
        };
        Ok(Self {
            max_age,
            acr_values: space_delimited(params, "acr_values"),
        })
    }

    /// Whether it asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.max_age.is_none() && self.acr_values.is_empty()
    }
}

/// The values of a space-delimited parameter, empty ones skipped.
fn space_delimited(params: &Params, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The OpenID Connect parameters of a request in OpenID mode (`scope` includes `openid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcRequest {
    /// `nonce`, echoed in the ID token.
    pub nonce: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds: the authentication must be at most this old.
    pub max_age: Option<u64>,
    /// `id_token_hint`, unverified.
    pub id_token_hint: Option<String>,
    /// `login_hint`, for the host's login page.
    pub login_hint: Option<String>,
    /// `ui_locales`, for the host's pages.
    pub ui_locales: Vec<String>,
    /// `acr_values` asked for.
    pub acr_values: Vec<String>,
    /// The `claims` request.
    pub claims: ClaimsRequest,
}

impl OidcRequest {
    /// Reads the OpenID Connect parameters of a request.
    pub fn parse(params: &Params) -> Result<Self, &'static str> {
        let LoginRequest {
            max_age,
            acr_values,
        } = LoginRequest::parse(params)?;
        Ok(Self {
            nonce: params.get("nonce").map(str::to_owned),
            prompt: params
                .get("prompt")
                .map(Prompt::parse)
                .transpose()?
                .unwrap_or_default(),
            max_age,
            id_token_hint: params.get("id_token_hint").map(str::to_owned),
            login_hint: params.get("login_hint").map(str::to_owned),
            ui_locales: space_delimited(params, "ui_locales"),
            acr_values,
            claims: params
                .get("claims")
                .map(ClaimsRequest::parse)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

impl From<&LoginRequest> for OidcRequest {
    /// The parameters of a plain OAuth request that asks for a login with `max_age` or
    /// `acr_values` (RFC 9470 §4), for the login decision and its check at approval.
    fn from(login: &LoginRequest) -> Self {
        Self {
            max_age: login.max_age,
            acr_values: login.acr_values.clone(),
            ..Self::default()
        }
    }
}

/// What an OpenID Connect authentication leaves for the ID tokens issued from it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSession {
    /// The request's `nonce` (in the first ID token only, §12.2).
    pub nonce: Option<String>,
    /// The authentication context class the host reported.
    pub acr: Option<String>,
    /// The authentication methods the host reported.
    pub amr: Option<Vec<String>>,
    /// Whether `auth_time` must be in ID tokens (`max_age` was asked, or the client requires
    /// it; §2, §3.1.2.1).
    pub auth_time_required: bool,
    /// The `claims` request.
    pub claims: ClaimsRequest,
    /// The session's id as the client knows it (`sid`, Back-Channel Logout 1.0 §2.1), when
    /// the host named its session ([`crate::session_sid`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_advertised_prompt_value_parses_alone() {
        for v in Prompt::VALUES {
            let p = Prompt::parse(v).unwrap();
            let set = [p.none, p.login, p.consent, p.select_account];
            assert_eq!(set.iter().filter(|b| **b).count(), 1, "{v}");
        }
    }

    #[test]
    fn prompt_rules() {
        assert_eq!(
            Prompt::parse("login consent").unwrap(),
            Prompt {
                login: true,
                consent: true,
                ..Prompt::default()
            }
        );
        let only = |edit: fn(&mut Prompt)| {
            let mut p = Prompt::default();
            edit(&mut p);
            p
        };
        assert_eq!(Prompt::parse("none"), Ok(only(|p| p.none = true)));
        assert_eq!(
            Prompt::parse("select_account"),
            Ok(only(|p| p.select_account = true))
        );
        for alone in [
            "none login",
            "none consent",
            "none select_account",
            "login none",
        ] {
            assert!(Prompt::parse(alone).is_err(), "{alone}");
        }
        assert!(Prompt::parse("create").is_err());
        assert!(Prompt::parse("").is_err());
    }

    #[test]
    fn claims_request_names() {
        let c = ClaimsRequest::parse(r#"{"userinfo":{"email":{"essential":true},"nickname":null},"id_token":{"auth_time":{"essential":true}}}"#).unwrap();
        assert_eq!(c.userinfo, vec!["email".to_owned(), "nickname".to_owned()]);
        assert_eq!(c.id_token, vec!["auth_time".to_owned()]);
        assert_eq!(c.id_token_acr, None);
        for bad in ["[]", "{", r#"{"userinfo":[]}"#, r#"{"userinfo":{"a":1}}"#] {
            assert!(ClaimsRequest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn claims_requests_are_at_most_8_kib() {
        let of_len = |n: usize| format!(r#"{{"userinfo":{{"{}":null}}}}"#, "a".repeat(n - 22));
        assert_eq!(of_len(MAX_CLAIMS_LEN).len(), MAX_CLAIMS_LEN);
        assert_eq!(MAX_CLAIMS_LEN, 8192);
        assert!(ClaimsRequest::parse(&of_len(MAX_CLAIMS_LEN)).is_ok());
        assert!(ClaimsRequest::parse(&of_len(MAX_CLAIMS_LEN + 1)).is_err());
    }

    #[test]
    fn the_id_tokens_acr_member_is_read_in_full() {
        let acr = |json: &str| ClaimsRequest::parse(json).map(|c| c.id_token_acr);
        let claim = |essential, values: &[&str]| AcrClaim {
            essential,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        };
        assert_eq!(
            acr(r#"{"id_token":{"acr":{"essential":true,"values":["urn:a","urn:b"]}}}"#),
            Ok(Some(claim(true, &["urn:a", "urn:b"])))
        );
        assert_eq!(
            acr(r#"{"id_token":{"acr":{"value":"urn:a","essential":null}}}"#),
            Ok(Some(claim(false, &["urn:a"])))
        );
        assert_eq!(
            acr(r#"{"id_token":{"acr":{"essential":false,"value":"urn:a","values":["urn:b"]}}}"#),
            Ok(Some(claim(false, &["urn:a", "urn:b"])))
        );
        // No value named: nothing to satisfy. The UserInfo member is not the ID token's.
        for none in [
            r#"{"id_token":{"acr":{"essential":true}}}"#,
            r#"{"id_token":{"acr":null}}"#,
            r#"{"userinfo":{"acr":{"essential":true,"values":["urn:a"]}}}"#,
        ] {
            assert_eq!(acr(none), Ok(None), "{none}");
        }
        for bad in [
            r#"{"id_token":{"acr":{"essential":"yes","value":"urn:a"}}}"#,
            r#"{"id_token":{"acr":{"value":1}}}"#,
            r#"{"id_token":{"acr":{"values":"urn:a"}}}"#,
            r#"{"id_token":{"acr":{"values":["urn:a",2]}}}"#,
        ] {
            assert_eq!(acr(bad), Err("claims has an invalid acr request"), "{bad}");
        }
    }

    #[test]
    fn parses_the_parameters() {
        let p = Params::parse(b"nonce=n-0S6&max_age=0&prompt=login&login_hint=alice&ui_locales=fr+en&acr_values=urn%3Aa").unwrap();
        let o = OidcRequest::parse(&p).unwrap();
        assert_eq!(o.nonce.as_deref(), Some("n-0S6"));
        assert_eq!(o.max_age, Some(0));
        assert!(o.prompt.login);
        assert_eq!(o.ui_locales, vec!["fr", "en"]);
        assert_eq!(o.acr_values, vec!["urn:a"]);
        assert!(OidcRequest::parse(&Params::parse(b"max_age=-1").unwrap()).is_err());
    }
}

/// The user claims a response may carry: those the granted `scopes` release (§5.4) and
/// those asked for by name (§5.5), taken from everything the host knows (`all`). `sub` is
/// never taken from the host.
pub fn release_claims(
    all: &Map<String, Value>,
    scopes: &crate::scope::ScopeSet,
    by_name: &[String],
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut names: Vec<&str> = by_name.iter().map(String::as_str).collect();
    names.extend(scopes.iter().flat_map(scope_claims).map(|c| -> &str { c }));
    for name in names {
        if crate::id_token::is_protocol_claim(name) {
            continue;
        }
        if let Some(v) = all.get(name) {
            out.insert(name.to_owned(), v.clone());
        }
    }
    out
}

/// The user claims an ID token carries (§5.4, §5.5): those its `claims` request names
/// (`by_name`), and, when no access token results from the request (`response_type=id_token`,
/// §3.2.2.1: the client cannot ask UserInfo), those the granted `scopes` ask for. When an
/// access token results — with the ID token or for its code — the scopes' claims come from
/// UserInfo instead (§5.4).
pub fn release_id_token_claims(
    all: &Map<String, Value>,
    scopes: &crate::scope::ScopeSet,
    by_name: &[String],
    access_token_results: bool,
) -> Map<String, Value> {
    if access_token_results {
        release_claims(all, &crate::scope::ScopeSet::new(), by_name)
    } else {
        release_claims(all, scopes, by_name)
    }
}

/// A pairwise subject identifier (§8.1): `base64url(SHA-256(sector ‖ 0 ‖ local ‖ 0 ‖ salt))`,
/// stable per (sector, user) and unlinkable across sectors without the salt.
pub fn pairwise_subject(sector: &str, local_subject: &str, salt: &[u8]) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(sector.as_bytes());
    ctx.update(&[0]);
    ctx.update(local_subject.as_bytes());
    ctx.update(&[0]);
    ctx.update(salt);
    URL_SAFE_NO_PAD.encode(ctx.finish())
}

#[cfg(test)]
mod release_tests {
    use super::*;
    use crate::scope::ScopeSet;

    #[test]
    fn scopes_and_names_release_only_their_claims() {
        let all: Map<String, Value> = serde_json::from_str(
            r#"{"sub":"evil","name":"Alice","email":"a@example","phone_number":"1","nickname":"al","iss":"x"}"#,
        )
        .unwrap();
        let released = release_claims(
            &all,
            &ScopeSet::parse("openid email").unwrap(),
            &["nickname".into(), "iss".into()],
        );
        let keys: Vec<&str> = released.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["email", "nickname"]);
    }

    /// §5.4: without an access token the scopes' claims go in the ID token; with one, only
    /// the claims named for the ID token do.
    #[test]
    fn id_tokens_carry_the_scopes_claims_only_without_an_access_token() {
        let all: Map<String, Value> =
            serde_json::from_str(r#"{"name":"Alice","email":"a@example","nickname":"al"}"#)
                .unwrap();
        let scopes = ScopeSet::parse("openid profile email").unwrap();
        let named = ["nickname".to_owned()];
        let keys = |m: Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(release_id_token_claims(&all, &scopes, &named, false)),
            ["email", "name", "nickname"]
        );
        assert_eq!(
            keys(release_id_token_claims(&all, &scopes, &named, true)),
            ["nickname"]
        );
        assert!(release_id_token_claims(&all, &scopes, &[], true).is_empty());
    }

    #[test]
    fn each_standard_scope_releases_its_claims() {
        assert_eq!(scope_claims("profile").len(), 14);
        assert!(scope_claims("profile").contains(&"preferred_username"));
        assert_eq!(scope_claims("email"), ["email", "email_verified"]);
        assert_eq!(scope_claims("address"), ["address"]);
        assert_eq!(
            scope_claims("phone"),
            ["phone_number", "phone_number_verified"]
        );
        assert!(scope_claims("openid").is_empty());
    }

    #[test]
    fn pairwise_subjects_differ_by_sector_and_are_stable() {
        let a = pairwise_subject("a.example", "alice", b"salt");
        assert_eq!(a, pairwise_subject("a.example", "alice", b"salt"));
        assert_ne!(a, pairwise_subject("b.example", "alice", b"salt"));
        assert_ne!(a, pairwise_subject("a.example", "alice", b"other"));
        assert_ne!(a, "alice");
    }
}
