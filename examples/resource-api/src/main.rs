//! `portcullis-example-resource-api`: the example API (see the library documentation) in
//! front of an authorization server, by default the example provider's.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use portcullis_core::Issuer;
use portcullis_example_resource_api::{spawn, Settings, Validation};

/// The environment variable holding the introspection client's secret (kept off the
/// command line, which other users of the machine can read).
const SECRET_VAR: &str = "RESOURCE_API_CLIENT_SECRET";

/// An API protected by portcullis-resource.
#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: String,
    /// The authorization server's issuer.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// This API's resource identifier (the `aud` of its tokens).
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    resource: String,
    /// Validate opaque tokens by introspection as this client (secret in
    /// RESOURCE_API_CLIENT_SECRET) instead of JWT access tokens.
    #[arg(long)]
    introspection_client_id: Option<String>,
    /// Refuse DPoP (accept bearer tokens only).
    #[arg(long)]
    no_dpop: bool,
    /// The oldest login POST /payments accepts, in seconds.
    #[arg(long, default_value_t = 300)]
    payment_max_age: u64,
    /// An `acr` POST /payments accepts (repeatable; any when none).
    #[arg(long)]
    payment_acr: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut settings = Settings::new(Issuer::parse(&args.issuer)?, args.resource);
    if let Some(client_id) = args.introspection_client_id {
        let client_secret = std::env::var(SECRET_VAR).map_err(|_| format!("set {SECRET_VAR}"))?;
        settings.validation = Validation::Introspection {
            client_id,
            client_secret,
            cache_max_age: Duration::from_secs(60),
        };
    }
    settings.dpop = !args.no_dpop;
    settings.payment_max_age = Some(Duration::from_secs(args.payment_max_age));
    settings.payment_acr_values = args.payment_acr;
    let listener = tokio::net::TcpListener::bind(&args.addr).await?;
    let running = spawn(settings, listener).await?;
    eprintln!("listening on http://{}", running.local_addr());
    Ok(running.wait().await?)
}
