//! Delivering an authorization response the core decided: signed first for JARM, then a
//! `303` redirect (query or fragment) or an auto-submitting form (OAuth 2.0 Form Post
//! Response Mode).

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use http::header::{
    HeaderName, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, PRAGMA, REFERRER_POLICY,
    X_FRAME_OPTIONS,
};
use http::{HeaderValue, Response, StatusCode};
use portcullis_core::{Algorithm, AuthorizationResponse, UnixTime, UnsignedJws};
use url::Url;

use crate::endpoint_error::EndpointError;
use crate::keys::KeyError;
use crate::provider::Provider;
use crate::responses::{error_page, escape_html, redirect};
use crate::signer::sign_jws;

/// The form post page's only script: submits the form as soon as it loads.
const SUBMIT_SCRIPT: &str = "document.forms[0].submit()";

impl Provider {
    /// Sends `response` to the client: a JARM response is first signed into the one
    /// `response` parameter (JARM §2.1, §2.3); then a `303` to the redirect URI with the
    /// parameters in its query or fragment, or the form post page. Only a failure to sign
    /// is not delivered: it is a `temporarily_unavailable` page (503), since an unsigned error
    /// would not be accepted by a client that asked for a signed one.
    pub(crate) async fn deliver(&self, response: AuthorizationResponse) -> Response<Bytes> {
        let jwt = match response.delivery().jwt_alg {
            Some(alg) => match self.sign_response(&response, alg).await {
                Ok(jwt) => Some(jwt),
                Err(e) => return error_page(EndpointError::from(e)),
            },
            None => None,
        };
        let params: Vec<(&str, &str)> = match &jwt {
            Some(jwt) => vec![("response", jwt.as_str())],
            None => response
                .params()
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect(),
        };
        match response.location(&params) {
            Some(location) => redirect(&location),
            None => form_post_page(response.redirect_uri(), &params),
        }
    }

    /// The response JWT (JARM §2.1): the parameters with `iss`, `aud` and `exp`, signed with
    /// the provider's current key of `alg`.
    async fn sign_response(
        &self,
        response: &AuthorizationResponse,
        alg: Algorithm,
    ) -> Result<String, KeyError> {
        let inner = &self.inner;
        let now: UnixTime = inner.clock.now();
        let key = self.signer(alg, now).await?;
        let exp = now.plus(inner.policy.lifetimes.authorization_response);
        let claims = serde_json::Value::Object(response.jwt_claims(exp));
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let unsigned = UnsignedJws::new(alg, key.kid(), None, &payload)?;
        Ok(sign_jws(key.as_ref(), unsigned).await?)
    }
}

/// The form post page (OAuth 2.0 Form Post Response Mode §2): `200`, a form that POSTs
/// `params` (HTML-escaped) to `redirect_uri` and submits itself, with a button for user
/// agents without script. Its CSP allows nothing but that one script (by its hash) and a
/// form to the redirect URI's origin (§4: the page must not leak the response elsewhere); it
/// is never cached, framed, nor sends a `Referer`.
pub(crate) fn form_post_page(redirect_uri: &str, params: &[(&str, &str)]) -> Response<Bytes> {
    let mut fields = String::new();
    for (name, value) in params {
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape_html(name),
            escape_html(value)
        ));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Submit this form</title>\
         </head><body><form method=\"post\" action=\"{action}\">{fields}<noscript>\
         <button type=\"submit\">Continue</button></noscript></form>\
         <script>{SUBMIT_SCRIPT}</script></body></html>",
        action = escape_html(redirect_uri),
    );
    let csp = format!(
        "default-src 'none'; script-src '{}'; form-action {}; frame-ancestors 'none'; \
         base-uri 'none'",
        script_hash(),
        form_action_source(redirect_uri),
    );
    let headers: [(HeaderName, HeaderValue); 6] = [
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (PRAGMA, HeaderValue::from_static("no-cache")),
        (
            CONTENT_TYPE,
            HeaderValue::from_static("text/html;charset=UTF-8"),
        ),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            CONTENT_SECURITY_POLICY,
            // The source list is an origin or a scheme, ASCII: always a valid value.
            HeaderValue::from_str(&csp)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        ),
    ];
    let mut r = Response::new(Bytes::from(html));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().extend(headers);
    r
}

/// The CSP hash source of [`SUBMIT_SCRIPT`] (CSP Level 3 §2.3.1: base64 of its SHA-256).
fn script_hash() -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, SUBMIT_SCRIPT.as_bytes());
    format!("sha256-{}", STANDARD.encode(digest.as_ref()))
}

/// The `form-action` source of `redirect_uri`: its origin, or for a URI with an opaque
/// origin (a native app's private-use scheme) its scheme.
fn form_action_source(redirect_uri: &str) -> String {
    match Url::parse(redirect_uri) {
        Ok(url) => match url.origin() {
            origin @ url::Origin::Tuple(..) => origin.ascii_serialization(),
            url::Origin::Opaque(_) => format!("{}:", url.scheme()),
        },
        // Unreachable for a registered URI; then nothing may be posted.
        Err(_) => "'none'".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_is_the_origin_or_the_scheme() {
        assert_eq!(
            form_action_source("https://app.example:8443/cb?x=1"),
            "https://app.example:8443"
        );
        assert_eq!(
            form_action_source("http://127.0.0.1:4567/cb"),
            "http://127.0.0.1:4567"
        );
        assert_eq!(
            form_action_source("com.example.app:/cb"),
            "com.example.app:"
        );
        assert_eq!(form_action_source("not a uri"), "'none'");
    }

    /// The hash is of the script exactly as the page carries it (computed independently:
    /// `printf 'document.forms[0].submit()' | openssl dgst -sha256 -binary | base64`).
    #[test]
    fn the_script_hash_is_its_sha256() {
        assert_eq!(
            script_hash(),
            "sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE="
        );
        let page = form_post_page("https://app.example/cb", &[]);
        let body = std::str::from_utf8(page.body()).unwrap();
        assert!(body.contains("<script>document.forms[0].submit()</script>"));
    }
}
