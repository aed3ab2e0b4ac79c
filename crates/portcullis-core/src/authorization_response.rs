//! The authorization response (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207) as data: where it goes,
//! how it travels, and its parameters. The engine delivers it: a redirect, an
//! auto-submitting form (OAuth 2.0 Form Post Response Mode), and for JARM a signed JWT
//! first.

use serde_json::{Map, Value};
use url::Url;

use crate::response_type::{ResponseDelivery, ResponseTransport};
use crate::time::UnixTime;

/// One authorization response: success (`code`, `state`, `iss`) or error (`error`,
/// `error_description`, `state`, `iss`), for one client's validated redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    client_id: String,
    redirect_uri: String,
    delivery: ResponseDelivery,
    params: Vec<(&'static str, String)>,
}

impl AuthorizationResponse {
    pub(crate) fn new(
        client_id: &str,
        redirect_uri: &str,
        delivery: ResponseDelivery,
        params: Vec<(&'static str, String)>,
    ) -> Self {
        Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            delivery,
            params,
        }
    }

    /// The validated redirect URI.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// How the response travels, and whether it is signed.
    pub fn delivery(&self) -> ResponseDelivery {
        self.delivery
    }

    /// The response parameters, in order.
    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The claims of the response JWT (JARM §2.1): the response parameters (`iss` among
    /// them, RFC 9207), `aud` the client and `exp`.
    pub fn jwt_claims(&self, exp: UnixTime) -> Map<String, Value> {
        let mut claims: Map<String, Value> = self
            .params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        claims.insert("aud".into(), Value::String(self.client_id.clone()));
        claims.insert("exp".into(), Value::from(exp.secs()));
        claims
    }

    /// The `Location` of a query or fragment delivery carrying `params` (the response's own,
    /// or JARM's `response`); `None` for a form post.
    pub fn location(&self, params: &[(&str, &str)]) -> Option<String> {
        match self.delivery.transport {
            ResponseTransport::Query => Some(with_query(&self.redirect_uri, params)),
            ResponseTransport::Fragment => Some(with_fragment(&self.redirect_uri, params)),
            ResponseTransport::FormPost => None,
        }
    }

    /// The `Location` of an unsigned query or fragment delivery; `None` for a form post or
    /// a JWT, which the engine must sign first.
    pub fn plain_location(&self) -> Option<String> {
        if self.delivery.jwt_alg.is_some() {
            return None;
        }
        let params: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.location(&params)
    }
}

/// Appends `params` to the query of `redirect_uri`, keeping its own query (RFC 6749 §3.1.2).
fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        // Unreachable for a registered URI, which was parsed at registration.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// Puts `params`, form-encoded, in the fragment of `redirect_uri` (Multiple Response Type
/// Encoding Practices §2.1); a registered redirect URI has no fragment of its own (RFC 6749
/// §3.1.2).
fn with_fragment(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.set_fragment(Some(&encoded));
            url.into()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::Algorithm;

    fn response(transport: ResponseTransport, jwt_alg: Option<Algorithm>) -> AuthorizationResponse {
        AuthorizationResponse::new(
            "app",
            "https://app.example/cb?x=1",
            ResponseDelivery { transport, jwt_alg },
            vec![
                ("code", "c 1".into()),
                ("state", "s&t".into()),
                ("iss", "https://as.example".into()),
            ],
        )
    }

    /// The engine posts a form to `redirect_uri` with `params`: both as built.
    #[test]
    fn the_form_post_reads_the_redirect_uri_and_parameters() {
        let r = response(ResponseTransport::FormPost, None);
        assert_eq!(r.redirect_uri(), "https://app.example/cb?x=1");
        assert_eq!(
            r.params(),
            [
                ("code", "c 1".to_owned()),
                ("state", "s&t".to_owned()),
                ("iss", "https://as.example".to_owned())
            ]
        );
    }

    #[test]
    fn query_keeps_the_redirect_uris_own_query() {
        let r = response(ResponseTransport::Query, None);
        assert_eq!(
            r.plain_location().as_deref(),
            Some("https://app.example/cb?x=1&code=c+1&state=s%26t&iss=https%3A%2F%2Fas.example")
        );
    }

    #[test]
    fn fragment_carries_the_parameters_after_the_hash() {
        let r = response(ResponseTransport::Fragment, None);
        assert_eq!(
            r.plain_location().as_deref(),
            Some("https://app.example/cb?x=1#code=c+1&state=s%26t&iss=https%3A%2F%2Fas.example")
        );
    }

    #[test]
    fn form_posts_and_jwts_have_no_plain_location() {
        assert_eq!(
            response(ResponseTransport::FormPost, None).plain_location(),
            None
        );
        let jwt = response(ResponseTransport::Query, Some(Algorithm::RS256));
        assert_eq!(jwt.plain_location(), None);
        assert_eq!(
            jwt.location(&[("response", "a.b.c")]).as_deref(),
            Some("https://app.example/cb?x=1&response=a.b.c")
        );
    }

    /// JARM §2.1: `iss`, `aud`, `exp` and the response parameters.
    #[test]
    fn jwt_claims_are_the_parameters_with_audience_and_expiry() {
        let claims = response(ResponseTransport::Query, Some(Algorithm::RS256))
            .jwt_claims(UnixTime::from_secs(700));
        assert_eq!(
            Value::Object(claims),
            serde_json::json!({
                "code": "c 1", "state": "s&t", "iss": "https://as.example",
                "aud": "app", "exp": 700
            })
        );
        assert_eq!(
            response(ResponseTransport::Query, None).param("state"),
            Some("s&t")
        );
        assert_eq!(
            response(ResponseTransport::Query, None).param("error"),
            None
        );
    }
}
