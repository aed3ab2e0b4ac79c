//! A runnable Portcullis provider, OAuth 2.0 and OpenID Connect: axum, the memory or SQLite
//! store, HTML login, consent and logout pages, and the configured users' profile claims.
//!
//! The binary (`portcullis-example-provider`) is a thin wrapper over [`run`]. Tests and other
//! hosts start the same server in-process with [`spawn`] (or [`spawn_with`] and a clock of
//! their own, then reach the provider with [`Running::provider`], e.g. to rotate keys; or
//! [`spawn_on`] actix-web, the same site on the other [`Adapter`]), or mount [`app`]
//! themselves.
//!
//! ```no_run
//! # async fn f() -> Result<(), portcullis_example_provider::StartError> {
//! use portcullis_example_provider::{spawn, Config};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = spawn(Config::demo(), None, listener).await?;
//! println!("issuer: {}", server.issuer());
//! # Ok(()) }
//! ```
//!
//! # Running
//!
//! ```text
//! cargo run -p portcullis-example-provider -- [--addr HOST:PORT] [--issuer URL] [--config FILE]
//!     [--store memory|sqlite:PATH|postgres:URL] [--header-timeout SECONDS]
//!     [--request-timeout SECONDS] [--idle-timeout SECONDS] [--max-connections N]
//! ```
//!
//! `--addr` defaults to `127.0.0.1:8080` and `--issuer` to `http://<bound address>` (plain
//! `http` is accepted for loopback only; behind a TLS proxy pass the `https` URL). Without
//! `--config` the demo clients and user of `demo.toml` are loaded and printed. The file format
//! is shown, key by key, in `demo.toml`; unknown keys are refused and every error names its
//! field. Logs go to stderr (`RUST_LOG` filters them) and never contain secrets.
//!
//! `--store` (or `store` in the file) picks the store: `memory` (the default: nothing set up,
//! nothing written, nothing survives a restart) or `sqlite:PATH`, which survives restarts:
//! the database keeps clients, tokens, grants, signing keys and sessions, and `PATH.secrets`
//! beside it (mode 0600, created atomically) the interaction key, the pairwise subject salt
//! and the CSRF key (`[session] key`) that the configuration does not set, so that pending
//! sign-ins, pairwise `sub` values and open forms survive as well. `postgres:URL` (e.g.
//! `postgres:postgres://user@db:5432/auth`) is for several nodes of one issuer sharing one
//! PostgreSQL database (migrated on connect): every node must be started with the same
//! `--issuer` and a configuration setting `[secrets] interaction_key`, `[secrets]
//! subject_salt` and `[session] key`, which it refuses to start without.
//!
//! Relying parties discover everything from the issuer, at
//! `<issuer>/.well-known/openid-configuration`. The demo clients may ask for `openid profile
//! email address phone offline_access` (and the example's `read write`); the users' claims are
//! released by scope (OpenID Connect Core §5.4).
//!
//! What the example shows, and why:
//! * The pages' web half is `portcullis_interaction`'s (its docs say what each part
//!   guarantees, and why): server-side sessions in the configured store that logout ends
//!   (`[session] lifetime`), CSRF tokens bound to the session on every form (403 without),
//!   sign-ins throttled per account and per address (429 with `Retry-After`), pages that
//!   cannot be framed or cached, forms that may post only here (or, answered by a redirect,
//!   to the client's origin).
//! * A client's logout request signs the user out at once only when its `id_token_hint`
//!   names the signed-in user; otherwise the user is asked (RP-Initiated Logout 1.0 §2), so
//!   another site cannot sign them out. An `id_token_hint` at the authorization endpoint
//!   naming someone else does not count the session.
//! * Consent is remembered by the engine: a request within what the user already granted
//!   goes straight back to the client (`prompt=consent` asks again).
//! * Passwords and client secrets are kept only as PBKDF2 hashes and compared in constant
//!   time (RFC 6819 §5.1.4.1.3), on the engine's bounded blocking pool
//!   ([`portcullis::BlockingPool`]), so a flood of wrong secrets cannot stall the other
//!   requests.
//! * The server (`portcullis_axum::serve`) bounds how long a client may take to send a
//!   request head (`--header-timeout`), to finish a request (`--request-timeout`) and to
//!   stay idle (`--idle-timeout`), and how many connections it holds
//!   (`--max-connections`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The README's embedding example is compiled with this crate's doc tests: it needs the
// engine, the axum adapter and the memory store, which this crate depends on.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

mod app;
mod cli;
mod clients;
mod config;
mod demo;
mod payment;
mod prometheus;
mod schema;
mod store;
mod trust;
mod users;

pub use app::{app, spawn, spawn_on, spawn_with, spawn_with_stores, Adapter, Running, StartError};
pub use cli::{run, Args, Command};
pub use clients::{run_clients, ClientsCommand};
pub use config::{Config, ConfigError, DEFAULT_PBKDF2_ITERATIONS};
pub use demo::{
    demo_banner, DemoClient, DemoUser, DEMO_NATIVE_CLIENT, DEMO_SERVICE_CLIENT, DEMO_TOML,
    DEMO_USER, DEMO_USER_TOTP_SECRET, DEMO_WEB_CLIENT,
};
pub use store::{StoreSpec, StoreSpecError};
