//! The adapters are translation only: every check here runs against `portcullis-axum` and
//! `portcullis-actix` alike, over real loopback connections, and each adapter's answers are
//! the engine's (statuses, headers, bodies), with the same methods per endpoint, `HEAD`,
//! `405`s, `404`s and body limit.

use std::sync::Arc;

use bytes::Bytes;
use portcullis::{paths, HostRoutes, Provider};
use portcullis_e2e::served::{
    test_provider, Adapter, Mount, Port, Served, TestPages, ECHO_HEADER, PEER_HEADER,
    SIGN_IN_HEADER, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET,
};
use portcullis_e2e::{http_client, query_param, PKCE_CHALLENGE, PKCE_VERIFIER};
use portcullis_store_memory::MemoryStore;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// The adapters' body limit (both crates say 64 KiB).
const LIMIT: usize = 64 * 1024;

/// One provider at the root of a server of `adapter`.
async fn start(adapter: Adapter) -> (Served, Provider) {
    let port = Port::bind();
    let store = Arc::new(MemoryStore::new());
    let provider = test_provider(store.clone(), port.issuer("")).await;
    let pages = TestPages::new(&provider, store);
    let served = Served::start(adapter, port, Mount::One(provider.clone(), pages)).await;
    (served, provider)
}

/// An answer as the client saw it.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut request = http_client().request(method, url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("an answer");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("the body"),
    }
}

/// The engine's own answer to the same request, for comparison.
async fn engine(
    provider: &Provider,
    method: &str,
    target: &str,
    form: bool,
) -> http::Response<Bytes> {
    let mut req = http::Request::builder().method(method).uri(target);
    if form {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req.body(Bytes::new()).expect("a request");
    match target.split('?').next().expect("a path") {
        paths::TOKEN => provider.token(req).await,
        paths::PAR => provider.pushed_authorization_request(req).await,
        paths::DEVICE_AUTHORIZATION => provider.device_authorization(req).await,
        paths::INTROSPECT => provider.introspect(req).await,
        paths::REVOKE => provider.revoke(req).await,
        paths::USERINFO => provider.userinfo(req).await,
        paths::AUTHORIZE => match provider.authorize(req).await {
            portcullis::AuthorizeOutcome::Respond(r) => r,
            portcullis::AuthorizeOutcome::Pending(_) => panic!("pending"),
        },
        paths::END_SESSION => match provider.end_session(req).await {
            portcullis::LogoutOutcome::Respond(r) => r,
            portcullis::LogoutOutcome::Pending(_) => panic!("pending"),
        },
        other => panic!("no engine endpoint at {other}"),
    }
}

#[tokio::test]
async fn jwks_and_metadata_answer_get_and_head_and_405_otherwise() {
    for adapter in Adapter::ALL {
        let (server, provider) = start(adapter).await;
        for path in [
            paths::JWKS,
            paths::OPENID_CONFIGURATION,
            paths::OAUTH_AUTHORIZATION_SERVER,
        ] {
            let url = server.url(path);
            let get = send(Method::GET, &url, &[], Vec::new()).await;
            assert_eq!(get.status, StatusCode::OK, "{adapter:?} {path}");
            let expected = if path == paths::JWKS {
                provider.jwks().await
            } else {
                provider.discovery()
            };
            for name in ["content-type", "cache-control"] {
                assert_eq!(
                    get.headers.get(name).map(|v| v.as_bytes()),
                    expected.headers().get(name).map(|v| v.as_bytes()),
                    "{adapter:?} {path} {name}"
                );
            }
            assert_eq!(get.body, expected.body(), "{adapter:?} {path}");

            let head = send(Method::HEAD, &url, &[], Vec::new()).await;
            assert_eq!(head.status, StatusCode::OK, "{adapter:?} {path}");
            assert!(head.body.is_empty(), "{adapter:?} {path}");
            assert_eq!(
                head.header("content-type"),
                get.header("content-type"),
                "{adapter:?} {path}"
            );

            for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
                let answer = send(method.clone(), &url, &[], b"x=1".to_vec()).await;
                assert_eq!(
                    (answer.status, answer.header("allow")),
                    (StatusCode::METHOD_NOT_ALLOWED, Some("GET,HEAD")),
                    "{adapter:?} {method} {path}"
                );
                assert!(answer.body.is_empty(), "{adapter:?} {method} {path}");
            }
        }
    }
}

/// At every other endpoint the engine decides which methods it takes: the adapter passes
/// every method through and sends the engine's answer unchanged.
#[tokio::test]
async fn other_endpoints_pass_every_method_to_the_engine() {
    let cases = [
        ("GET", paths::TOKEN),
        ("PUT", paths::TOKEN),
        ("GET", paths::PAR),
        ("POST", paths::PAR),
        ("GET", paths::DEVICE_AUTHORIZATION),
        ("POST", paths::DEVICE_AUTHORIZATION),
        ("GET", paths::INTROSPECT),
        ("GET", paths::REVOKE),
        ("PUT", paths::USERINFO),
        ("GET", paths::USERINFO),
        ("DELETE", paths::AUTHORIZE),
        ("OPTIONS", paths::AUTHORIZE),
        ("GET", "/authorize?client_id=nobody"),
        ("PATCH", paths::END_SESSION),
        ("GET", "/session/end?id_token_hint=not.a.token"),
    ];
    for adapter in Adapter::ALL {
        let (server, provider) = start(adapter).await;
        for (method, target) in cases {
            let expected = engine(&provider, method, target, false).await;
            let method = Method::from_bytes(method.as_bytes()).expect("a method");
            let answer = send(method.clone(), &server.url(target), &[], Vec::new()).await;
            assert_eq!(
                answer.status,
                expected.status(),
                "{adapter:?} {method} {target}"
            );
            assert_eq!(
                answer.body,
                expected.body(),
                "{adapter:?} {method} {target}"
            );
            for (name, value) in expected.headers() {
                assert_eq!(
                    answer
                        .headers
                        .get_all(name.as_str())
                        .iter()
                        .collect::<Vec<_>>(),
                    expected.headers().get_all(name).iter().collect::<Vec<_>>(),
                    "{adapter:?} {method} {target} {name} {value:?}"
                );
            }
        }
        // HEAD reaches the engine too (which refuses it here); no body goes back.
        for path in [paths::TOKEN, paths::AUTHORIZE, paths::USERINFO] {
            let expected = engine(&provider, "HEAD", path, false).await;
            let answer = send(Method::HEAD, &server.url(path), &[], Vec::new()).await;
            assert_eq!(answer.status, expected.status(), "{adapter:?} HEAD {path}");
            assert!(answer.body.is_empty(), "{adapter:?} HEAD {path}");
        }
    }
}

#[tokio::test]
async fn other_paths_are_404() {
    for adapter in Adapter::ALL {
        let (server, _) = start(adapter).await;
        for path in [
            "/",
            "/nope",
            "/token/",
            "/TOKEN",
            "/jwks/x",
            "/.well-known/",
            "/t%6Fken",
            "//token",
            "/jwks%2F",
        ] {
            let answer = send(Method::GET, &server.url(path), &[], Vec::new()).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{adapter:?} {path}");
            let answer = send(Method::POST, &server.url(path), &[], Vec::new()).await;
            assert_eq!(
                answer.status,
                StatusCode::NOT_FOUND,
                "{adapter:?} POST {path}"
            );
        }
    }
}

/// Sends `POST path` with `body` over a raw connection, chunked or with a length; returns
/// the status line's code and everything after the head.
async fn raw_post(server: &Served, path: &str, body: &[u8], chunked: bool) -> (u16, String) {
    let url = Url::parse(&server.url(path)).expect("a URL");
    let addr = format!(
        "{}:{}",
        url.host_str().expect("a host"),
        url.port().expect("a port")
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    // The server may answer (and close) before reading everything.
    let _ = if chunked {
        let mut framed = format!("{:x}\r\n", body.len()).into_bytes();
        framed.extend_from_slice(body);
        framed.extend_from_slice(b"\r\n0\r\n\r\n");
        stream.write_all(&framed).await
    } else {
        stream.write_all(body).await
    };
    let mut all = Vec::new();
    let _ = stream.read_to_end(&mut all).await;
    let text = String::from_utf8_lossy(&all).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {text:?}"));
    (status, text)
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let over = vec![b'a'; LIMIT + 1];
    let at = {
        let mut body = b"grant_type=x&pad=".to_vec();
        body.resize(LIMIT, b'a');
        body
    };
    for adapter in Adapter::ALL {
        let (server, provider) = start(adapter).await;
        for chunked in [false, true] {
            for path in [
                paths::TOKEN,
                paths::PAR,
                paths::DEVICE_AUTHORIZATION,
                paths::INTROSPECT,
                paths::REVOKE,
                paths::USERINFO,
            ] {
                let (status, text) = raw_post(&server, path, &over, chunked).await;
                assert_eq!(status, 413, "{adapter:?} {path} chunked={chunked}: {text}");
                let expected = provider.body_too_large(path);
                let body = std::str::from_utf8(expected.body()).expect("UTF-8");
                assert!(text.ends_with(body), "{adapter:?} {path}: {text}");
                let challenge = text
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"));
                assert_eq!(
                    challenge.is_some(),
                    path == paths::USERINFO,
                    "{adapter:?} {path}: {text}"
                );
                // A body of exactly the limit reaches the engine.
                let (status, text) = raw_post(&server, path, &at, chunked).await;
                assert!(matches!(status, 400 | 401), "{adapter:?} {path}: {text}");
            }
            for path in [paths::AUTHORIZE, paths::END_SESSION] {
                let (status, text) = raw_post(&server, path, &over, chunked).await;
                assert_eq!(status, 413, "{adapter:?} {path}: {text}");
                assert!(
                    text.ends_with("request body too large"),
                    "{adapter:?} {path}: {text}"
                );
            }
        }
    }
}

fn authorize_target(extra: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", WEB_CLIENT)
        .append_pair("redirect_uri", WEB_REDIRECT)
        .append_pair("scope", "openid read offline_access")
        .append_pair("state", "st")
        .append_pair("code_challenge", PKCE_CHALLENGE)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}?{query}{extra}", paths::AUTHORIZE)
}

/// The host's hook gets the request's head (headers, the peer's address) and its answer
/// goes out whole (repeated headers included); its ticket resumes at the provider.
#[tokio::test]
async fn the_interaction_gets_the_head_and_its_answer_goes_out_whole() {
    for adapter in Adapter::ALL {
        let (server, provider) = start(adapter).await;
        let page = send(
            Method::GET,
            &server.url(&authorize_target("")),
            &[(ECHO_HEADER, "hello")],
            Vec::new(),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{adapter:?}");
        let cookies: Vec<_> = page.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"], "{adapter:?}");
        assert_eq!(page.header(ECHO_HEADER), Some("hello"), "{adapter:?}");
        assert_eq!(page.header(PEER_HEADER), Some("yes"), "{adapter:?}");
        let body = std::str::from_utf8(&page.body).expect("UTF-8");
        let ticket = body.strip_prefix("login:").expect("the login page");
        assert!(provider.resume(ticket).is_ok(), "{adapter:?}");
        // POST with a form reaches the same hook.
        let target = authorize_target("");
        let (path, query) = target.split_once('?').expect("a query");
        let page = send(
            Method::POST,
            &server.url(path),
            &[("content-type", "application/x-www-form-urlencoded")],
            query.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{adapter:?}");
        assert!(page.body.starts_with(b"login:"), "{adapter:?}");
    }
}

async fn post_form(server: &Served, path: &str, form: &[(&str, &str)]) -> Answer {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = http_client()
        .post(server.url(path))
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("an answer");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("the body"),
    }
}

/// The whole code flow, refresh, UserInfo, introspection, revocation and logout, through
/// the adapter.
#[tokio::test]
async fn the_code_flow_through_the_adapter() {
    for adapter in Adapter::ALL {
        let (server, _) = start(adapter).await;
        let redirect = send(
            Method::GET,
            &server.url(&authorize_target("")),
            &[(SIGN_IN_HEADER, "alice")],
            Vec::new(),
        )
        .await;
        assert_eq!(redirect.status, StatusCode::SEE_OTHER, "{adapter:?}");
        let location = Url::parse(redirect.header("location").expect("a Location")).expect("URL");
        assert!(redirect.header("set-cookie").is_some(), "{adapter:?}");
        let code = query_param(&location, "code").expect("a code");
        let tokens = post_form(
            &server,
            paths::TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await;
        assert_eq!(
            tokens.status,
            StatusCode::OK,
            "{adapter:?} {:?}",
            tokens.body
        );
        assert_eq!(
            tokens.header("cache-control"),
            Some("no-store"),
            "{adapter:?}"
        );
        let tokens = tokens.json();
        let access = tokens["access_token"].as_str().expect("an access token");
        let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
        let id_token = tokens["id_token"].as_str().expect("an ID token");

        let bearer = format!("Bearer {access}");
        let userinfo = send(
            Method::GET,
            &server.url(paths::USERINFO),
            &[("authorization", &bearer)],
            Vec::new(),
        )
        .await;
        assert_eq!(userinfo.status, StatusCode::OK, "{adapter:?}");
        assert_eq!(userinfo.json()["sub"], "alice", "{adapter:?}");

        let introspection = post_form(&server, paths::INTROSPECT, &[("token", access)]).await;
        assert_eq!(introspection.json()["active"], true, "{adapter:?}");

        let refreshed = post_form(
            &server,
            paths::TOKEN,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{adapter:?}");

        let revoked = post_form(&server, paths::REVOKE, &[("token", access)]).await;
        assert_eq!(revoked.status, StatusCode::OK, "{adapter:?}");
        let introspection = post_form(&server, paths::INTROSPECT, &[("token", access)]).await;
        assert_eq!(introspection.json()["active"], false, "{adapter:?}");

        // RP-initiated logout reaches the host's hook, which answers with the engine.
        let logout = send(
            Method::GET,
            &server.url(&format!(
                "{}?id_token_hint={id_token}&post_logout_redirect_uri={}&state=s1",
                paths::END_SESSION,
                portcullis_e2e::served::WEB_LOGOUT_REDIRECT
            )),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(
            logout.status,
            StatusCode::SEE_OTHER,
            "{adapter:?} {:?}",
            logout.body
        );
        assert!(
            logout
                .header("location")
                .is_some_and(|l| l.starts_with(portcullis_e2e::served::WEB_LOGOUT_REDIRECT)),
            "{adapter:?}"
        );
    }
}

/// A router nested at its issuer's path (axum's `nest`, actix's `web::scope`) serves its
/// endpoints there, where its discovery document says they are.
#[tokio::test]
async fn a_router_nested_at_the_issuers_path() {
    for adapter in Adapter::ALL {
        let port = Port::bind();
        let store = Arc::new(MemoryStore::new());
        let provider = test_provider(store.clone(), port.issuer("/tenant")).await;
        let pages = TestPages::new(&provider, store);
        let server = Served::start(adapter, port, Mount::Nested(provider.clone(), pages)).await;
        let url = server.url("/tenant/.well-known/openid-configuration");
        let metadata = send(Method::GET, &url, &[], Vec::new()).await;
        assert_eq!(metadata.status, StatusCode::OK, "{adapter:?}");
        let metadata = metadata.json();
        assert_eq!(
            metadata["issuer"],
            provider.issuer().as_str(),
            "{adapter:?}"
        );
        let jwks = metadata["jwks_uri"].as_str().expect("jwks_uri");
        assert_eq!(jwks, server.url("/tenant/jwks"), "{adapter:?}");
        let answer = send(Method::GET, jwks, &[], Vec::new()).await;
        assert_eq!(answer.status, StatusCode::OK, "{adapter:?}");
        let token = metadata["token_endpoint"].as_str().expect("token_endpoint");
        let expected = engine(&provider, "GET", paths::TOKEN, false).await;
        let answer = send(Method::GET, token, &[], Vec::new()).await;
        assert_eq!(answer.status, expected.status(), "{adapter:?}");
        for path in ["/jwks", "/token", "/tenant/t%6Fken", "/tenantx/jwks"] {
            let answer = send(Method::GET, &server.url(path), &[], Vec::new()).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{adapter:?} {path}");
        }
    }
}

/// A request whose body does not come in time gets `408 Request Timeout` and its connection
/// is closed: axum's from `serve`, actix's from the router (actix-web's server times only
/// the head). On the wall clock: actix runs its own runtime, out of reach of tokio's paused
/// clock; the timeout is short and the wait for it bounded.
#[tokio::test]
async fn a_body_that_does_not_come_gets_408() {
    for adapter in Adapter::ALL {
        let port = Port::bind();
        let store = Arc::new(MemoryStore::new());
        let provider = test_provider(store.clone(), port.issuer("")).await;
        let pages = TestPages::new(&provider, store);
        let timeout = std::time::Duration::from_millis(300);
        let server = Served::start_timed(adapter, port, Mount::One(provider, pages), timeout).await;
        let url = Url::parse(&server.url("/")).expect("a URL");
        let addr = format!(
            "{}:{}",
            url.host_str().expect("host"),
            url.port().expect("port")
        );
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let started = std::time::Instant::now();
        // Three bytes of a ten-byte body, then nothing.
        stream
            .write_all(b"POST /token HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .expect("write");
        let mut all = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            stream.read_to_end(&mut all),
        )
        .await;
        assert!(read.is_ok(), "{adapter:?}: the connection was kept");
        assert!(started.elapsed() >= timeout, "{adapter:?}: closed early");
        let text = String::from_utf8_lossy(&all);
        assert!(text.starts_with("HTTP/1.1 408"), "{adapter:?}: {text}");
        assert!(
            text.to_ascii_lowercase().contains("connection: close"),
            "{adapter:?}: {text}"
        );
    }
}

/// The host's own routes (the engine's `HostRoutes`) are mounted alike: each request reaches
/// its method's handler translated whole (the peer's address included), another method gets
/// `405` with `Allow`, a body over the limit `413`.
#[tokio::test]
async fn host_routes_are_mounted_alike() {
    let routes = HostRoutes::new().route(http::Method::POST, "/login", |req| async move {
        let req: http::Request<Bytes> = req;
        let peer = req.extensions().get::<std::net::SocketAddr>().is_some();
        let (method, uri, len) = (req.method(), req.uri(), req.body().len());
        http::Response::new(Bytes::from(format!("{method} {uri} {len} peer={peer}")))
    });
    for adapter in Adapter::ALL {
        let port = Port::bind();
        let store = Arc::new(MemoryStore::new());
        let provider = test_provider(store.clone(), port.issuer("")).await;
        let pages = TestPages::new(&provider, store);
        let mount = Mount::One(provider, pages);
        let server = Served::start_with_routes(adapter, port, mount, routes.clone()).await;
        let ok = send(
            Method::POST,
            &server.url("/login?x=1"),
            &[],
            b"a=1".to_vec(),
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "{adapter:?}");
        assert_eq!(ok.body, "POST /login?x=1 3 peer=true", "{adapter:?}");
        let other = send(Method::GET, &server.url("/login"), &[], Vec::new()).await;
        assert_eq!(
            (other.status, other.header("allow")),
            (StatusCode::METHOD_NOT_ALLOWED, Some("POST")),
            "{adapter:?}"
        );
        let (status, text) = raw_post(&server, "/login", &vec![b'a'; LIMIT + 1], false).await;
        assert_eq!(status, 413, "{adapter:?}: {text}");
        // The engine's endpoints are still there.
        let jwks = send(Method::GET, &server.url(paths::JWKS), &[], Vec::new()).await;
        assert_eq!(jwks.status, StatusCode::OK, "{adapter:?}");
    }
}
