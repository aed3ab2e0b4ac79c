//! The code → token exchange through the public `Provider` API, on the memory store.

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use portcullis::core::{Client, ClientKind, GrantType, Issuer, Policy, RedirectUri, ScopeSet};
use portcullis::{Approval, AuthorizeOutcome, ManualClock, Provider, Stores};
use portcullis_store_memory::MemoryStore;
use ring::digest::{digest, SHA256};
use tokio::runtime::Runtime;

use crate::fixtures::{ISSUER, NOW};

const CLIENT: &str = "app";
const REDIRECT: &str = "http://127.0.0.1/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A provider of [`ISSUER`] with the default policy, on a memory store and a fixed clock.
pub fn memory_provider() -> Provider {
    Provider::builder(Issuer::parse(ISSUER).expect("issuer"))
        .policy(Policy::default())
        .stores(Stores::shared(Arc::new(MemoryStore::new())))
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .expect("provider")
}

/// A provider on a memory store and a fixed clock, with one public client using PKCE.
pub struct CodeFlow {
    rt: Runtime,
    provider: Provider,
    scope: &'static str,
}

impl CodeFlow {
    /// Plain OAuth: scope `read write`; the exchange issues an opaque access token and a
    /// refresh token.
    pub fn oauth() -> Self {
        Self::new("read write")
    }

    /// OpenID mode: scope `openid profile`; the exchange also signs an ID token with the
    /// default key policy (RS256, key created on first use, before measuring).
    pub fn openid() -> Self {
        Self::new("openid profile")
    }

    fn new(scope: &'static str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let provider = memory_provider();
        let client = Client::new(CLIENT, ClientKind::Public)
            .with_redirect_uris([RedirectUri::parse(REDIRECT).expect("redirect URI")])
            .with_allowed_scopes(ScopeSet::parse("read write openid profile").expect("scopes"))
            .with_default_scopes(ScopeSet::parse("read").expect("scopes"))
            .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken]);
        rt.block_on(provider.register_client(&client))
            .expect("client registered");
        let flow = Self {
            rt,
            provider,
            scope,
        };
        // The first exchange creates the signing key in OpenID mode: keep it out of the
        // measurements.
        let warm = flow.code();
        assert_eq!(flow.exchange(&warm), StatusCode::OK, "exchange works");
        flow
    }

    /// Authorization request, then the host's approval: a fresh code (not measured).
    pub fn code(&self) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, VERIFIER.as_bytes()));
        let query = format!(
            "response_type=code&client_id={CLIENT}&redirect_uri={}&scope={}&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
            form(REDIRECT),
            form(self.scope)
        );
        let req = Request::get(format!("/authorize?{query}"))
            .body(Bytes::new())
            .expect("request");
        self.rt.block_on(async {
            let AuthorizeOutcome::Pending(pending) = self.provider.authorize(req).await else {
                panic!("authorization request refused");
            };
            let scopes = ScopeSet::parse(self.scope).expect("scopes");
            let approval = Approval::new("alice", NOW, scopes).with_amr(Some(vec!["pwd".into()]));
            let r = self.provider.approve(pending, approval).await;
            let location = r.headers()[header::LOCATION].to_str().expect("location");
            let (_, query) = location.split_once('?').expect("query");
            url_param(query, "code").expect("code in redirect")
        })
    }

    /// POST /token with `grant_type=authorization_code`: the measured exchange.
    pub fn exchange(&self, code: &str) -> StatusCode {
        let body = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={CLIENT}&code_verifier={VERIFIER}",
            form(code),
            form(REDIRECT)
        );
        let req = Request::builder()
            .method(Method::POST)
            .uri("/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .expect("request");
        self.rt.block_on(self.provider.token(req)).status()
    }
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn url_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
