//! Authorization request query parsing and validation.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    validate_authorization_request, Client, ClientKind, GrantType, Issuer, Params, PkcePolicy,
    Policy, RedirectUri, ScopeSet,
};

fn fixture() -> &'static (Client, Issuer) {
    static F: OnceLock<(Client, Issuer)> = OnceLock::new();
    F.get_or_init(|| {
        let client = Client {
            id: "app".into(),
            kind: ClientKind::Public,
            redirect_uris: vec![
                RedirectUri::parse("https://app.example/cb").unwrap(),
                RedirectUri::parse("http://127.0.0.1/cb").unwrap(),
            ],
            allowed_scopes: ScopeSet::parse("read write").unwrap(),
            default_scopes: ScopeSet::parse("read").unwrap(),
            grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: Default::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            tokens: Default::default(),
        };
        (client, Issuer::parse("https://as.example").unwrap())
    })
}

fuzz_target!(|data: &[u8]| {
    let (client, issuer) = fixture();
    if let Ok(params) = Params::parse(data) {
        let _ = validate_authorization_request(&params, Some(client), issuer, &Policy::default());
    }
});
