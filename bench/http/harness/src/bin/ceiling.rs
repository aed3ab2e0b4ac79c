//! The benchmark's ceiling: an axum server whose `POST /token` reads the request body and
//! answers a constant token response, with the headers a real one carries (RFC 6749 §5.1).
//! It measures what axum, tokio and the loopback allow on this machine, so the example
//! provider's client-credentials throughput can be read as a fraction of it
//! (`bench/http/run`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use clap::Parser;

/// The response body: the shape (and length) of the example provider's opaque
/// client-credentials token response.
const TOKEN_RESPONSE: &str = "{\"access_token\":\"Ceiling-constant-access-token-0123456789abc\",\
    \"token_type\":\"Bearer\",\"expires_in\":3600}";

/// Serves `POST /token` with a constant answer until killed.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:18082")]
    addr: String,
}

async fn token(_body: Bytes) -> impl axum::response::IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json;charset=UTF-8"),
            (CACHE_CONTROL, "no-store"),
            (PRAGMA, "no-cache"),
        ],
        TOKEN_RESPONSE,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = Router::new().route("/token", post(token));
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    println!("ceiling listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}
