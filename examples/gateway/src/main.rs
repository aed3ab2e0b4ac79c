//! `portcullis-example-gateway --config gateway.toml`: see the library's documentation.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use portcullis_example_gateway::{spawn, with_fresh_key, FileConfig};

/// An API gateway: opaque tokens validated by introspection outside, short-lived internal
/// JWTs forwarded inside.
#[derive(Parser)]
struct Args {
    /// The configuration file (TOML).
    #[arg(long)]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis-example-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let file = FileConfig::load(&args.config)?;
    let listen = file.listen;
    let gateway = with_fresh_key(file.gateway()?)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let running = spawn(&gateway, listener)?;
    eprintln!(
        "gateway on {}, keys at {}",
        running.url(""),
        running.url(gateway.jwks_path())
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
