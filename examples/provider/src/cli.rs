//! Command-line flags and the binary's main loop.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use portcullis::core::Issuer;
use portcullis::tls::ServerTls;
use portcullis_axum::ServerLimits;
use tokio::net::TcpListener;

use crate::app::{spawn, StartError};
use crate::clients::{run_clients, ClientsCommand};
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
    /// Seconds a client has to send a request's head (request line and headers), from its
    /// first byte, or from connecting; then the connection is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().header_read_timeout.as_secs(), value_parser = seconds())]
    pub header_timeout: u64,
    /// Seconds a request may take from its complete head to its answer, its body's reading
    /// included; then it is answered 408 and the connection closed.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().request_timeout.as_secs(), value_parser = seconds())]
    pub request_timeout: u64,
    /// Seconds a connection may stay idle (kept alive with no request, or with a client that
    /// stopped reading its response) before it is closed.
    #[arg(long, value_name = "SECONDS", default_value_t = ServerLimits::default().idle_timeout.as_secs(), value_parser = seconds())]
    pub idle_timeout: u64,
    /// Connections served at once; further ones wait, unaccepted, until one closes. Keep it
    /// below the process's open-file limit (`ulimit -n`).
    #[arg(long, value_name = "N", default_value_t = ServerLimits::default().max_connections)]
    pub max_connections: NonZeroUsize,
    /// Seconds requests in progress have to be answered after SIGTERM or SIGINT (Ctrl-C):
    /// new connections are refused at once, idle ones closed; what is still unanswered then
    /// is cut off, and the process exits 0. A second signal stops at once. The default, 25,
    /// is below Kubernetes' 30 s grace period, so the drain ends before a SIGKILL.
    #[arg(long, value_name = "SECONDS", default_value_t = 25, value_parser = seconds())]
    pub shutdown_timeout: u64,
    /// PEM certificate chain to serve HTTPS with (the issuer is then https://ADDR).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM certificates of the CA whose client certificates authenticate `tls_client_auth`
    /// clients (RFC 8705 §2.1); any client certificate serves `self_signed_tls_client_auth`.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
    /// Without a subcommand: serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Adds, lists, re-keys or removes the clients the store keeps.
    #[command(subcommand)]
    Clients(ClientsCommand),
}

/// Whole seconds, at least one.
fn seconds() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(1..)
}

impl Args {
    /// The server's limits, from the flags.
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(self.header_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections,
        }
    }
}

fn parse_issuer(value: &str) -> Result<Issuer, String> {
    Issuer::parse(value).map_err(|e| e.to_string())
}

/// Loads the configuration, starts the server, prints where it listens (and the demo
/// credentials without `--config`), and serves until SIGTERM or SIGINT (Ctrl-C), then
/// drains requests in progress for at most `--shutdown-timeout`, or until a second signal.
pub async fn run(args: Args) -> Result<(), StartError> {
    let (mut config, demo) = match &args.config {
        Some(path) => (Config::load(path)?, false),
        None => (Config::demo(), true),
    };
    config = config.with_server_limits(args.server_limits());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let ca = args.client_ca.as_ref().map(std::fs::read).transpose()?;
        let (cert, key) = (std::fs::read(cert)?, std::fs::read(key)?);
        config = config.with_tls(ServerTls::from_pem(&cert, &key, ca.as_deref())?);
    }
    if let Some(store) = args.store {
        config = config.with_store(store);
    }
    if let Some(Command::Clients(command)) = args.command {
        let addr = format!("http://{}", args.addr);
        let issuer = args.issuer.map_or_else(|| parse_issuer(&addr), Ok);
        let issuer = issuer.map_err(StartError::Clients)?;
        print!("{}", run_clients(config, issuer, command).await?);
        return Ok(());
    }
    let store = config.store().to_string();
    if config.store().is_shared() && args.issuer.is_none() {
        tracing::warn!(
            store,
            "a shared store without --issuer: every node must be started with the same one"
        );
    }
    // Before anything is announced: a signal sent once the readiness output is seen is
    // never the default action (an exit without draining).
    let signals = termination()?;
    let listener = TcpListener::bind(&args.addr).await?;
    let server = spawn(config, args.issuer, listener).await?;
    tracing::info!(issuer = %server.issuer(), addr = %server.local_addr(), store, "listening");
    println!("Portcullis example provider: issuer {}", server.issuer());
    if demo {
        print!("{}", demo_banner(server.issuer()));
    }
    let drain = Duration::from_secs(args.shutdown_timeout);
    let mut first = signals.clone();
    let mut second = signals;
    let serving = server.serve_until(
        async move {
            let _ = first.wait_for(|n| *n >= 1).await;
        },
        drain,
    );
    tokio::select! {
        served = serving => served,
        _ = second.wait_for(|n| *n >= 2) => {
            tracing::warn!("second signal: stopping at once");
            Ok(())
        }
    }
}

/// Counts SIGTERMs (what service managers and container runtimes send) and SIGINTs
/// (Ctrl-C), from now on: the first starts the drain, a second ends it.
fn termination() -> std::io::Result<tokio::sync::watch::Receiver<u32>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (count, counted) = tokio::sync::watch::channel(0);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
            count.send_modify(|n| *n += 1);
        }
    });
    Ok(counted)
}
