//! The configuration file (TOML): clients, users, lifetimes and the session key.
//!
//! Secrets and passwords may be written in plain text; they are hashed with PBKDF2 as the
//! file is loaded and the plain text is dropped. `secret_hash` / `password_hash` take an
//! already-hashed value instead. See `demo.toml` for a complete file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::Path;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis::core::{
    Client, ClientError, ClientKind, ClientSecretHash, GrantType, Lifetimes, PkcePolicy,
    RedirectUri, ScopeSet,
};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer};

use crate::demo::DEMO_TOML;
use crate::users::User;

/// PBKDF2 iterations used when `pbkdf2_iterations` is not set. Low enough to keep the token
/// endpoint fast in a demo; raise it for real deployments (OWASP suggests 600 000).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 10_000;

/// Default session lifetime: 8 hours.
const DEFAULT_SESSION_SECS: u64 = 8 * 3600;

/// A loaded configuration, with every secret already hashed.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) clients: Vec<Client>,
    pub(crate) users: Vec<User>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) session_lifetime: Duration,
    pub(crate) session_key: Option<SessionKey>,
    pub(crate) pbkdf2_iterations: NonZeroU32,
}

impl Config {
    /// The demo configuration (`demo.toml`): the clients and user of [`crate::demo_banner`].
    pub fn demo() -> Self {
        // The demo file is fixed and covered by a unit test.
        Self::parse_named(DEMO_TOML, "demo.toml").expect("the demo configuration is valid")
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse_named(&text, &origin)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_named(text, "config")
    }

    /// The registered clients.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// The usernames of the configured users.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|u| u.username.as_str())
    }

    fn parse_named(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let toml_error = |field: String, e: toml::de::Error| ConfigError {
            origin: origin.to_owned(),
            position: e.span().map(|s| line_column(text, s.start)),
            field,
            message: e.message().trim_end().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(String::new(), e))?;
        let file: FileConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            toml_error(field, e.into_inner())
        })?;
        file.resolve().map_err(|(field, message)| ConfigError {
            origin: origin.to_owned(),
            position: None,
            field,
            message,
        })
    }
}

/// Why a configuration was refused. Its message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<(usize, usize)>,
    field: String,
    message: String,
}

impl ConfigError {
    /// The offending field as a path (`clients[0].redirect_uris[1]`), empty for a syntax
    /// error or an unreadable file.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, without the file's content.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((line, column)) = self.position {
            write!(f, ", line {line}, column {column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column of byte `offset`. The file's text itself is never echoed, so a
/// malformed secret does not end up in a log.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key signing session cookies and CSRF tokens.
#[derive(Clone)]
pub(crate) struct SessionKey(pub(crate) [u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for SessionKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .map(SessionKey)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "expected 32 bytes encoded as base64url without padding (43 characters)",
                )
            })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default = "default_iterations")]
    pbkdf2_iterations: NonZeroU32,
    #[serde(default)]
    lifetimes: FileLifetimes,
    #[serde(default)]
    session: FileSession,
    #[serde(default)]
    clients: Vec<FileClient>,
    #[serde(default)]
    users: Vec<FileUser>,
}

fn default_iterations() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

fn secs(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
}

/// Lifetimes in seconds; every one is optional.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileLifetimes {
    authorization_code: NonZeroU64,
    access_token: NonZeroU64,
    refresh_token: NonZeroU64,
    interaction: NonZeroU64,
}

impl Default for FileLifetimes {
    fn default() -> Self {
        let d = Lifetimes::default();
        Self {
            authorization_code: secs(d.authorization_code.as_secs()),
            access_token: secs(d.access_token.as_secs()),
            refresh_token: secs(d.refresh_token.as_secs()),
            interaction: secs(d.interaction.as_secs()),
        }
    }
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FileSession {
    /// Seconds a sign-in lasts.
    lifetime: NonZeroU64,
    /// Fixed key (base64url, 32 bytes); random at each start when absent.
    key: Option<SessionKey>,
}

impl Default for FileSession {
    fn default() -> Self {
        Self {
            lifetime: secs(DEFAULT_SESSION_SECS),
            key: None,
        }
    }
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum FileClientType {
    Confidential,
    Public,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileClient {
    id: String,
    #[serde(rename = "type")]
    kind: FileClientType,
    secret: Option<String>,
    secret_hash: Option<ClientSecretHash>,
    #[serde(default)]
    redirect_uris: Vec<RedirectUri>,
    allowed_scopes: ScopeSet,
    #[serde(default)]
    default_scopes: ScopeSet,
    grant_types: BTreeSet<GrantType>,
    #[serde(default)]
    pkce: PkcePolicy,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    username: String,
    password: Option<String>,
    password_hash: Option<ClientSecretHash>,
    #[serde(default)]
    claims: BTreeMap<String, String>,
}

/// A field path (relative to the item) and what is wrong with it.
type Invalid = (String, String);

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    (field.to_owned(), message.into())
}

/// Hashes `plain` or takes `hashed`; exactly one must be given.
fn hash_one(
    plain: Option<String>,
    hashed: Option<ClientSecretHash>,
    names: [&str; 2],
    iterations: NonZeroU32,
    rng: &dyn SecureRandom,
) -> Result<ClientSecretHash, Invalid> {
    match (plain, hashed) {
        (Some(p), None) => ClientSecretHash::pbkdf2(&p, iterations, rng)
            .map_err(|e| invalid(names[0], e.to_string())),
        (None, Some(h)) => Ok(h),
        (Some(_), Some(_)) => Err(invalid(
            names[1],
            format!("give either `{}` or `{}`, not both", names[0], names[1]),
        )),
        (None, None) => Err(invalid(
            names[0],
            format!("missing: give `{}` or `{}`", names[0], names[1]),
        )),
    }
}

impl FileConfig {
    fn resolve(self) -> Result<Config, Invalid> {
        let rng = SystemRandom::new();
        let iterations = self.pbkdf2_iterations;
        let within =
            |prefix: String| move |(field, msg): Invalid| (format!("{prefix}.{field}"), msg);

        let mut clients = Vec::with_capacity(self.clients.len());
        let mut ids = BTreeSet::new();
        for (i, c) in self.clients.into_iter().enumerate() {
            let client = c
                .resolve(iterations, &rng)
                .map_err(within(format!("clients[{i}]")))?;
            if !ids.insert(client.id.clone()) {
                return Err(invalid(&format!("clients[{i}].id"), "duplicate client id"));
            }
            clients.push(client);
        }

        let mut users = Vec::with_capacity(self.users.len());
        let mut names = BTreeSet::new();
        for (i, u) in self.users.into_iter().enumerate() {
            let user = u
                .resolve(iterations, &rng)
                .map_err(within(format!("users[{i}]")))?;
            if !names.insert(user.username.clone()) {
                return Err(invalid(
                    &format!("users[{i}].username"),
                    "duplicate username",
                ));
            }
            users.push(user);
        }

        let l = self.lifetimes;
        let d = |n: NonZeroU64| Duration::from_secs(n.get());
        Ok(Config {
            clients,
            users,
            lifetimes: Lifetimes {
                authorization_code: d(l.authorization_code),
                access_token: d(l.access_token),
                refresh_token: d(l.refresh_token),
                interaction: d(l.interaction),
                ..Lifetimes::default()
            },
            session_lifetime: d(self.session.lifetime),
            session_key: self.session.key,
            pbkdf2_iterations: iterations,
        })
    }
}

impl FileClient {
    fn resolve(self, iterations: NonZeroU32, rng: &dyn SecureRandom) -> Result<Client, Invalid> {
        if self.id.is_empty() {
            return Err(invalid("id", "must not be empty"));
        }
        let kind = match self.kind {
            FileClientType::Confidential => ClientKind::Confidential {
                secret: hash_one(
                    self.secret,
                    self.secret_hash,
                    ["secret", "secret_hash"],
                    iterations,
                    rng,
                )?,
            },
            FileClientType::Public if self.secret.is_some() => {
                return Err(invalid("secret", "a public client has no secret"))
            }
            FileClientType::Public if self.secret_hash.is_some() => {
                return Err(invalid("secret_hash", "a public client has no secret"))
            }
            FileClientType::Public => ClientKind::Public,
        };
        let client = Client {
            id: self.id,
            kind,
            redirect_uris: self.redirect_uris,
            allowed_scopes: self.allowed_scopes,
            default_scopes: self.default_scopes,
            grant_types: self.grant_types,
            pkce: self.pkce,
            expires_at: None,
            oidc: Default::default(),
        };
        client.validate().map_err(|e| {
            let field = match e {
                ClientError::PublicClientCredentials(_) => "grant_types",
                ClientError::PublicWithoutPkce(_) => "pkce",
                ClientError::DefaultScopesNotAllowed(_) => "default_scopes",
                ClientError::NoRedirectUri(_) => "redirect_uris",
            };
            invalid(field, e.to_string())
        })?;
        Ok(client)
    }
}

impl FileUser {
    fn resolve(self, iterations: NonZeroU32, rng: &dyn SecureRandom) -> Result<User, Invalid> {
        if self.username.is_empty() {
            return Err(invalid("username", "must not be empty"));
        }
        let password = hash_one(
            self.password,
            self.password_hash,
            ["password", "password_hash"],
            iterations,
            rng,
        )?;
        Ok(User {
            username: self.username,
            password,
            claims: self.claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
pbkdf2_iterations = 1000

[lifetimes]
authorization_code = 30
access_token = 600

[session]
lifetime = 120
key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

[[clients]]
id = "web"
type = "confidential"
secret = "s3cret"
redirect_uris = ["https://app.example/cb"]
allowed_scopes = "read write"
default_scopes = "read"
grant_types = ["authorization_code", "refresh_token"]

[[clients]]
id = "cli"
type = "public"
redirect_uris = ["http://127.0.0.1/cb"]
allowed_scopes = "read"
grant_types = ["authorization_code"]

[[users]]
username = "bob"
password = "builder"
claims = { name = "Bob", email = "bob@example.com" }
"#;

    fn err(text: &str) -> ConfigError {
        Config::parse(text).expect_err("config should be refused")
    }

    #[test]
    fn good_file_is_loaded_and_secrets_hashed() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.clients.len(), 2);
        let ClientKind::Confidential { secret } = &c.clients[0].kind else {
            panic!("web is confidential")
        };
        assert!(secret.verify("s3cret"));
        assert!(!secret.to_string().contains("s3cret"));
        assert!(c.clients[1].is_public());
        assert_eq!(c.clients[0].default_scopes.to_string(), "read");
        assert_eq!(c.lifetimes.authorization_code, Duration::from_secs(30));
        assert_eq!(c.lifetimes.access_token, Duration::from_secs(600));
        assert_eq!(
            c.lifetimes.refresh_token,
            Lifetimes::default().refresh_token
        );
        assert_eq!(c.session_lifetime, Duration::from_secs(120));
        assert_eq!(c.session_key.as_ref().map(|k| k.0), Some([0; 32]));
        assert_eq!(c.users[0].claims["email"], "bob@example.com");
        assert!(c.users[0].password.verify("builder"));
        assert!(!format!("{c:?}").contains("builder"));
    }

    #[test]
    fn empty_file_is_valid() {
        let c = Config::parse("").unwrap();
        assert!(c.clients.is_empty());
        assert_eq!(c.pbkdf2_iterations.get(), DEFAULT_PBKDF2_ITERATIONS);
        assert_eq!(c.lifetimes, Lifetimes::default());
    }

    #[test]
    fn demo_file_is_valid() {
        let c = Config::demo();
        assert_eq!(c.clients.len(), 3);
        assert_eq!(c.usernames().collect::<Vec<_>>(), ["alice"]);
    }

    #[test]
    fn malformed_values_name_the_field() {
        let e = err(&GOOD.replace("access_token = 600", "access_token = \"soon\""));
        assert_eq!(e.field(), "lifetimes.access_token");
        assert!(e.to_string().contains("lifetimes.access_token"), "{e}");
        assert!(e.to_string().contains("line 6, column 16"), "{e}");

        let e = err(&GOOD.replace("https://app.example/cb", "http://app.example/cb"));
        assert_eq!(e.field(), "clients[0].redirect_uris[0]");

        let e = err(&GOOD.replace("\"refresh_token\"]", "\"implicit\"]"));
        assert_eq!(e.field(), "clients[0].grant_types[1]");

        let e = err(&GOOD.replace("authorization_code = 30", "authorization_code = 0"));
        assert_eq!(e.field(), "lifetimes.authorization_code");

        let e = err(&GOOD.replace("key = \"AAAA", "key = \"AA"));
        assert_eq!(e.field(), "session.key");
        assert!(
            !e.to_string().contains("AAAA"),
            "the value is not echoed: {e}"
        );
    }

    #[test]
    fn missing_and_inconsistent_fields_are_named() {
        let e = err(&GOOD.replace("allowed_scopes = \"read\"\n", ""));
        assert_eq!(e.field(), "clients[1]");
        assert!(e.message().contains("allowed_scopes"), "{e}");

        let e = err(&GOOD.replace("secret = \"s3cret\"", ""));
        assert_eq!(e.field(), "clients[0].secret");

        let e = err(&GOOD.replace("default_scopes = \"read\"", "default_scopes = \"admin\""));
        assert_eq!(e.field(), "clients[0].default_scopes");

        let e = err(&GOOD.replace("id = \"cli\"", "id = \"web\""));
        assert_eq!(e.field(), "clients[1].id");

        let e = err(&GOOD.replace(
            "grant_types = [\"authorization_code\"]",
            "grant_types = [\"client_credentials\"]",
        ));
        assert_eq!(e.field(), "clients[1].grant_types");

        let e = err(&GOOD.replace("password = \"builder\"", "password_hash = \"md5$x\""));
        assert_eq!(e.field(), "users[0].password_hash");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = err(&GOOD.replace("[session]", "[session]\ncolour = \"blue\""));
        assert!(e.to_string().contains("colour"), "{e}");
        let e = err(&format!("listn = 1\n{GOOD}"));
        assert!(e.to_string().contains("listn"), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = err("[lifetimes\n");
        assert!(e.to_string().starts_with("config, line 1"), "{e}");
    }
}
