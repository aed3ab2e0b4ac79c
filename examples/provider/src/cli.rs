//! Command-line flags and the binary's main loop.

use std::path::PathBuf;

use portcullis::core::Issuer;
use tokio::net::TcpListener;

use crate::app::{spawn, StartError};
use crate::config::Config;
use crate::demo::demo_banner;
use crate::store::StoreSpec;

/// A runnable Portcullis OAuth 2.0 / OpenID Connect provider with HTML login, consent and
/// logout pages.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "portcullis-example-provider", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Issuer identifier [default: http://ADDR, ADDR being the bound address]. Use an https
    /// URL when behind a TLS-terminating proxy.
    #[arg(long, value_name = "URL", value_parser = parse_issuer)]
    pub issuer: Option<Issuer>,
    /// TOML configuration file (clients, users, lifetimes, keys) [default: the demo clients and
    /// user, printed at start].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where clients, codes, tokens, grants and signing keys are kept: `memory` (nothing
    /// survives a restart), `sqlite:PATH` (a database file, created if absent, and its
    /// secrets in PATH.secrets) or `postgres:URL` (one database shared by several nodes, which
    /// must share --issuer and set the secrets in --config) [default: the config file's
    /// `store`, else memory].
    #[arg(long, value_name = "memory|sqlite:PATH|postgres:URL")]
    pub store: Option<StoreSpec>,
}

fn parse_issuer(value: &str) -> Result<Issuer, String> {
    Issuer::parse(value).map_err(|e| e.to_string())
}

/// Loads the configuration, starts the server, prints where it listens (and the demo
/// credentials without `--config`), and serves until Ctrl-C.
pub async fn run(args: Args) -> Result<(), StartError> {
    let (mut config, demo) = match &args.config {
        Some(path) => (Config::load(path)?, false),
        None => (Config::demo(), true),
    };
    if let Some(store) = args.store {
        config = config.with_store(store);
    }
    let store = config.store().to_string();
    if config.store().is_shared() && args.issuer.is_none() {
        tracing::warn!(
            store,
            "a shared store without --issuer: every node must be started with the same one"
        );
    }
    let listener = TcpListener::bind(&args.addr).await?;
    let server = spawn(config, args.issuer, listener).await?;
    tracing::info!(issuer = %server.issuer(), addr = %server.local_addr(), store, "listening");
    println!("Portcullis example provider: issuer {}", server.issuer());
    if demo {
        print!("{}", demo_banner(server.issuer()));
    }
    tokio::select! {
        result = server.wait() => result,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("shutting down");
            Ok(())
        }
    }
}
