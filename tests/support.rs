//! Shared helpers for the end-to-end tests: start the example provider in-process on
//! loopback, configure `oauth2` clients for it, and play the browser through its login,
//! consent and logout pages (the browser is `portcullis_testkit::browser`'s), on either
//! adapter ([`on_each_adapter`] runs a test against each); and serve providers of the
//! tests' own with either adapter ([`served`]).
//!
//! Everything here panics on unexpected answers: these are test helpers.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicRequestTokenError};
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError,
    RedirectUrl, RequestTokenError, TokenUrl,
};
use portcullis::{Clock, SystemClock};
use portcullis_example_provider::{spawn_on, Config, DemoClient, Running, DEMO_TOML};

pub use portcullis_example_provider as provider;
/// The web framework a provider is served with.
pub use portcullis_example_provider::Adapter;
/// The browser and the helpers every host's tests share, from the test kit.
pub use portcullis_testkit::browser::{
    authorize_url, exchange_code, http_client, post_form, query_param, refresh, Browser, Decision,
    Page, PKCE_CHALLENGE, PKCE_VERIFIER,
};

pub mod served;

/// The demo configuration (`demo.toml`) with some of its `key = value` lines given other
/// values (the first line of each key; `value` is TOML), and `extra` appended (more
/// clients, more users).
pub fn demo_config(overrides: &[(&str, &str)], extra: &str) -> Config {
    let mut lines: Vec<String> = DEMO_TOML.lines().map(str::to_owned).collect();
    for (key, value) in overrides {
        let prefix = format!("{key} =");
        let line = lines
            .iter_mut()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("demo.toml has no `{key}`"));
        *line = format!("{key} = {value}");
    }
    let text = format!("{}\n{extra}", lines.join("\n"));
    Config::parse(&text).expect("the test configuration")
}

/// An `oauth2` client with its authorization and token endpoints set.
pub type CodeClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// An `oauth2` client with only its token endpoint set.
pub type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What a failed `oauth2` token request returns.
pub type TokenError = BasicRequestTokenError<HttpClientError<reqwest::Error>>;

/// Starts the example provider on `adapter` with the demo configuration on `127.0.0.1:0`.
/// It stops when the returned value is dropped.
pub async fn start(adapter: Adapter) -> Running {
    start_with(adapter, Config::demo()).await
}

/// Starts the example provider on `adapter` with `config` on `127.0.0.1:0`.
pub async fn start_with(adapter: Adapter, config: Config) -> Running {
    start_with_clock(adapter, config, Arc::new(SystemClock)).await
}

/// Starts the example provider on `adapter` with `config` on `127.0.0.1:0`, reading the
/// time from `clock` (e.g. a `ManualClock` the test moves).
pub async fn start_with_clock(adapter: Adapter, config: Config, clock: Arc<dyn Clock>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    spawn_on(adapter, config, None, listener, clock)
        .await
        .expect("start the provider")
}

/// Runs each named test (an `async fn(Adapter)` of the calling file) against the example
/// provider on each adapter, from the same code: `name` becomes the tests `axum::name` and
/// `actix::name`.
#[macro_export]
macro_rules! on_each_adapter {
    ($($test:ident),+ $(,)?) => {
        $crate::on_each_adapter!(@ axum Axum $($test),+);
        $crate::on_each_adapter!(@ actix Actix $($test),+);
    };
    (@ $module:ident $adapter:ident $($test:ident),+) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::Adapter::$adapter).await
                }
            )+
        }
    };
}

fn token_client_of(server: &Running, demo: &DemoClient) -> TokenClient {
    let client = BasicClient::new(ClientId::new(demo.id.to_owned()))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("token URL"));
    match demo.secret {
        // client_secret_basic (RFC 6749 §2.3.1), oauth2's default.
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
        // A public client identifies itself with client_id in the body (RFC 6749 §2.3.1).
        None => client.set_auth_type(AuthType::RequestBody),
    }
}

/// An `oauth2` client for the code flow of `demo`, redirecting to `redirect_uri` (which may
/// differ from the registered one, e.g. in a loopback port).
pub fn code_client(server: &Running, demo: &DemoClient, redirect_uri: &str) -> CodeClient {
    token_client_of(server, demo)
        .set_auth_uri(AuthUrl::new(server.url("/authorize")).expect("authorize URL"))
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).expect("redirect URL"))
}

/// An `oauth2` client that uses only the token endpoint (client credentials).
pub fn token_client(server: &Running, demo: &DemoClient) -> TokenClient {
    token_client_of(server, demo)
}

/// The OAuth error code of a failed token request; panics if the failure was not an error
/// response from the server.
pub fn oauth_error(result: Result<impl std::fmt::Debug, TokenError>) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected an OAuth error response, got {other:?}"),
    }
}
