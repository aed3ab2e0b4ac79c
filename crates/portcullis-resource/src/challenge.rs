//! `WWW-Authenticate` challenges: the `Bearer` scheme (RFC 6750 §3), the `DPoP` scheme
//! (RFC 9449 §7.1), step-up parameters (RFC 9470 §3) and `resource_metadata` (RFC 9728 §5.1).

use portcullis_core::{Algorithm, TokenScheme};

/// What every challenge of one resource server says, whatever the refusal.
#[derive(Debug)]
pub(crate) struct ChallengeContext {
    /// `realm` (RFC 6750 §3), if configured.
    pub(crate) realm: Option<String>,
    /// The URL of the resource's metadata document (RFC 9728 §3.1, §5.1).
    pub(crate) resource_metadata: String,
    /// Whether the `Bearer` scheme is accepted.
    pub(crate) bearer: bool,
    /// The DPoP proof algorithms (`algs`, RFC 9449 §7.1) when the `DPoP` scheme is accepted.
    pub(crate) dpop_algorithms: Option<Vec<Algorithm>>,
}

/// The auth-params of one refusal (all fixed text or configuration, never a token).
#[derive(Debug, Default)]
pub(crate) struct ChallengeParams<'a> {
    /// `error`: none when the request carried no token (RFC 6750 §3.1).
    pub(crate) error: Option<&'a str>,
    /// `error_description`.
    pub(crate) description: Option<&'a str>,
    /// `scope`: the scope the request needs (RFC 6750 §3).
    pub(crate) scope: Option<&'a str>,
    /// `acr_values` (RFC 9470 §3).
    pub(crate) acr_values: Option<&'a str>,
    /// `max_age` in seconds (RFC 9470 §3).
    pub(crate) max_age: Option<u64>,
}

impl ChallengeContext {
    /// The schemes whose challenge carries the error: `scheme` if given and accepted, else
    /// every accepted one (RFC 9449 §7.2: the scheme of the attempt when it is unambiguous).
    pub(crate) fn schemes(&self, scheme: Option<TokenScheme>) -> Vec<TokenScheme> {
        let accepted = |s: &TokenScheme| match s {
            TokenScheme::Bearer => self.bearer,
            TokenScheme::Dpop => self.dpop_algorithms.is_some(),
        };
        match scheme.filter(accepted) {
            Some(s) => vec![s],
            None => [TokenScheme::Bearer, TokenScheme::Dpop]
                .into_iter()
                .filter(accepted)
                .collect(),
        }
    }

    /// One challenge of `scheme`: `realm`, the refusal's parameters, `algs` for `DPoP`, and
    /// `resource_metadata`.
    pub(crate) fn render(&self, scheme: TokenScheme, params: &ChallengeParams<'_>) -> String {
        let mut out = String::from(match scheme {
            TokenScheme::Bearer => "Bearer",
            TokenScheme::Dpop => "DPoP",
        });
        let mut first = true;
        let mut param = |name: &str, value: &str| {
            out.push_str(if first { " " } else { ", " });
            first = false;
            out.push_str(name);
            out.push('=');
            push_quoted(&mut out, value);
        };
        if let Some(realm) = &self.realm {
            param("realm", realm);
        }
        if let Some(error) = params.error {
            param("error", error);
        }
        if let Some(description) = params.description {
            param("error_description", description);
        }
        if let Some(scope) = params.scope {
            param("scope", scope);
        }
        if let Some(acr_values) = params.acr_values {
            param("acr_values", acr_values);
        }
        if let Some(max_age) = params.max_age {
            param("max_age", &max_age.to_string());
        }
        if let (TokenScheme::Dpop, Some(algs)) = (scheme, &self.dpop_algorithms) {
            let names: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
            param("algs", &names.join(" "));
        }
        param("resource_metadata", &self.resource_metadata);
        out
    }
}

/// `value` as an HTTP quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped; characters a
/// header value cannot carry (controls, non-ASCII) left out.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' ' | '\t' => out.push(c),
            c if c.is_ascii_graphic() => out.push(c),
            _ => {}
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(realm: Option<&str>) -> ChallengeContext {
        ChallengeContext {
            realm: realm.map(str::to_owned),
            resource_metadata: "https://api.example/.well-known/oauth-protected-resource".into(),
            bearer: true,
            dpop_algorithms: Some(vec![Algorithm::ES256, Algorithm::EdDSA]),
        }
    }

    #[test]
    fn renders_the_parameters_in_order_quoted() {
        let c = context(Some("api"));
        let params = ChallengeParams {
            error: Some("insufficient_scope"),
            description: Some("needs more"),
            scope: Some("a b"),
            ..Default::default()
        };
        assert_eq!(
            c.render(TokenScheme::Bearer, &params),
            "Bearer realm=\"api\", error=\"insufficient_scope\", \
             error_description=\"needs more\", scope=\"a b\", \
             resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        );
        assert_eq!(
            c.render(TokenScheme::Dpop, &ChallengeParams::default()),
            "DPoP realm=\"api\", algs=\"ES256 EdDSA\", \
             resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\""
        );
    }

    #[test]
    fn escapes_quotes_and_backslashes_and_drops_controls() {
        let c = context(Some("a \"b\" \\c\r\nd\u{e9}"));
        let challenge = c.render(TokenScheme::Bearer, &ChallengeParams::default());
        assert!(
            challenge.starts_with(r#"Bearer realm="a \"b\" \\cd", "#),
            "{challenge}"
        );
    }

    #[test]
    fn challenges_with_the_scheme_named_if_accepted_else_every_accepted_one() {
        let mut c = context(None);
        use TokenScheme::*;
        assert_eq!(c.schemes(Some(Dpop)), [Dpop]);
        assert_eq!(c.schemes(None), [Bearer, Dpop]);
        c.dpop_algorithms = None;
        assert_eq!(c.schemes(Some(Dpop)), [Bearer]);
    }
}
