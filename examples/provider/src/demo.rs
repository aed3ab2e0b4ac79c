//! The demo clients and user (`demo.toml`), printed at start when no config is given.

use std::fmt::Write;

use portcullis::core::Issuer;
use portcullis::paths;

/// The demo configuration file's text (`demo.toml`), e.g. to extend it in tests.
pub const DEMO_TOML: &str = include_str!("../demo.toml");

/// A demo client's credentials.
#[derive(Debug, Clone, Copy)]
pub struct DemoClient {
    /// `client_id`.
    pub id: &'static str,
    /// `client_secret`; `None` for a public client.
    pub secret: Option<&'static str>,
    /// The registered redirect URI, if the client uses the code flow.
    pub redirect_uri: Option<&'static str>,
    /// The registered `post_logout_redirect_uri` (RP-Initiated Logout 1.0 §3), if any.
    pub post_logout_redirect_uri: Option<&'static str>,
    /// The grant types it may use.
    pub grant_types: &'static str,
    /// The scopes it may ask for.
    pub scopes: &'static str,
}

/// The scopes of the demo clients that sign users in: the examples' `read` and `write`, and
/// OpenID Connect's.
const OIDC_SCOPES: &str = "read write openid profile email address phone offline_access";

/// A demo user's credentials.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    /// Username.
    pub username: &'static str,
    /// Password.
    pub password: &'static str,
}

/// `(username, password)`, as test helpers take credentials (e.g. `portcullis-testkit`'s
/// browser).
impl<'a> From<&'a DemoUser> for (&'a str, &'a str) {
    fn from(user: &'a DemoUser) -> Self {
        (user.username, user.password)
    }
}

/// `(client_id, client_secret, redirect_uri)`, as test helpers take a client (e.g.
/// `portcullis-testkit`'s browser).
impl<'a> From<&'a DemoClient> for (&'a str, Option<&'a str>, Option<&'a str>) {
    fn from(client: &'a DemoClient) -> Self {
        (client.id, client.secret, client.redirect_uri)
    }
}

/// Confidential web application: code flow (PKCE required), refresh tokens, OpenID Connect
/// with RP-initiated logout.
pub const DEMO_WEB_CLIENT: DemoClient = DemoClient {
    id: "demo-web",
    secret: Some("demo-web-secret"),
    redirect_uri: Some("http://127.0.0.1:9000/callback"),
    post_logout_redirect_uri: Some("http://127.0.0.1:9000/signed-out"),
    grant_types: "authorization_code refresh_token",
    scopes: OIDC_SCOPES,
};

/// Public native application: code flow with PKCE, loopback redirect on any port, OpenID
/// Connect.
pub const DEMO_NATIVE_CLIENT: DemoClient = DemoClient {
    id: "demo-native",
    secret: None,
    redirect_uri: Some("http://127.0.0.1/callback"),
    post_logout_redirect_uri: None,
    grant_types: "authorization_code refresh_token",
    scopes: OIDC_SCOPES,
};

/// Confidential service: client credentials only.
pub const DEMO_SERVICE_CLIENT: DemoClient = DemoClient {
    id: "demo-service",
    secret: Some("demo-service-secret"),
    redirect_uri: None,
    post_logout_redirect_uri: None,
    grant_types: "client_credentials",
    scopes: "read write",
};

/// The demo user.
pub const DEMO_USER: DemoUser = DemoUser {
    username: "alice",
    password: "wonderland",
};

/// The demo user's second factor: the TOTP secret (base32, RFC 6238) of an authenticator
/// app. A sign-in with its code reaches `urn:portcullis:acr:mfa`.
pub const DEMO_USER_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// The text printed at start without a config file: where relying parties discover the
/// provider, the demo credentials, and a request to try (the PKCE pair is the example of
/// RFC 7636 Appendix B).
pub fn demo_banner(issuer: &Issuer) -> String {
    let mut out = String::from("Demo configuration (pass --config FILE to use your own):\n");
    let _ = writeln!(
        out,
        "  discovery     {}",
        issuer.endpoint(paths::OPENID_CONFIGURATION)
    );
    for c in [DEMO_WEB_CLIENT, DEMO_NATIVE_CLIENT, DEMO_SERVICE_CLIENT] {
        let _ = writeln!(out, "  client_id     {}", c.id);
        let _ = writeln!(
            out,
            "    secret      {}",
            c.secret.unwrap_or("(public client)")
        );
        if let Some(uri) = c.redirect_uri {
            let _ = writeln!(out, "    redirect    {uri}");
        }
        if let Some(uri) = c.post_logout_redirect_uri {
            let _ = writeln!(out, "    logout      {uri}");
        }
        let _ = writeln!(out, "    grants      {}", c.grant_types);
        let _ = writeln!(out, "    scopes      {}", c.scopes);
    }
    let _ = writeln!(
        out,
        "  user          {} / password {} / TOTP secret {}",
        DEMO_USER.username, DEMO_USER.password, DEMO_USER_TOTP_SECRET
    );
    let _ = writeln!(
        out,
        "Try: {}?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile\
         &state=xyz&nonce=n-0S6_WzA2Mj&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256",
        issuer.endpoint("/authorize"),
        DEMO_WEB_CLIENT.id,
        DEMO_WEB_CLIENT.redirect_uri.unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "then: curl -u {}:{} -d grant_type=authorization_code -d code=CODE \
         -d redirect_uri={} -d code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk {}",
        DEMO_WEB_CLIENT.id,
        DEMO_WEB_CLIENT.secret.unwrap_or_default(),
        DEMO_WEB_CLIENT.redirect_uri.unwrap_or_default(),
        issuer.endpoint("/token")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use portcullis::core::{ClientKind, GrantType, ScopeSet};

    /// The constants (and so the banner) say what `demo.toml` configures.
    #[test]
    fn constants_match_the_demo_file() {
        let config = Config::demo();
        for demo in [DEMO_WEB_CLIENT, DEMO_NATIVE_CLIENT, DEMO_SERVICE_CLIENT] {
            let c = config.clients().iter().find(|c| c.id == demo.id).unwrap();
            match (&c.kind, demo.secret) {
                (ClientKind::Confidential { secret, .. }, Some(s)) => assert!(secret.verify(s)),
                (ClientKind::Public, None) => {}
                _ => panic!("{} kind", demo.id),
            }
            let uris: Vec<_> = c.redirect_uris.iter().map(|u| u.as_str()).collect();
            assert_eq!(uris, demo.redirect_uri.into_iter().collect::<Vec<_>>());
            let logout = c.oidc.post_logout_redirect_uris.iter();
            let logout: Vec<_> = logout.map(|u| u.as_str()).collect();
            assert_eq!(logout, Vec::from_iter(demo.post_logout_redirect_uri));
            assert_eq!(c.allowed_scopes, ScopeSet::parse(demo.scopes).unwrap());
            let grants: Vec<_> = c.grant_types.iter().map(|g| g.as_str()).collect();
            let mut expected: Vec<_> = demo.grant_types.split(' ').collect();
            expected.sort_by_key(|g| GrantType::parse(g));
            assert_eq!(grants, expected);
        }
        let alice = &config.users[0];
        assert_eq!(alice.username, DEMO_USER.username);
        assert!(alice.password.verify(DEMO_USER.password));
        assert!(alice.totp.is_some());
    }

    #[test]
    fn banner_lists_the_credentials() {
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        let banner = demo_banner(&issuer);
        for needle in [
            "demo-web",
            "demo-web-secret",
            "demo-native",
            "demo-service-secret",
            "http://127.0.0.1:9000/callback",
            "http://127.0.0.1:9000/signed-out",
            "openid profile email address phone offline_access",
            "http://127.0.0.1:8080/.well-known/openid-configuration",
            "alice",
            "wonderland",
            DEMO_USER_TOTP_SECRET,
            "http://127.0.0.1:8080/authorize?",
        ] {
            assert!(banner.contains(needle), "{needle}");
        }
    }
}
