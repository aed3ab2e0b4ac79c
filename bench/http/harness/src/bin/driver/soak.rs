//! `soak` (bench/soak/run): a mixed load held for minutes, optionally with a fault in the
//! middle of it.
//!
//! 1. The maximum: `--max-concurrency` tasks run the mix closed-loop for `--max-duration`.
//! 2. The run: the same mix open-loop at `--load-percent` of that maximum (or `--rate`) for
//!    `--duration`; each request's latency counts from its intended send time. The servers'
//!    resident memory is read every second from /proc.
//! 3. A fault (`--fault-at`): `--fault-begin` runs then (a shell command: stop a database,
//!    kill a node), `--fault-end` `--fault-hold` seconds later; `--lost-node` names a node
//!    the fault takes away (requests go to the others from then on).
//! 4. The checks, on the nodes left: every access token the driver received introspects
//!    active; with `--replay`, every code redeemed and every refresh token rotated away is
//!    refused with `invalid_grant` when sent again.
//!
//! It prints the figures and `check met:` / `check NOT met:` lines (see `report.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;
use url::Url;

use crate::{client, contains, Flow, Result, SessionCode, Target, REDIRECTED_ERROR};

mod report;

use report::{
    first_ok_after, full_rate_after, intended_offset, ms, op_of, request_count, throughput, weight,
    Check, Op, Outcome, Record, RssGrowth, RssSample, Stats, Transport,
};

#[derive(Debug, clap::Args)]
pub(crate) struct SoakArgs {
    #[command(flatten)]
    target: Target,
    /// The nodes' addresses (`http://127.0.0.1:PORT`), all with the issuer's endpoints; the
    /// issuer alone when none is given. Requests alternate between them.
    #[arg(long = "node")]
    nodes: Vec<Url>,
    /// The file holding the session's `Cookie` header value (`prime` wrote it).
    #[arg(long)]
    cookie_file: PathBuf,
    /// Refresh tokens, one a line (`prime`'s pools): each starts one rotating chain.
    #[arg(long)]
    refresh_file: PathBuf,
    /// Scopes of each login (remembered consent: no page).
    #[arg(long, default_value = "openid profile")]
    scope: String,
    /// The client-credentials scope.
    #[arg(long, default_value = "api")]
    api_scope: String,
    /// Seconds of the closed-loop run measuring the maximum.
    #[arg(long, default_value_t = 10.0)]
    max_duration: f64,
    /// Tasks of the closed-loop run.
    #[arg(long, default_value_t = 32)]
    max_concurrency: usize,
    /// The open-loop rate as a share of the maximum, in percent.
    #[arg(long, default_value_t = 80.0)]
    load_percent: f64,
    /// A fixed rate (requests a second) instead of a share of a measured maximum.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds of the open-loop run.
    #[arg(long, default_value_t = 120.0)]
    duration: f64,
    /// Seconds at the run's start after which memory growth is measured.
    #[arg(long, default_value_t = 10.0)]
    warmup: f64,
    /// Processes whose resident memory is read every second (the servers).
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Requests in flight at most, each on a connection of its own (the schedule waits
    /// beyond; latency still counts from the intended time). Bounded like a proxy's pool: an
    /// unbounded open loop opens connections faster than a stalled server accepts them, and
    /// the dropped SYNs then wait out TCP's retransmission (1, 3, 7, 15, 31 s).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Requests in flight in the final checks.
    #[arg(long, default_value_t = 32)]
    check_concurrency: usize,
    /// p99 may be at most this many times p50, per flow.
    #[arg(long, default_value_t = 3.0)]
    tail_factor: f64,
    /// Memory growth allowed after the warm-up, MiB, …
    #[arg(long, default_value_t = 16.0)]
    rss_growth_mib: f64,
    /// … plus this many bytes per access token received after the warm-up.
    #[arg(long, default_value_t = 0.0)]
    rss_bytes_per_token: f64,
    /// Seconds into the open-loop run at which the fault begins.
    #[arg(long)]
    fault_at: Option<f64>,
    /// What the fault is: `postgres-outage`, `sigkill-node` or `sigterm-drain`.
    #[arg(long, requires = "fault_at")]
    fault: Option<Fault>,
    /// The shell command beginning the fault.
    #[arg(long, requires = "fault_at")]
    fault_begin: Option<String>,
    /// The shell command ending it.
    #[arg(long)]
    fault_end: Option<String>,
    /// Seconds between the two.
    #[arg(long, default_value_t = 10.0)]
    fault_hold: f64,
    /// The node (0-based, in `--node` order) the fault takes away.
    #[arg(long)]
    lost_node: Option<usize>,
    /// The slowest answer allowed while the database is down, seconds.
    #[arg(long, default_value_t = 10.0)]
    outage_bound: f64,
    /// Seconds after the database is back within which full rate must return.
    #[arg(long, default_value_t = 10.0)]
    recovery_bound: f64,
    /// Sends every redeemed code and every rotated-away refresh token again at the end.
    #[arg(long)]
    replay: bool,
    /// Writes every request of the open-loop run to this file (CSV: flow, node, intended,
    /// sent and done in µs from the run's start, outcome), to see when slow answers came.
    #[arg(long)]
    records_csv: Option<PathBuf>,
}

/// The fault scenarios whose checks the driver knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Fault {
    PostgresOutage,
    SigkillNode,
    SigtermDrain,
}

/// When the fault's commands ran, from the open-loop run's start.
#[derive(Debug, Default, Clone, Copy)]
struct FaultTimes {
    begin: Duration,
    begun: Duration,
    end: Option<(Duration, Duration)>,
}

/// The shared state of the load.
struct Load {
    nodes: Vec<Flow>,
    cookie: String,
    scope: String,
    api_scope: String,
    chains: mpsc::UnboundedSender<String>,
    free_chains: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    /// Every access token received with a 200, as (node, token).
    issued: Mutex<Vec<String>>,
    /// Every code redeemed with a 200.
    codes: Mutex<Vec<String>>,
    /// Every refresh token rotated away (answered 200 with a new one).
    rotated: Mutex<Vec<String>>,
    /// Refresh chains ended by an `invalid_grant`.
    dead_chains: AtomicU64,
    /// Refresh chains ended by a request without an answer.
    abandoned_chains: AtomicU64,
    /// The node the fault took away, once it has.
    lost: AtomicUsize,
    lost_set: AtomicBool,
    counter: AtomicU64,
}

/// What a reqwest error was, for the record.
fn transport_of(error: &(dyn std::error::Error + 'static)) -> Transport {
    if let Some(e) = error.downcast_ref::<reqwest::Error>() {
        if e.is_timeout() {
            return Transport::Timeout;
        }
        if e.is_connect() {
            return Transport::Refused;
        }
        if e.is_body() || e.is_decode() {
            return Transport::CutMidAnswer;
        }
    }
    Transport::Closed
}

/// The OAuth `error` of a JSON body, or a word for what else it was.
fn error_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => v
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error member")
            .to_owned(),
        Err(_) if body.is_empty() => "empty body".into(),
        // The 503 pages (the authorization endpoint's and the sign-in layer's, which a person
        // reads) name the code.
        Err(_) if contains(body, b"temporarily_unavailable") => UNAVAILABLE_PAGE.into(),
        Err(_) => format!("{NOT_JSON}: {}", page_title(body)),
    }
}

/// A page's `<title>`, or its first 40 characters: what a body that is not JSON was.
fn page_title(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let title = text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(title, _)| title);
    let words: Vec<&str> = title.unwrap_or(&text).split_whitespace().collect();
    words.join(" ").chars().take(40).collect()
}

/// What [`error_of`] says of a page naming `temporarily_unavailable`.
const UNAVAILABLE_PAGE: &str = "temporarily_unavailable (page)";

/// How [`error_of`] begins for a body that is not JSON.
const NOT_JSON: &str = "not JSON";

/// Whether `outcome` is how the server says it cannot answer for now: 503
/// `temporarily_unavailable` in JSON or on a page naming it (the authorization endpoint's
/// and the sign-in layer's, read by a person: the only pages the mix asks for), or a
/// redirect to the client carrying `temporarily_unavailable` (RFC 6749 §4.1.2.1).
fn is_unavailable(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Answer { status, error } => {
            (*status == 503 && (error == "temporarily_unavailable" || error == UNAVAILABLE_PAGE))
                || (*status == 302 && error == "temporarily_unavailable")
        }
        _ => false,
    }
}

/// A field of a 200's JSON body.
fn field(body: &[u8], name: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

impl Load {
    /// The node of the `n`th request: alternating, skipping a lost node.
    fn node_for(&self, n: u64) -> usize {
        let count = self.nodes.len();
        let mut node = (n % count as u64) as usize;
        if self.lost_set.load(Ordering::Relaxed)
            && node == self.lost.load(Ordering::Relaxed)
            && count > 1
        {
            node = (node + 1) % count;
        }
        node
    }

    /// The nodes left after the fault.
    fn survivors(&self) -> Vec<usize> {
        let lost = self
            .lost_set
            .load(Ordering::Relaxed)
            .then(|| self.lost.load(Ordering::Relaxed));
        (0..self.nodes.len()).filter(|n| Some(*n) != lost).collect()
    }

    async fn perform(&self, op: Op, node: usize, n: u64) -> Outcome {
        let flow = &self.nodes[node];
        let result = match op {
            Op::Login => self.login(flow, n).await,
            Op::Refresh => self.refresh(flow).await,
            Op::ClientCredentials => {
                let form = [
                    ("grant_type", "client_credentials"),
                    ("scope", self.api_scope.as_str()),
                ];
                match flow.token(&form).await {
                    Ok((status, body)) => Ok(self.tokens(status, &body)),
                    Err(e) => Err(e),
                }
            }
            Op::Introspection => {
                let token = {
                    let issued = self.issued.lock().unwrap();
                    let recent = issued.len().min(4096) as u64;
                    issued[issued.len() - 1 - (n % recent) as usize].clone()
                };
                introspect(flow, &token).await
            }
        };
        result.unwrap_or_else(|e| Outcome::Transport(transport_of(e.as_ref())))
    }

    /// A token response: `Ok`, its access token kept, when 200.
    fn tokens(&self, status: StatusCode, body: &[u8]) -> Outcome {
        if status != StatusCode::OK {
            return Outcome::answer(status.as_u16(), &error_of(body));
        }
        match field(body, "access_token") {
            Some(token) => {
                self.issued.lock().unwrap().push(token);
                Outcome::Ok
            }
            None => Outcome::answer(200, "no access_token"),
        }
    }

    async fn login(&self, flow: &Flow, n: u64) -> Result<Outcome> {
        let code = match flow.session_code(&self.cookie, &self.scope, n).await {
            // An error redirected to the client (`code_in`).
            Err(e) if e.to_string().starts_with(REDIRECTED_ERROR) => {
                let text = e.to_string();
                let code = text[REDIRECTED_ERROR.len()..].split(':').next();
                return Ok(Outcome::answer(302, code.unwrap_or_default()));
            }
            Err(e) => return Err(e),
            Ok(SessionCode::Issued(code)) => code,
            Ok(SessionCode::Refused(status, body)) => {
                return Ok(Outcome::answer(status.as_u16(), &error_of(&body)))
            }
        };
        let (status, body) = flow.redeem(&code).await?;
        let outcome = self.tokens(status, &body);
        if outcome.is_ok() {
            self.codes.lock().unwrap().push(code);
        }
        Ok(outcome)
    }

    /// One step of a chain: a free chain's token is sent, and the chain goes on with the
    /// new one (200) or with the same one (another answer), or ends (`invalid_grant`, or
    /// no answer).
    async fn refresh(&self, flow: &Flow) -> Result<Outcome> {
        let next = async { self.free_chains.lock().await.recv().await };
        let Ok(Some(token)) = tokio::time::timeout(Duration::from_secs(10), next).await else {
            return Ok(Outcome::Transport(Transport::NoChain));
        };
        let form = [("grant_type", "refresh_token"), ("refresh_token", &token)];
        let (status, body) = match flow.token(&form).await {
            Ok(answer) => answer,
            Err(e) => {
                // Not sent (no connection): the chain goes on. Sent without an answer: the
                // token may have been rotated all the same, and sending it again would then
                // be a replay revoking the chain's tokens (RFC 9700 §4.14.2) — what a
                // client should not do, so the chain ends here.
                if transport_of(e.as_ref()) == Transport::Refused {
                    let _ = self.chains.send(token);
                } else {
                    self.abandoned_chains.fetch_add(1, Ordering::Relaxed);
                }
                return Err(e);
            }
        };
        let outcome = self.tokens(status, &body);
        match (&outcome, field(&body, "refresh_token")) {
            (Outcome::Ok, Some(new)) => {
                let _ = self.chains.send(new);
                self.rotated.lock().unwrap().push(token);
            }
            (Outcome::Answer { error, .. }, _) if error == "invalid_grant" => {
                self.dead_chains.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                let _ = self.chains.send(token);
            }
        }
        Ok(outcome)
    }
}

/// `POST /introspect`: `Ok` when the answer says `active: true`.
async fn introspect(flow: &Flow, token: &str) -> Result<Outcome> {
    let response = flow
        .http
        .post(flow.endpoints.introspection.clone())
        .header(AUTHORIZATION, &flow.basic)
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status != StatusCode::OK {
        return Ok(Outcome::answer(status.as_u16(), &error_of(&body)));
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok(match v.get("active") {
        Some(Value::Bool(true)) => Outcome::Ok,
        _ => Outcome::answer(200, "inactive"),
    })
}

/// `flow` with its endpoints moved to `node`'s origin (nodes share the issuer).
fn on_node(flow: &Flow, node: &Url) -> Result<Flow> {
    let mut moved = flow.clone();
    for url in [
        &mut moved.endpoints.authorization,
        &mut moved.endpoints.token,
        &mut moved.endpoints.userinfo,
        &mut moved.endpoints.introspection,
    ] {
        url.set_host(node.host_str())?;
        url.set_port(node.port())
            .map_err(|()| format!("{node}: no port"))?;
    }
    Ok(moved)
}

/// The resident memory of `pid` in KiB, while it runs.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs a fault's shell command, waiting for it.
async fn run_command(command: String) -> Result<()> {
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .status()
    })
    .await??;
    if !status.success() {
        eprintln!("soak: the fault's command exited with {status}");
    }
    Ok(())
}

/// The closed-loop maximum: completed requests a second.
async fn maximum(load: &Arc<Load>, tasks: usize, seconds: f64) -> Result<(f64, Stats)> {
    let begun = Instant::now();
    let deadline = begun + Duration::from_secs_f64(seconds);
    let mut handles = Vec::new();
    for _ in 0..tasks.max(1) {
        let load = load.clone();
        handles.push(tokio::spawn(async move {
            let mut records = Vec::new();
            while Instant::now() < deadline {
                let n = load.counter.fetch_add(1, Ordering::Relaxed);
                let op = op_of(n);
                let sent = begun.elapsed();
                let outcome = load.perform(op, load.node_for(n), n).await;
                records.push(Record {
                    op,
                    node: 0,
                    intended: sent,
                    sent,
                    done: begun.elapsed(),
                    outcome,
                });
            }
            records
        }));
    }
    let mut records = Vec::new();
    for h in handles {
        records.extend(h.await?);
    }
    let elapsed = begun.elapsed().as_secs_f64();
    let stats = Stats::of(&records);
    Ok((stats.ok as f64 / elapsed, stats))
}

/// Without a fault, every 10 s window's successful answers must reach this share of the
/// open-loop rate (a short pause dips one window by a few percent; an overload, by far more).
const HELD_SHARE: f64 = 0.95;

/// The open-loop run: every request of the schedule, and the memory readings.
async fn open_loop(
    load: &Arc<Load>,
    args: &SoakArgs,
    rate: f64,
) -> Result<(Vec<Record>, Vec<Vec<RssSample>>, Option<FaultTimes>)> {
    let duration = Duration::from_secs_f64(args.duration);
    let begun = Instant::now();
    let running = Arc::new(AtomicBool::new(true));

    let sampler = {
        let (load, running, pids) = (load.clone(), running.clone(), args.server_pids.clone());
        tokio::spawn(async move {
            let mut samples = vec![Vec::new(); pids.len()];
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while running.load(Ordering::Relaxed) {
                tick.tick().await;
                let tokens = load.issued.lock().unwrap().len();
                for (i, pid) in pids.iter().enumerate() {
                    if let Some(kib) = rss_kib(*pid) {
                        samples[i].push(RssSample {
                            at: begun.elapsed(),
                            kib,
                            tokens,
                        });
                    }
                }
            }
            samples
        })
    };

    let fault = args.fault_at.map(|at| {
        let (load, begin, end, hold, lost) = (
            load.clone(),
            args.fault_begin.clone(),
            args.fault_end.clone(),
            args.fault_hold,
            args.lost_node,
        );
        tokio::spawn(async move {
            tokio::time::sleep_until((begun + Duration::from_secs_f64(at)).into()).await;
            let mut times = FaultTimes {
                begin: begun.elapsed(),
                ..FaultTimes::default()
            };
            if let Some(command) = begin {
                run_command(command).await?;
            }
            times.begun = begun.elapsed();
            if let Some(node) = lost {
                load.lost.store(node, Ordering::Relaxed);
                load.lost_set.store(true, Ordering::Relaxed);
            }
            if let Some(command) = end {
                tokio::time::sleep(Duration::from_secs_f64(hold)).await;
                let start = begun.elapsed();
                run_command(command).await?;
                times.end = Some((start, begun.elapsed()));
            }
            Ok::<_, crate::Error>(times)
        })
    });

    // A fixed pool of senders, as many as may be in flight: each takes the next request of
    // the schedule when free, waits for its intended time, sends it. (A task spawned per
    // request, behind a semaphore, cost the driver about half as much CPU again per request
    // as the closed loop's tasks: on two cores shared with the server, the driver then fell
    // behind the schedule.) A request whose time came while every sender was busy waits for
    // one, and that wait counts.
    let total = request_count(rate, duration);
    // The schedule gives up this long after its end (every request stuck in flight).
    let give_up = duration + Duration::from_secs(30);
    let next = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::with_capacity(args.max_in_flight);
    for _ in 0..args.max_in_flight {
        let (load, next) = (load.clone(), next.clone());
        senders.push(tokio::spawn(async move {
            let mut records = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || begun.elapsed() > give_up {
                    break;
                }
                let intended = intended_offset(i, rate);
                tokio::time::sleep_until((begun + intended).into()).await;
                let n = load.counter.fetch_add(1, Ordering::Relaxed);
                let op = op_of(i);
                let node = load.node_for(n);
                let sent = begun.elapsed();
                let outcome = load.perform(op, node, n).await;
                records.push(Record {
                    op,
                    node,
                    intended,
                    sent,
                    done: begun.elapsed(),
                    outcome,
                });
            }
            records
        }));
    }
    // Every request answered (the client's timeout bounds the wait).
    let mut records = Vec::with_capacity(usize::try_from(total)?);
    for sender in senders {
        records.extend(sender.await?);
    }
    let unsent = total - records.len() as u64;
    running.store(false, Ordering::Relaxed);
    let samples = sampler.await?;
    let times = match fault {
        Some(handle) => Some(handle.await??),
        None => None,
    };
    if unsent > 0 {
        println!("the schedule fell 30 s behind: {unsent} requests not sent");
    }
    Ok((records, samples, times))
}

/// Writes `records` as CSV (see `SoakArgs::records_csv`).
fn write_records(path: &std::path::Path, records: &[Record]) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "flow,node,intended_us,sent_us,done_us,outcome")?;
    for r in records {
        writeln!(
            out,
            "{:?},{},{},{},{},{}",
            r.op,
            r.node,
            r.intended.as_micros(),
            r.sent.as_micros(),
            r.done.as_micros(),
            r.outcome
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Sends `items` to the survivors with `check`, `concurrency` at once; the outcomes counted.
async fn check_all<F, Fut>(
    load: &Arc<Load>,
    items: Vec<String>,
    concurrency: usize,
    check: F,
) -> BTreeMap<String, u64>
where
    F: Fn(Flow, String) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Outcome> + Send,
{
    let survivors = load.survivors();
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (load, items, next, check, survivors) = (
            load.clone(),
            items.clone(),
            next.clone(),
            check.clone(),
            survivors.clone(),
        );
        handles.push(tokio::spawn(async move {
            let mut counts = BTreeMap::<String, u64>::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    return counts;
                };
                let flow = load.nodes[survivors[i % survivors.len()]].clone();
                let outcome = check(flow, item.clone()).await;
                *counts.entry(outcome.to_string()).or_default() += 1;
            }
        }));
    }
    let mut counts = BTreeMap::new();
    for h in handles {
        for (k, v) in h.await.unwrap_or_default() {
            *counts.entry(k).or_default() += v;
        }
    }
    counts
}

/// A replayed code or refresh token: `Ok` when refused with 400 `invalid_grant`.
fn refused_as_invalid_grant(answer: Result<(StatusCode, bytes::Bytes)>) -> Outcome {
    match answer {
        Ok((StatusCode::BAD_REQUEST, body)) if error_of(&body) == "invalid_grant" => Outcome::Ok,
        Ok((status, body)) => Outcome::answer(status.as_u16(), &error_of(&body)),
        Err(e) => Outcome::Transport(transport_of(e.as_ref())),
    }
}

fn print_stats(label: &str, stats: &Stats) {
    println!(
        "| {label} | {} | {} | {} | {} | {} | {} |",
        stats.requests,
        stats.error_count(),
        ms(stats.p50_us),
        ms(stats.p99_us),
        ms(stats.max_us),
        stats.error_text()
    );
}

pub(crate) async fn soak(args: SoakArgs) -> Result<()> {
    let cookie = std::fs::read_to_string(&args.cookie_file)?
        .trim()
        .to_owned();
    let http = client(None, args.max_in_flight)?;
    let flow = Flow::discover(http, args.target.clone()).await?;
    let nodes = if args.nodes.is_empty() {
        vec![flow]
    } else {
        args.nodes
            .iter()
            .map(|n| on_node(&flow, n))
            .collect::<Result<_>>()?
    };
    let (chains, free) = mpsc::unbounded_channel();
    let heads = std::fs::read_to_string(&args.refresh_file)?;
    for token in heads.lines().filter(|l| !l.is_empty()) {
        chains.send(token.to_owned())?;
    }
    let load = Arc::new(Load {
        nodes,
        cookie,
        scope: args.scope.clone(),
        api_scope: args.api_scope.clone(),
        chains,
        free_chains: tokio::sync::Mutex::new(free),
        issued: Mutex::default(),
        codes: Mutex::default(),
        rotated: Mutex::default(),
        dead_chains: AtomicU64::new(0),
        abandoned_chains: AtomicU64::new(0),
        lost: AtomicUsize::new(0),
        lost_set: AtomicBool::new(false),
        counter: AtomicU64::new(0),
    });
    // A token to introspect before any other is issued.
    let first = load.perform(Op::ClientCredentials, 0, 0).await;
    if !first.is_ok() {
        return Err(format!("client credentials: {first}").into());
    }

    println!(
        "mix (of every {}): {}",
        report::mix_total(),
        Op::ALL
            .iter()
            .map(|op| format!("{} {}", weight(*op), op.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            let (max, stats) = maximum(&load, args.max_concurrency, args.max_duration).await?;
            println!(
                "maximum (closed loop, {} tasks, {} s): {max:.0} requests/s, p50 {} ms, p99 {} ms, errors: {}",
                args.max_concurrency,
                args.max_duration,
                ms(stats.p50_us),
                ms(stats.p99_us),
                stats.error_text()
            );
            max * args.load_percent / 100.0
        }
    };
    if rate <= 0.0 {
        return Err("no requests completed: no rate to hold".into());
    }
    println!(
        "open loop: {rate:.0} requests/s for {} s ({} nodes)",
        args.duration,
        load.nodes.len()
    );
    let (records, samples, times) = open_loop(&load, &args, rate).await?;
    if let Some(path) = &args.records_csv {
        write_records(path, &records)?;
    }
    let mut checks = Vec::new();

    println!();
    println!("| flow | requests | errors | p50 ms | p99 ms | max ms | errors by kind |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for op in Op::ALL {
        let stats = Stats::of(records.iter().filter(|r| r.op == op));
        print_stats(op.name(), &stats);
        if args.fault.is_none() {
            checks.push(Check::tail(op.name(), &stats, args.tail_factor));
        }
    }
    let overall = Stats::of(&records);
    print_stats("all", &overall);
    let windows = throughput(
        &records,
        Duration::from_secs(10),
        Duration::from_secs_f64(args.duration),
    );
    println!(
        "\nsuccessful answers a second, per 10 s window: {}",
        windows
            .iter()
            .map(|w| format!("{w:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "refresh chains ended by invalid_grant: {}, by a request without an answer: {}",
        load.dead_chains.load(Ordering::Relaxed),
        load.abandoned_chains.load(Ordering::Relaxed)
    );

    let warmup = Duration::from_secs_f64(args.warmup);
    for (pid, samples) in args.server_pids.iter().zip(&samples) {
        let Some(g) = RssGrowth::of(samples, warmup) else {
            println!("RSS of {pid}: too few readings");
            continue;
        };
        let per_token = g
            .bytes_per_token()
            .map_or("-".into(), |b| format!("{b:.0}"));
        println!(
            "RSS of {pid}: {:.1} MiB after the {} s warm-up, {:.1} MiB at the end ({:.0} s): {:+.1} MiB ({:+.1} %), {} access tokens received in between, {per_token} bytes per token",
            g.warm.kib as f64 / 1024.0,
            args.warmup,
            g.end.kib as f64 / 1024.0,
            g.end.at.as_secs_f64(),
            g.bytes() as f64 / 1048576.0,
            g.percent(),
            g.tokens()
        );
        if args.fault.is_none() {
            let allowed = g.allowed_bytes(args.rss_growth_mib, args.rss_bytes_per_token);
            checks.push(Check::new(
                format!(
                    "RSS growth after warm-up ≤ {} MiB + {} B per access token = {:.1} MiB ({:+.1} MiB)",
                    args.rss_growth_mib,
                    args.rss_bytes_per_token,
                    allowed / 1048576.0,
                    g.bytes() as f64 / 1048576.0
                ),
                g.bytes() as f64 <= allowed,
            ));
        }
    }

    match (args.fault, times) {
        (None, _) => {
            checks.push(Check::held(&windows, rate, HELD_SHARE));
            checks.push(Check::none_failed("all requests", &overall));
        }
        (Some(fault), Some(times)) => {
            checks.extend(fault_checks(fault, &args, &records, times, rate))
        }
        (Some(_), None) => return Err("a fault without its times".into()),
    }

    if load.survivors().is_empty() {
        println!("\nno node left: the token checks are skipped");
    } else {
        println!();
        let issued = load.issued.lock().unwrap().clone();
        let counts = check_all(
            &load,
            issued,
            args.check_concurrency,
            |flow, token| async move {
                introspect(&flow, &token)
                    .await
                    .unwrap_or_else(|e| Outcome::Transport(transport_of(e.as_ref())))
            },
        )
        .await;
        checks.push(Check::all_ok(
            "every access token received introspects active",
            &counts,
        ));
        if args.replay {
            // After the introspections: a replay may revoke what the code or token issued
            // (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
            let codes = load.codes.lock().unwrap().clone();
            let rotated = load.rotated.lock().unwrap().clone();
            for (what, items, refresh) in [
                ("code", codes, false),
                ("rotated-away refresh token", rotated, true),
            ] {
                let counts = check_all(
                    &load,
                    items,
                    args.check_concurrency,
                    move |flow, item| async move {
                        let answer = if refresh {
                            flow.token(&[("grant_type", "refresh_token"), ("refresh_token", &item)])
                                .await
                        } else {
                            flow.redeem(&item).await
                        };
                        refused_as_invalid_grant(answer)
                    },
                )
                .await;
                checks.push(Check::all_ok(
                    &format!("every {what} sent again is refused with 400 invalid_grant"),
                    &counts,
                ));
            }
        }
    }

    println!();
    for check in &checks {
        println!("{check}");
    }
    Ok(())
}

/// The fault's own figures and checks.
fn fault_checks(
    fault: Fault,
    args: &SoakArgs,
    records: &[Record],
    times: FaultTimes,
    rate: f64,
) -> Vec<Check> {
    let secs = |d: Duration| format!("{:.1}", d.as_secs_f64());
    println!(
        "\nfault {fault:?}: began at {} s (command done at {} s){}",
        secs(times.begin),
        secs(times.begun),
        times
            .end
            .map(|(a, b)| format!(", ended at {} s (command done at {} s)", secs(a), secs(b)))
            .unwrap_or_default()
    );
    let before = Stats::of(records.iter().filter(|r| r.done < times.begin));
    let mut checks = vec![Check::none_failed("answered before the fault", &before)];
    match fault {
        Fault::PostgresOutage => {
            let Some((_, back)) = times.end else {
                return vec![Check::new("the outage ended", false)];
            };
            // Requests whose time at the server overlapped the outage.
            let during: Vec<&Record> = records
                .iter()
                .filter(|r| r.done >= times.begin && r.sent < back)
                .collect();
            let stats = Stats::of(during.iter().copied());
            let slowest = during
                .iter()
                .map(|r| r.service_time())
                .max()
                .unwrap_or_default();
            let unexpected = during
                .iter()
                .filter(|r| !r.outcome.is_ok() && !is_unavailable(&r.outcome))
                .count();
            println!(
                "during the outage: {} requests, {} answered ok, failures: {}; slowest answer {} s",
                stats.requests,
                stats.ok,
                stats.error_text(),
                secs(slowest)
            );
            checks.push(Check::new(
                format!("during the outage, every failure is temporarily_unavailable ({unexpected} others)"),
                unexpected == 0,
            ));
            checks.push(Check::new(
                format!(
                    "during the outage, every answer within {} s (slowest {} s)",
                    args.outage_bound,
                    secs(slowest)
                ),
                slowest.as_secs_f64() <= args.outage_bound,
            ));
            let first = first_ok_after(records, back);
            let full = full_rate_after(records, back, rate, 0.9);
            let show = |d: Option<Duration>| d.map_or("never".into(), |d| format!("{} s", secs(d)));
            println!(
                "after the restart: first success after {}, 90 % of the rate for a second after {}",
                show(first),
                show(full)
            );
            checks.push(Check::new(
                format!(
                    "full rate within {} s of the restart ({})",
                    args.recovery_bound,
                    show(full)
                ),
                full.is_some_and(|d| d.as_secs_f64() <= args.recovery_bound),
            ));
            if let Some(full) = full {
                let settled = back + full;
                let after = Stats::of(records.iter().filter(|r| r.sent >= settled));
                checks.push(Check::none_failed("sent once back at full rate", &after));
            }
        }
        Fault::SigkillNode => {
            let lost = args.lost_node.unwrap_or(0);
            let on_lost = Stats::of(
                records
                    .iter()
                    .filter(|r| r.node == lost && r.done >= times.begin),
            );
            println!(
                "on the killed node from the kill: {} requests, failures (expected): {}",
                on_lost.requests,
                on_lost.error_text()
            );
            let others = Stats::of(
                records
                    .iter()
                    .filter(|r| r.done >= times.begin && r.node != lost),
            );
            checks.push(Check::none_failed(
                "on the surviving node(s) from the kill",
                &others,
            ));
        }
        Fault::SigtermDrain => {
            // In flight: sent before the signal was (surely) delivered, answered after it was
            // sent. A connection refused never reached the server; one closed before any
            // answer may be the keep-alive race (sent as the server closed an idle
            // connection), which no server can tell from a dropped request; an answer cut
            // off is what a drain must never do.
            let count = |stats: &Stats, what: Transport| -> u64 {
                let key = Outcome::Transport(what).to_string();
                stats.errors.get(&key).copied().unwrap_or(0)
            };
            let in_flight = Stats::of(
                records
                    .iter()
                    .filter(|r| r.sent < times.begun && r.done >= times.begin),
            );
            let later = Stats::of(records.iter().filter(|r| r.sent >= times.begun));
            println!(
                "in flight at SIGTERM: {} ({} answered ok; failures: {}); sent after: {} (failures: {})",
                in_flight.requests,
                in_flight.ok,
                in_flight.error_text(),
                later.requests,
                later.error_text()
            );
            let unexplained = |stats: &Stats| {
                stats.error_count()
                    - count(stats, Transport::Refused)
                    - count(stats, Transport::Closed)
            };
            checks.push(Check::new(
                format!(
                    "requests in flight at SIGTERM: none cut off or failed otherwise ({} of {}; {} closed before an answer)",
                    unexplained(&in_flight),
                    in_flight.requests,
                    count(&in_flight, Transport::Closed)
                ),
                in_flight.requests > 0 && unexplained(&in_flight) == 0,
            ));
            checks.push(Check::new(
                format!(
                    "requests after SIGTERM: answered or refused, none cut off ({} others; {} closed before an answer)",
                    unexplained(&later),
                    count(&later, Transport::Closed)
                ),
                unexplained(&later) == 0,
            ));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        soak: SoakArgs,
    }

    fn args(fault: &str) -> SoakArgs {
        let cli = Cli::parse_from([
            "soak",
            "--issuer=http://127.0.0.1:1",
            "--client-id=c",
            "--client-secret=s",
            "--redirect-uri=http://127.0.0.1:2/cb",
            "--cookie-file=c",
            "--refresh-file=r",
            "--fault-at=10",
            &format!("--fault={fault}"),
            "--outage-bound=6",
        ]);
        cli.soak
    }

    /// A request sent at `sent_ms`, answered at `done_ms`.
    fn at(sent_ms: u64, done_ms: u64, outcome: Outcome) -> Record {
        Record {
            op: Op::ClientCredentials,
            node: 0,
            intended: Duration::from_millis(sent_ms),
            sent: Duration::from_millis(sent_ms),
            done: Duration::from_millis(done_ms),
            outcome,
        }
    }

    /// Which of `fault`'s checks `records` meet, at 10 requests a second for the outage.
    fn verdicts(fault: Fault, name: &str, records: &[Record], times: FaultTimes) -> Vec<bool> {
        let checks = fault_checks(fault, &args(name), records, times, 10.0);
        checks.iter().map(|c| c.met).collect()
    }

    #[test]
    fn a_drain_may_refuse_and_lose_the_keep_alive_race_but_never_cut_an_answer() {
        let times = FaultTimes {
            begin: Duration::from_secs(10),
            begun: Duration::from_millis(10_010),
            end: None,
        };
        let mut records = vec![
            at(9_000, 9_001, Outcome::Ok),
            at(9_999, 10_020, Outcome::Ok),
            at(10_005, 10_006, Outcome::Transport(Transport::Refused)),
            at(10_005, 10_006, Outcome::Transport(Transport::Closed)),
            at(10_500, 10_501, Outcome::Transport(Transport::Refused)),
        ];
        let drain =
            |records: &[Record]| verdicts(Fault::SigtermDrain, "sigterm-drain", records, times);
        assert_eq!(drain(&records), [true, true, true]);
        records.push(at(
            9_990,
            10_030,
            Outcome::Transport(Transport::CutMidAnswer),
        ));
        records.push(at(10_600, 10_601, Outcome::answer(500, "server_error")));
        assert_eq!(drain(&records), [true, false, false]);
    }

    #[test]
    fn an_outage_passes_on_quick_503s_and_a_prompt_recovery_only() {
        let times = FaultTimes {
            begin: Duration::from_secs(10),
            begun: Duration::from_secs(10),
            end: Some((Duration::from_secs(20), Duration::from_secs(20))),
        };
        let mut records = vec![at(5_000, 5_001, Outcome::Ok)];
        records.extend((0..50).map(|i| {
            at(
                12_000 + i,
                12_100 + i,
                Outcome::answer(503, "temporarily_unavailable"),
            )
        }));
        let outage =
            |records: &[Record]| verdicts(Fault::PostgresOutage, "postgres-outage", records, times);
        // Back at full rate (10 a second) from 20 s.
        records.extend((0..40).map(|i| at(20_000 + 100 * i, 20_010 + 100 * i, Outcome::Ok)));
        assert_eq!(outage(&records), [true, true, true, true, true]);

        let mut bad = records.clone();
        bad.push(at(13_000, 13_001, Outcome::answer(500, "server_error")));
        bad.push(at(
            14_000,
            21_000,
            Outcome::answer(503, "temporarily_unavailable"),
        ));
        assert_eq!(outage(&bad)[..3], [true, false, false]);

        // Never back at full rate.
        let slow: Vec<Record> = records
            .iter()
            .filter(|r| r.done < Duration::from_secs(20))
            .cloned()
            .collect();
        assert_eq!(outage(&slow), [true, true, true, false]);
    }

    #[test]
    fn error_codes_come_from_json_or_from_a_page_naming_them() {
        assert_eq!(error_of(br#"{"error":"invalid_grant"}"#), "invalid_grant");
        assert_eq!(error_of(br#"{"active":false}"#), "no error member");
        assert_eq!(error_of(b""), "empty body");
        assert_eq!(
            error_of(b"<p>temporarily_unavailable</p>"),
            UNAVAILABLE_PAGE
        );
        assert_eq!(error_of(b"<p>oops</p>"), "not JSON: <p>oops</p>");
        assert_eq!(
            error_of(b"<html><title>Sign-in\n failed</title><p>no</p>"),
            "not JSON: Sign-in failed"
        );
    }

    #[test]
    fn only_temporarily_unavailable_counts_as_the_outage_answer() {
        let cases = [
            (503, "temporarily_unavailable", true),
            (503, UNAVAILABLE_PAGE, true),
            (302, "temporarily_unavailable", true),
            (503, "not JSON: Unavailable", false),
            (500, "temporarily_unavailable", false),
            (500, "not JSON: Unavailable", false),
            (503, "server_error", false),
            (400, "invalid_grant", false),
        ];
        for (status, error, unavailable) in cases {
            let outcome = Outcome::answer(status, error);
            assert_eq!(is_unavailable(&outcome), unavailable, "{outcome}");
        }
        assert!(!is_unavailable(&Outcome::Transport(Transport::Closed)));
        assert!(!is_unavailable(&Outcome::Ok));
    }
}
