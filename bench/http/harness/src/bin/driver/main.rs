//! The benchmark's driver for what wrk cannot do alone (`bench/http/run`). It speaks to any
//! OpenID Connect provider through its discovery document, the same way to each, so one
//! binary drives the example provider and the peer alike.
//!
//! * `prime` signs the user in once through the server's own pages (a login form and a
//!   consent form with their hidden fields and cookies, or redirects only), then runs the
//!   authorization-code flow (PKCE S256) again on that session to mint what the wrk cases
//!   use: a user access token (UserInfo), a client-credentials token (introspection), pools
//!   of refresh tokens (each used once: both servers rotate) and the session's `Cookie`
//!   header. It checks each one once (UserInfo answers, introspection says `active`, a
//!   refresh works) and prints what the responses hold.
//! * `login` measures completed logins: `GET /authorize` with the session cookie and a
//!   remembered consent → a redirect carrying a code → `POST /token` → tokens with an ID
//!   token. A fixed number of tasks loop for a fixed time (and at most a fixed count), and
//!   it prints one `RESULT` line in the format of the wrk scripts' `done()`.
//! * `keygen` and `assertions` make the `private_key_jwt` case's client key and its pools of
//!   single-use client assertions (see `assertions.rs`).
//! * `proofs` signs the `dpop` case's pools of single-use DPoP proofs with a key `keygen`
//!   made (see `proofs.rs`).
//! * `soak` holds a mix of these flows for minutes, optionally with a fault in the middle
//!   (`bench/soak/run`; see `soak.rs`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD, Engine};
use clap::{Parser, Subcommand};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION};
use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use url::Url;

mod assertions;
mod proofs;
mod soak;

/// The PKCE pair of RFC 7636 Appendix B: the server hashes the verifier on every exchange
/// whatever its value, so one fixed pair costs it as much as fresh ones.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Parser)]
#[command(name = "bench-driver")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// The server and the client registered on it.
#[derive(Debug, Clone, clap::Args)]
struct Target {
    /// The issuer; its endpoints come from `/.well-known/openid-configuration`.
    #[arg(long)]
    issuer: Url,
    /// The confidential client's id (it authenticates with `client_secret_basic`).
    #[arg(long)]
    client_id: String,
    /// The client's secret.
    #[arg(long)]
    client_secret: String,
    /// The client's registered redirect URI (never contacted: the code is read from the
    /// `Location` header).
    #[arg(long)]
    redirect_uri: Url,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Signs in once and mints the tokens the wrk cases use, into `--out`.
    Prime(PrimeArgs),
    /// Completed logins per second, with the session cookie `prime` wrote.
    Login(LoginArgs),
    /// Makes a P-256 key pair: the `private_key_jwt` client's, or the `dpop` case's.
    Keygen(assertions::KeygenArgs),
    /// Signs a pool of single-use client assertions, one a line.
    Assertions(assertions::AssertionArgs),
    /// Signs a pool of single-use DPoP proofs, one a line.
    Proofs(proofs::ProofArgs),
    /// A mixed load held at a share of its measured maximum, optionally with a fault.
    Soak(Box<soak::SoakArgs>),
}

#[derive(Debug, clap::Args)]
struct PrimeArgs {
    #[command(flatten)]
    target: Target,
    /// The user's name.
    #[arg(long)]
    username: String,
    /// The user's password.
    #[arg(long)]
    password: String,
    /// Scopes of the sign-in and of the minted user tokens.
    #[arg(long, default_value = "openid profile offline_access")]
    scope: String,
    /// The API scope of the client-credentials token.
    #[arg(long, default_value = "api")]
    api_scope: String,
    /// Refresh tokens in each pool.
    #[arg(long, default_value_t = 32)]
    pool_size: usize,
    /// Pools to mint (`refresh_pool_0` …): one per wrk run, a used token being spent.
    #[arg(long, default_value_t = 2)]
    pools: usize,
    /// The directory to write into.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct LoginArgs {
    #[command(flatten)]
    target: Target,
    /// The file holding the session's `Cookie` header value.
    #[arg(long)]
    cookie_file: PathBuf,
    /// Scopes of each login (a subset of what the user consented to in `prime`).
    #[arg(long, default_value = "openid profile")]
    scope: String,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds run first, unmeasured.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// At most this many logins, whatever the duration.
    #[arg(long, default_value_t = 5_000_000)]
    max_logins: u64,
}

/// The endpoints the driver uses, from the discovery document.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: Url,
    token: Url,
    userinfo: Url,
    introspection: Url,
}

/// One server, one client: builds the requests of the code flow.
#[derive(Debug, Clone)]
struct Flow {
    http: Client,
    endpoints: Endpoints,
    target: Target,
    basic: String,
}

fn client(jar: Option<Arc<Jar>>, pool: usize) -> Result<Client> {
    let mut builder = Client::builder()
        .redirect(Policy::none())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30));
    if let Some(jar) = jar {
        builder = builder.cookie_provider(jar);
    }
    Ok(builder.build()?)
}

fn text_of(v: &Value, field: &str) -> Result<String> {
    v.get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("no `{field}` in {v}").into())
}

fn url_of(v: &Value, field: &str) -> Result<Url> {
    Ok(Url::parse(&text_of(v, field)?)?)
}

/// The first 300 characters of a body, for error messages.
fn snippet(body: &str) -> String {
    body.chars().take(300).collect()
}

/// The names of a JSON object's members, sorted.
fn keys(v: &Value) -> String {
    let mut names: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    names.join(" ")
}

impl Flow {
    async fn discover(http: Client, target: Target) -> Result<Self> {
        let base = target.issuer.as_str().trim_end_matches('/');
        let url = format!("{base}/.well-known/openid-configuration");
        let response = http.get(&url).send().await?;
        let status = response.status();
        let body = response.text().await?;
        if status != StatusCode::OK {
            return Err(format!("{url}: {status}: {}", snippet(&body)).into());
        }
        let doc: Value = serde_json::from_str(&body)?;
        let endpoints = Endpoints {
            authorization: url_of(&doc, "authorization_endpoint")?,
            token: url_of(&doc, "token_endpoint")?,
            userinfo: url_of(&doc, "userinfo_endpoint")?,
            introspection: url_of(&doc, "introspection_endpoint")?,
        };
        let credentials = format!("{}:{}", target.client_id, target.client_secret);
        let basic = format!("Basic {}", STANDARD.encode(credentials));
        Ok(Self {
            http,
            endpoints,
            target,
            basic,
        })
    }

    /// An authorization request (OpenID Connect Core §3.1.2.1) with PKCE, state and nonce.
    fn authorize_url(&self, scope: &str, n: u64) -> Url {
        self.authorize_url_prompting(scope, n, None)
    }

    /// [`Flow::authorize_url`] with a `prompt`.
    fn authorize_url_prompting(&self, scope: &str, n: u64, prompt: Option<&str>) -> Url {
        let mut url = self.endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.target.client_id)
            .append_pair("redirect_uri", self.target.redirect_uri.as_str())
            .append_pair("scope", scope)
            .append_pair("state", &format!("s{n}"))
            .append_pair("nonce", &format!("n{n}"))
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        if let Some(prompt) = prompt {
            url.query_pairs_mut().append_pair("prompt", prompt);
        }
        url
    }

    /// The code in `location` when it leads to the client's redirect URI; an error when it
    /// carries one instead; `None` when it leads elsewhere.
    fn code_in(&self, location: &Url) -> Result<Option<String>> {
        let redirect = &self.target.redirect_uri;
        if location.origin() != redirect.origin() || location.path() != redirect.path() {
            return Ok(None);
        }
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        match (param("code"), param("error")) {
            (Some(code), None) => Ok(Some(code)),
            (_, Some(error)) => Err(format!(
                "{REDIRECTED_ERROR}{error}: {}",
                param("error_description").unwrap_or_default()
            )
            .into()),
            (None, None) => Err(format!("redirect without a code: {location}").into()),
        }
    }

    /// `POST /token` with the client's credentials; the status and the body.
    async fn token(&self, form: &[(&str, &str)]) -> Result<(StatusCode, bytes::Bytes)> {
        let response = self
            .http
            .post(self.endpoints.token.clone())
            .header(AUTHORIZATION, &self.basic)
            .form(form)
            .send()
            .await?;
        Ok((response.status(), response.bytes().await?))
    }

    /// A token request that must succeed, as JSON.
    async fn token_json(&self, form: &[(&str, &str)]) -> Result<Value> {
        let (status, body) = self.token(form).await?;
        let text = String::from_utf8_lossy(&body);
        if status != StatusCode::OK {
            return Err(format!("token endpoint: {status}: {}", snippet(&text)).into());
        }
        Ok(serde_json::from_str(&text)?)
    }

    async fn exchange(&self, code: &str) -> Result<Value> {
        self.token_json(&self.redeem_form(code)).await
    }

    /// The form redeeming `code` (with the fixed PKCE verifier).
    fn redeem_form<'a>(&'a self, code: &'a str) -> [(&'a str, &'a str); 4] {
        [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.target.redirect_uri.as_str()),
            ("code_verifier", VERIFIER),
        ]
    }

    /// Follows the authorization request through redirects and the server's pages (a login
    /// form, a consent form) to the code.
    async fn browse(&self, start: Url, username: &str, password: &str) -> Result<String> {
        let mut url = start;
        let mut request = self.http.get(url.clone());
        for _ in 0..12 {
            let response = request.send().await?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .ok_or("a redirect without Location")?
                    .to_str()?;
                let next = url.join(location)?;
                if let Some(code) = self.code_in(&next)? {
                    return Ok(code);
                }
                request = self.http.get(next.clone());
                url = next;
                continue;
            }
            let body = response.text().await?;
            if status != StatusCode::OK {
                return Err(format!("{url}: {status}: {}", snippet(&body)).into());
            }
            let form = Form::parse(&body).ok_or_else(|| format!("{url}: no form in the page"))?;
            let mut fields = form.hidden.clone();
            if form.has("password") {
                fields.push(("username".into(), username.into()));
                fields.push(("password".into(), password.into()));
            } else if form.has("decision") {
                fields.push(("decision".into(), "approve".into()));
                fields.extend(form.checked.iter().cloned());
            } else {
                return Err(format!("{url}: neither a login nor a consent form").into());
            }
            let action = url.join(&form.action)?;
            request = self.http.post(action.clone()).form(&fields);
            url = action;
        }
        Err("too many steps before the code".into())
    }

    /// `GET /authorize` on a session with remembered consent: the code, or the answer when
    /// it is not a redirect.
    async fn session_code(&self, cookie: &str, scope: &str, n: u64) -> Result<SessionCode> {
        let response = self
            .http
            .get(self.authorize_url(scope, n))
            .header(COOKIE, cookie)
            .send()
            .await?;
        let status = response.status();
        let location = response.headers().get(LOCATION).cloned();
        let body = response.bytes().await?;
        let location = match location {
            Some(l) if status.is_redirection() => l,
            _ => return Ok(SessionCode::Refused(status, body)),
        };
        let location = self.endpoints.authorization.join(location.to_str()?)?;
        let code = self
            .code_in(&location)?
            .ok_or_else(|| format!("authorize led to {location}, not the client"))?;
        Ok(SessionCode::Issued(code))
    }

    /// `POST /token` redeeming `code`.
    async fn redeem(&self, code: &str) -> Result<(StatusCode, bytes::Bytes)> {
        self.token(&self.redeem_form(code)).await
    }

    /// One completed login on an existing session: authorize → code → tokens.
    async fn login(&self, cookie: &str, scope: &str, n: u64) -> Result<()> {
        let code = match self.session_code(cookie, scope, n).await? {
            SessionCode::Issued(code) => code,
            SessionCode::Refused(status, body) => {
                let text = String::from_utf8_lossy(&body);
                return Err(format!("authorize: {status}: {}", snippet(&text)).into());
            }
        };
        let (status, body) = self.redeem(&code).await?;
        if status != StatusCode::OK || !contains(&body, b"\"id_token\"") {
            let text = String::from_utf8_lossy(&body);
            return Err(format!("token: {status}: {}", snippet(&text)).into());
        }
        Ok(())
    }
}

/// How [`Flow::code_in`]'s error for an error redirected to the client begins.
const REDIRECTED_ERROR: &str = "authorization error ";

/// What `GET /authorize` on a session gave.
enum SessionCode {
    /// A redirect to the client with this code.
    Issued(String),
    /// Another answer (an error page or JSON, or a redirect without a code).
    Refused(StatusCode, bytes::Bytes),
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first form of an HTML page: its action, hidden fields and checked boxes.
#[derive(Debug)]
struct Form {
    action: String,
    hidden: Vec<(String, String)>,
    checked: Vec<(String, String)>,
    names: Vec<String>,
}

/// The value of the double-quoted attribute `name` in `tag`.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(html_escape::decode_html_entities(&tag[start..start + len]).into_owned())
}

impl Form {
    fn parse(html: &str) -> Option<Self> {
        let start = html.find("<form")?;
        let end = start + html[start..].find("</form>").unwrap_or(html.len() - start);
        let form = &html[start..end];
        let action = attribute(&form[..form.find('>')?], "action")?;
        let mut parsed = Self {
            action,
            hidden: Vec::new(),
            checked: Vec::new(),
            names: Vec::new(),
        };
        let tags = form
            .split('<')
            .filter(|t| t.starts_with("input") || t.starts_with("button"))
            .map(|t| t.split('>').next().unwrap_or_default());
        for tag in tags {
            let Some(name) = attribute(tag, "name") else {
                continue;
            };
            let value = attribute(tag, "value").unwrap_or_default();
            match attribute(tag, "type").as_deref() {
                Some("hidden") => parsed.hidden.push((name.clone(), value)),
                Some("checkbox") if tag.contains(" checked") => {
                    parsed.checked.push((name.clone(), value));
                }
                _ => {}
            }
            parsed.names.push(name);
        }
        Some(parsed)
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

async fn prime(args: PrimeArgs) -> Result<()> {
    let PrimeArgs {
        target,
        username,
        password,
        scope,
        api_scope,
        pool_size,
        pools,
        out,
    } = args;
    let (username, password, scope, out) = (&username, &password, &scope, &out);
    let jar = Arc::new(Jar::default());
    let flow = Flow::discover(client(Some(jar.clone()), 4)?, target).await?;
    std::fs::create_dir_all(out)?;
    let write = |name: &str, text: &str| std::fs::write(out.join(name), text);

    // Sign in (and consent) once; the session and the consent are kept. `offline_access`
    // needs `prompt=consent` (OpenID Connect Core §11), so every refresh token is minted
    // through the consent step; the login loop's requests omit it and show no page.
    let offline = scope.split(' ').any(|s| s == "offline_access");
    let prompt = offline.then_some("consent");
    let first = flow.authorize_url_prompting(scope, 0, prompt);
    let code = flow.browse(first.clone(), username, password).await?;
    let tokens = flow.exchange(&code).await?;
    println!("code exchange returns: {}", keys(&tokens));
    let user_token = text_of(&tokens, "access_token")?;
    let spare_refresh = text_of(&tokens, "refresh_token")?;
    write("user_access_token", &user_token)?;

    // The same session again, for the refresh tokens.
    let mut n = 1;
    for pool in 0..pools {
        let mut lines = String::new();
        for _ in 0..pool_size {
            let code = flow
                .browse(
                    flow.authorize_url_prompting(scope, n, prompt),
                    username,
                    password,
                )
                .await?;
            n += 1;
            let tokens = flow.exchange(&code).await?;
            lines.push_str(&text_of(&tokens, "refresh_token")?);
            lines.push('\n');
        }
        write(&format!("refresh_pool_{pool}"), &lines)?;
    }
    // The session's cookies as they are now, for the login loop.
    let cookie = jar
        .cookies(&first)
        .ok_or("the sign-in set no cookie")?
        .to_str()?
        .to_owned();
    write("cookie", &cookie)?;
    let session_only = client(None, 1)?;
    let Flow {
        endpoints, basic, ..
    } = &flow;

    // The wrk cases' tokens, each checked once.
    let cc = flow
        .token_json(&[("grant_type", "client_credentials"), ("scope", &api_scope)])
        .await?;
    println!("client_credentials returns: {}", keys(&cc));
    let cc_token = text_of(&cc, "access_token")?;
    write("cc_access_token", &cc_token)?;

    let response = session_only
        .get(endpoints.userinfo.clone())
        .header(AUTHORIZATION, format!("Bearer {user_token}"))
        .send()
        .await?;
    let status = response.status();
    let body = response.text().await?;
    if status != StatusCode::OK {
        return Err(format!("userinfo: {status}: {}", snippet(&body)).into());
    }
    println!("userinfo returns: {}", keys(&serde_json::from_str(&body)?));

    for (what, token) in [("client_credentials", &cc_token), ("user", &user_token)] {
        let response = session_only
            .post(endpoints.introspection.clone())
            .header(AUTHORIZATION, basic)
            .form(&[
                ("token", token.as_str()),
                ("token_type_hint", "access_token"),
            ])
            .send()
            .await?;
        let status = response.status();
        let body: Value = serde_json::from_str(&response.text().await?)?;
        if status != StatusCode::OK || body.get("active") != Some(&Value::Bool(true)) {
            return Err(format!("introspection of the {what} token: {status}: {body}").into());
        }
        println!("introspection ({what} token) returns: {}", keys(&body));
    }

    let refreshed = flow
        .token_json(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &spare_refresh),
        ])
        .await?;
    let rotated = text_of(&refreshed, "refresh_token")? != spare_refresh;
    println!(
        "refresh returns: {} (refresh token rotated: {rotated})",
        keys(&refreshed)
    );
    Ok(())
}

/// What one task of the login loop saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs the login loop with `concurrency` tasks until `deadline` or `limit` logins.
async fn login_loop(
    flow: &Arc<Flow>,
    cookie: &Arc<str>,
    scope: &Arc<str>,
    concurrency: usize,
    deadline: Instant,
    limit: u64,
) -> Result<Tally> {
    let started = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (flow, cookie, scope, started) =
            (flow.clone(), cookie.clone(), scope.clone(), started.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let n = started.fetch_add(1, Ordering::Relaxed);
                if n >= limit || Instant::now() >= deadline {
                    return tally;
                }
                let begun = Instant::now();
                match flow.login(&cookie, &scope, n).await {
                    Ok(()) => tally.latencies.push(begun.elapsed()),
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert_with(|| e.to_string());
                        if tally.errors >= 1000 {
                            return tally;
                        }
                    }
                }
            }
        }));
    }
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await?;
        all.latencies.extend(t.latencies);
        all.errors += t.errors;
        if all.first_error.is_none() {
            all.first_error = t.first_error;
        }
    }
    Ok(all)
}

fn percentile(sorted: &[Duration], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64) * p / 100.0).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_micros()
}

async fn login(args: LoginArgs) -> Result<()> {
    let LoginArgs {
        target,
        cookie_file,
        scope,
        duration,
        warmup,
        concurrency,
        max_logins,
    } = args;
    let cookie: Arc<str> = std::fs::read_to_string(&cookie_file)?.trim().into();
    let flow = Arc::new(Flow::discover(client(None, concurrency)?, target).await?);
    let scope: Arc<str> = scope.as_str().into();
    let concurrency = concurrency.max(1);
    if warmup > 0.0 {
        let deadline = Instant::now() + Duration::from_secs_f64(warmup);
        login_loop(&flow, &cookie, &scope, concurrency, deadline, max_logins).await?;
    }
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs_f64(duration);
    let mut tally = login_loop(&flow, &cookie, &scope, concurrency, deadline, max_logins).await?;
    let elapsed = begun.elapsed();
    tally.latencies.sort_unstable();
    if let Some(e) = &tally.first_error {
        eprintln!("login: {} failed; the first: {e}", tally.errors);
    }
    println!(
        "RESULT requests={} duration_us={} p50_us={} p99_us={} status_errors={} socket_errors=0",
        tally.latencies.len(),
        elapsed.as_micros(),
        percentile(&tally.latencies, 50.0),
        percentile(&tally.latencies, 99.0),
        tally.errors,
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = match Args::parse().command {
        Command::Prime(args) => prime(args).await,
        Command::Login(args) => login(args).await,
        Command::Keygen(args) => assertions::keygen(args),
        Command::Assertions(args) => assertions::assertions(args),
        Command::Proofs(args) => proofs::proofs(args),
        Command::Soak(args) => soak::soak(*args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-driver: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
