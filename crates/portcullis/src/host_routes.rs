//! The host's own routes beside the engine's endpoints, framework-free: every adapter mounts
//! the same table.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW};
use http::{Method, Request, Response, StatusCode};

type Handler = Arc<
    dyn Fn(Request<Bytes>) -> Pin<Box<dyn Future<Output = Response<Bytes>> + Send>> + Send + Sync,
>;

/// The host's own routes below the issuer, on `http` types: the targets of its login,
/// consent and logout forms, its account pages. Every adapter mounts them beside the
/// engine's endpoints (`portcullis_axum::host_routes`, `portcullis_actix::host_routes`),
/// each request buffered within the adapter's body limit and carrying the peer's address as
/// a [`std::net::SocketAddr`] extension.
///
/// ```
/// # use bytes::Bytes;
/// let routes = portcullis::HostRoutes::new().route(http::Method::POST, "/login", |_req| async {
///     http::Response::new(Bytes::from_static(b"signed in"))
/// });
/// assert_eq!(routes.paths().collect::<Vec<_>>(), ["/login"]);
/// ```
#[derive(Clone, Default)]
pub struct HostRoutes {
    /// Each path with its handlers by method, in the order added.
    paths: Vec<(String, Vec<(Method, Handler)>)>,
}

impl std::fmt::Debug for HostRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes = self.paths.iter().flat_map(|(path, handlers)| {
            handlers
                .iter()
                .map(move |(method, _)| format!("{method} {path}"))
        });
        f.debug_list().entries(routes).finish()
    }
}

impl HostRoutes {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `method` requests to `path` (starting with `/`, below the issuer) with
    /// `handler`. A `GET` route also answers `HEAD` (the server sends no body).
    pub fn route<F, Fut>(mut self, method: Method, path: &str, handler: F) -> Self
    where
        F: Fn(Request<Bytes>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Bytes>> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |req| Box::pin(handler(req)));
        match self.paths.iter_mut().find(|(p, _)| p == path) {
            Some((_, handlers)) => handlers.push((method, handler)),
            None => self.paths.push((path.to_owned(), vec![(method, handler)])),
        }
        self
    }

    /// The paths that have routes, each once: what an adapter mounts.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(|(path, _)| path.as_str())
    }

    /// Answers `req`, received at `path`: its method's handler, or `405 Method Not Allowed`
    /// with `Allow` (RFC 9110 §15.5.6) when the path has none for it; `404 Not Found` for a
    /// path without routes.
    pub async fn answer(&self, path: &str, req: Request<Bytes>) -> Response<Bytes> {
        let Some((_, handlers)) = self.paths.iter().find(|(p, _)| p == path) else {
            return status(StatusCode::NOT_FOUND);
        };
        let wanted = match req.method() {
            &Method::HEAD => Method::GET,
            other => other.clone(),
        };
        if let Some((_, handler)) = handlers.iter().find(|(m, _)| *m == wanted) {
            return handler(req).await;
        }
        let allowed: Vec<&str> = handlers
            .iter()
            .flat_map(|(m, _)| match *m {
                Method::GET => vec!["GET", "HEAD"],
                ref other => vec![other.as_str()],
            })
            .collect();
        let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
        if let Ok(allow) = HeaderValue::from_str(&allowed.join(",")) {
            response.headers_mut().insert(ALLOW, allow);
        }
        response
    }
}

fn status(code: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = code;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> HostRoutes {
        let answer = |text: &'static str| {
            move |req: Request<Bytes>| async move {
                Response::new(Bytes::from(format!("{text} {}", req.body().len())))
            }
        };
        HostRoutes::new()
            .route(Method::POST, "/login", answer("login"))
            .route(Method::GET, "/account", answer("account"))
            .route(Method::POST, "/account", answer("account changed"))
    }

    async fn send(method: Method, path: &str) -> Response<Bytes> {
        let req = Request::builder()
            .method(method)
            .body(Bytes::from_static(b"abc"))
            .unwrap();
        routes().answer(path, req).await
    }

    #[tokio::test]
    async fn each_method_reaches_its_handler_and_head_is_get() {
        assert_eq!(routes().paths().collect::<Vec<_>>(), ["/login", "/account"]);
        assert_eq!(send(Method::POST, "/login").await.body(), "login 3");
        assert_eq!(send(Method::GET, "/account").await.body(), "account 3");
        assert_eq!(send(Method::HEAD, "/account").await.body(), "account 3");
        assert_eq!(
            send(Method::POST, "/account").await.body(),
            "account changed 3"
        );
        assert_eq!(
            format!("{:?}", routes()),
            r#"["POST /login", "GET /account", "POST /account"]"#
        );
    }

    #[tokio::test]
    async fn other_methods_get_405_with_allow_and_other_paths_404() {
        for (method, path, allow) in [
            (Method::GET, "/login", "POST"),
            (Method::HEAD, "/login", "POST"),
            (Method::DELETE, "/account", "GET,HEAD,POST"),
        ] {
            let r = send(method.clone(), path).await;
            assert_eq!(
                r.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(r.headers()[ALLOW], allow, "{method} {path}");
            assert!(r.body().is_empty());
        }
        let r = send(Method::GET, "/nope").await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().get(ALLOW).is_none());
    }
}
