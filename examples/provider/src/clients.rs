//! `clients add | list | rotate-secret | remove`: new secrets are printed once, stored hashed.

use std::{sync::Arc, time::Duration};

use portcullis::core::{Client, ClientKind, GrantType, Issuer, RedirectUri, ScopeSet, UnixTime};
use portcullis::SystemClock;

use crate::app::{build, StartError};
use crate::config::Config;

/// A `clients` subcommand, for `--issuer` (default `http://ADDR`), not on configured clients.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientsCommand {
    /// Adds a confidential client: code flow with `--redirect-uri`, else client credentials.
    Add {
        /// Its `client_id`.
        id: String,
        /// A redirect URI (repeatable).
        #[arg(long = "redirect-uri", value_parser = RedirectUri::parse)]
        uris: Vec<RedirectUri>,
        /// Its scopes, space-separated.
        #[arg(long, value_parser = ScopeSet::parse)]
        scope: Option<ScopeSet>,
    },
    /// Lists the clients: id, grant types, when the secret expires (Unix time; 0: never).
    List,
    /// Gives a client a new generated secret.
    RotateSecret {
        /// Its `client_id`.
        id: String,
        /// Seconds the current secret still works (at most 30 days).
        #[arg(long, default_value_t = 0)]
        rollover: u64,
        /// When the new secret expires, in Unix seconds [default: never].
        #[arg(long = "expires-at")]
        exp: Option<u64>,
    },
    /// Removes a client.
    Remove {
        /// Its `client_id`.
        id: String,
    },
}

/// Runs `command` for `issuer` on the store `config` names; returns what to print: after a
/// change, when running providers see it (their client cache keeps a client read from the
/// store for `client_cache_seconds`).
pub async fn run_clients(
    config: Config,
    issuer: Issuer,
    command: ClientsCommand,
) -> Result<String, StartError> {
    use ClientsCommand::{Add, List, Remove, RotateSecret};
    let refused = |e: &dyn std::fmt::Display| StartError::Clients(e.to_string());
    if let Add { id, .. } | RotateSecret { id, .. } | Remove { id } = &command {
        if config.clients.iter().any(|c| &c.id == id) {
            return Err(refused(&format!("{id} is defined in the configuration")));
        }
    }
    let seen = seen_by_providers(config.client_cache, &command);
    let built = build(config, issuer, Arc::new(SystemClock), None).await?;
    let provider = built.provider;
    let secret = |id: &str, secret: &str| format!("client_id: {id}\nclient_secret: {secret}\n");
    let out = match command {
        Add { id, uris, scope } => {
            let scope = scope.unwrap_or_default();
            let grants = match uris.is_empty() {
                true => vec![GrantType::ClientCredentials],
                false => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            };
            let mut client = Client::new(&id, ClientKind::Public).with_grant_types(grants);
            (client.redirect_uris, client.allowed_scopes) = (uris, scope.clone());
            let added = provider.add_client_with_secret(client.with_default_scopes(scope));
            secret(&id, added.await.map_err(|e| refused(&e))?.expose())
        }
        List => {
            let mut out = String::new();
            for c in provider.list_clients().await.map_err(|e| refused(&e))? {
                let expiry = c.kind.secret_expires_at().map_or(0, |t| t.secs());
                out += &format!("{}\t{:?}\texpires_at={expiry}\n", c.id, c.grant_types);
            }
            out
        }
        RotateSecret { id, rollover, exp } => {
            let (rollover, exp) = (Duration::from_secs(rollover), exp.map(UnixTime::from_secs));
            let rotated = provider.rotate_client_secret(&id, rollover, exp).await;
            secret(&id, rotated.map_err(|e| refused(&e))?.secret.expose())
        }
        Remove { id } => match provider.remove_client(&id).await.map_err(|e| refused(&e))? {
            true => format!("removed {id}\n"),
            false => return Err(refused(&format!("no client {id}"))),
        },
    };
    Ok(out + &seen)
}

/// The note printed after a change: running providers (other processes, each with its own
/// client cache) see it once their cached copy is `client_cache` old; none for `list`.
fn seen_by_providers(client_cache: Duration, command: &ClientsCommand) -> String {
    match (command, client_cache.as_secs()) {
        (ClientsCommand::List, _) => String::new(),
        (_, 0) => "running providers see this at once (client_cache_seconds = 0)\n".into(),
        (_, secs) => {
            format!("running providers see this within {secs} s (client_cache_seconds)\n")
        }
    }
}
