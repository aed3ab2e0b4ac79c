//! The soak run's arithmetic, apart from any I/O: the flow mix, the open-loop schedule, what
//! each request gave, latency percentiles, throughput windows, recovery times, memory growth
//! and the pass/fail lines.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::percentile;

/// A flow of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    /// `GET /authorize` on a session with remembered consent → code → `POST /token`.
    Login,
    /// `POST /token`, `grant_type=refresh_token`, rotated (one chain, one request at a time).
    Refresh,
    /// `POST /token`, `grant_type=client_credentials`.
    ClientCredentials,
    /// `POST /introspect` of an access token issued earlier in the run.
    Introspection,
}

impl Op {
    pub(crate) const ALL: [Op; 4] = [
        Op::Login,
        Op::Refresh,
        Op::ClientCredentials,
        Op::Introspection,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Login => "login",
            Op::Refresh => "refresh",
            Op::ClientCredentials => "client_credentials",
            Op::Introspection => "introspection",
        }
    }
}

/// The mix, ten requests long, repeated: 2 logins, 2 refreshes, 3 client credentials, 3
/// introspections, interleaved so that every stretch of the run has each flow.
const SEQUENCE: [Op; 10] = [
    Op::ClientCredentials,
    Op::Introspection,
    Op::Login,
    Op::Refresh,
    Op::ClientCredentials,
    Op::Introspection,
    Op::Login,
    Op::Refresh,
    Op::ClientCredentials,
    Op::Introspection,
];

/// The flow of the `n`th request of a run.
pub(crate) fn op_of(n: u64) -> Op {
    SEQUENCE[(n % SEQUENCE.len() as u64) as usize]
}

/// The weight of `op` in the mix, out of [`mix_total`].
pub(crate) fn weight(op: Op) -> usize {
    SEQUENCE.iter().filter(|o| **o == op).count()
}

pub(crate) fn mix_total() -> usize {
    SEQUENCE.len()
}

/// When the `n`th request of an open-loop run at `rate` a second is meant to be sent, from
/// the run's start: fixed whatever the answers, so a stall delays no later request's
/// intended time (latency is measured from it, so coordinated omission hides nothing).
pub(crate) fn intended_offset(n: u64, rate: f64) -> Duration {
    Duration::from_secs_f64(n as f64 / rate)
}

/// The requests of an open-loop run of `duration` at `rate` a second.
pub(crate) fn request_count(rate: f64, duration: Duration) -> u64 {
    (rate * duration.as_secs_f64()).floor() as u64
}

/// How a request failed to get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Transport {
    /// The connection could not be made (refused: nothing listens).
    Refused,
    /// No answer within the client's timeout.
    Timeout,
    /// The connection was closed or reset before any answer came (a request the server
    /// dropped, or one sent on a kept-alive connection just as the server closed it).
    Closed,
    /// The answer began (status and headers) and its body was cut off.
    CutMidAnswer,
    /// No refresh chain came free in time (the driver's, not the server's).
    NoChain,
}

/// What one request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The expected answer (200, with tokens, or `active: true`).
    Ok,
    /// Another answer: its status and OAuth `error` (or a word for what else it held).
    Answer { status: u16, error: String },
    /// No answer.
    Transport(Transport),
}

impl Outcome {
    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// An answer of `status` with `error`.
    pub(crate) fn answer(status: u16, error: &str) -> Self {
        Outcome::Answer {
            status,
            error: error.to_owned(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Answer { status, error } => write!(f, "{status} {error}"),
            Outcome::Transport(Transport::Refused) => f.write_str("connection refused"),
            Outcome::Transport(Transport::Timeout) => f.write_str("no answer (timeout)"),
            Outcome::Transport(Transport::Closed) => {
                f.write_str("connection closed before an answer")
            }
            Outcome::Transport(Transport::CutMidAnswer) => f.write_str("answer cut off"),
            Outcome::Transport(Transport::NoChain) => f.write_str("no refresh chain free (driver)"),
        }
    }
}

/// One request of the fixed-rate run; times from the run's start.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) op: Op,
    pub(crate) node: usize,
    /// When it was meant to be sent (the schedule's time).
    pub(crate) intended: Duration,
    /// When it was sent.
    pub(crate) sent: Duration,
    /// When its answer (or failure) came.
    pub(crate) done: Duration,
    pub(crate) outcome: Outcome,
}

impl Record {
    /// From the intended send time to the answer.
    pub(crate) fn latency(&self) -> Duration {
        self.done.saturating_sub(self.intended)
    }

    /// From the actual send time to the answer: the server's (and the network's) share.
    pub(crate) fn service_time(&self) -> Duration {
        self.done.saturating_sub(self.sent)
    }
}

/// Requests, failures and latencies of a set of records.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) ok: u64,
    /// Failures by what they were (`Outcome`'s text).
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) p50_us: u128,
    pub(crate) p99_us: u128,
    pub(crate) max_us: u128,
}

impl Stats {
    /// The figures of `records` (latency from the intended send time).
    pub(crate) fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut stats = Stats::default();
        let mut latencies = Vec::new();
        for r in records {
            stats.requests += 1;
            if r.outcome.is_ok() {
                stats.ok += 1;
            } else {
                *stats.errors.entry(r.outcome.to_string()).or_default() += 1;
            }
            latencies.push(r.latency());
        }
        latencies.sort_unstable();
        stats.p50_us = percentile(&latencies, 50.0);
        stats.p99_us = percentile(&latencies, 99.0);
        stats.max_us = latencies.last().map_or(0, Duration::as_micros);
        stats
    }

    pub(crate) fn error_count(&self) -> u64 {
        self.requests - self.ok
    }

    /// The failures as `what ×count` pairs, or `none`.
    pub(crate) fn error_text(&self) -> String {
        text_of_counts(&self.errors)
    }
}

/// `label ×count, …`, or `none`.
fn text_of_counts(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    parts.join(", ")
}

/// Successful answers a second in consecutive windows of `width` from the run's start to
/// `length` (by answer time); a last, partial window is left out.
pub(crate) fn throughput(records: &[Record], width: Duration, length: Duration) -> Vec<f64> {
    let windows = (length.as_secs_f64() / width.as_secs_f64()).floor() as usize;
    let mut counts = vec![0u64; windows];
    for r in records.iter().filter(|r| r.outcome.is_ok()) {
        let i = (r.done.as_secs_f64() / width.as_secs_f64()).floor() as usize;
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
        .into_iter()
        .map(|c| c as f64 / width.as_secs_f64())
        .collect()
}

/// From `from` to the first successful answer after it.
pub(crate) fn first_ok_after(records: &[Record], from: Duration) -> Option<Duration> {
    records
        .iter()
        .filter(|r| r.outcome.is_ok() && r.done >= from)
        .map(|r| r.done - from)
        .min()
}

/// From `from` to the end of the first one-second window (starting at `from` or later, in
/// steps of 100 ms) in which successful answers reach `share` of `rate`: the time the
/// server took to carry the full load again.
pub(crate) fn full_rate_after(
    records: &[Record],
    from: Duration,
    rate: f64,
    share: f64,
) -> Option<Duration> {
    let mut done: Vec<Duration> = records
        .iter()
        .filter(|r| r.outcome.is_ok() && r.done >= from)
        .map(|r| r.done)
        .collect();
    done.sort_unstable();
    let last = *done.last()?;
    let need = (rate * share).ceil() as usize;
    let step = Duration::from_millis(100);
    let second = Duration::from_secs(1);
    let mut start = from;
    while start + second <= last + step {
        let lo = done.partition_point(|d| *d < start);
        let hi = done.partition_point(|d| *d < start + second);
        if hi - lo >= need {
            return Some(start + second - from);
        }
        start += step;
    }
    None
}

/// One reading of a server's resident memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RssSample {
    /// From the fixed-rate run's start.
    pub(crate) at: Duration,
    pub(crate) kib: u64,
    /// Access tokens the driver had received by then.
    pub(crate) tokens: usize,
}

/// Resident memory at the end of the warm-up and at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RssGrowth {
    pub(crate) warm: RssSample,
    pub(crate) end: RssSample,
}

impl RssGrowth {
    /// The first reading at or after `warmup`, and the last one; `None` without both.
    pub(crate) fn of(samples: &[RssSample], warmup: Duration) -> Option<Self> {
        let warm = *samples.iter().find(|s| s.at >= warmup)?;
        let end = *samples.last()?;
        (end.at > warm.at).then_some(RssGrowth { warm, end })
    }

    pub(crate) fn bytes(&self) -> i64 {
        (self.end.kib as i64 - self.warm.kib as i64) * 1024
    }

    pub(crate) fn percent(&self) -> f64 {
        100.0 * self.bytes() as f64 / (self.warm.kib as f64 * 1024.0)
    }

    /// Access tokens received between the two readings.
    pub(crate) fn tokens(&self) -> usize {
        self.end.tokens.saturating_sub(self.warm.tokens)
    }

    /// The growth per access token received after the warm-up.
    pub(crate) fn bytes_per_token(&self) -> Option<f64> {
        (self.tokens() > 0).then(|| self.bytes() as f64 / self.tokens() as f64)
    }

    /// The growth allowed: `fixed_mib`, plus `per_token` bytes for each access token received
    /// after the warm-up (the memory store keeps every live token).
    pub(crate) fn allowed_bytes(&self, fixed_mib: f64, per_token: f64) -> f64 {
        fixed_mib * 1024.0 * 1024.0 + per_token * self.tokens() as f64
    }
}

/// A pass/fail line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub(crate) label: String,
    pub(crate) met: bool,
}

impl Check {
    pub(crate) fn new(label: impl Into<String>, met: bool) -> Self {
        Check {
            label: label.into(),
            met,
        }
    }

    /// p99 within `factor` × p50.
    pub(crate) fn tail(name: &str, stats: &Stats, factor: f64) -> Self {
        let met = stats.requests > 0 && stats.p99_us as f64 <= factor * stats.p50_us as f64;
        Check::new(
            format!(
                "{name}: p99 ≤ {factor}× p50 (p50 {} ms, p99 {} ms)",
                ms(stats.p50_us),
                ms(stats.p99_us)
            ),
            met,
        )
    }

    /// The rate held: every window's successful answers at least `share` of `rate`. Without
    /// it an overloaded run would pass the tail check (every request late by the same tens
    /// of seconds has p99 ≈ p50).
    pub(crate) fn held(windows: &[f64], rate: f64, share: f64) -> Self {
        let lowest = windows.iter().copied().fold(f64::INFINITY, f64::min);
        Check::new(
            format!(
                "the rate held: every 10 s window ≥ {:.0} % of {rate:.0}/s (lowest {lowest:.0}/s)",
                share * 100.0
            ),
            !windows.is_empty() && lowest >= share * rate,
        )
    }

    /// Every one of a check's outcomes (counted by their text) `ok`, and at least one.
    pub(crate) fn all_ok(what: &str, counts: &BTreeMap<String, u64>) -> Self {
        let total: u64 = counts.values().sum();
        let ok = counts.get("ok").copied().unwrap_or(0);
        Check::new(
            format!("{what} ({total}: {})", text_of_counts(counts)),
            total > 0 && ok == total,
        )
    }

    /// No failures among `what`.
    pub(crate) fn none_failed(what: &str, stats: &Stats) -> Self {
        Check::new(
            format!(
                "{what}: 0 errors ({} of {}: {})",
                stats.error_count(),
                stats.requests,
                stats.error_text()
            ),
            stats.requests > 0 && stats.error_count() == 0,
        )
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.met {
            "check met:    "
        } else {
            "check NOT met:"
        };
        write!(f, "{verdict} {}", self.label)
    }
}

/// Microseconds as milliseconds, two decimals.
pub(crate) fn ms(us: u128) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(op: Op, intended_ms: u64, done_ms: u64, outcome: Outcome) -> Record {
        Record {
            op,
            node: 0,
            intended: Duration::from_millis(intended_ms),
            sent: Duration::from_millis(intended_ms),
            done: Duration::from_millis(done_ms),
            outcome,
        }
    }

    #[test]
    fn the_mix_has_its_documented_weights_in_every_ten_requests() {
        let counts: Vec<usize> = Op::ALL.iter().map(|op| weight(*op)).collect();
        assert_eq!(counts, [2, 2, 3, 3]);
        assert_eq!(mix_total(), 10);
        for start in [0, 7, 1003] {
            for op in Op::ALL {
                let seen = (start..start + 10).filter(|n| op_of(*n) == op).count();
                assert_eq!(seen, weight(op), "{op:?} from {start}");
            }
        }
    }

    #[test]
    fn the_schedule_is_fixed_by_the_rate_alone() {
        assert_eq!(intended_offset(0, 1000.0), Duration::ZERO);
        assert_eq!(intended_offset(1500, 1000.0), Duration::from_millis(1500));
        assert_eq!(intended_offset(3, 4.0), Duration::from_millis(750));
        assert_eq!(request_count(2500.0, Duration::from_secs(120)), 300_000);
        assert_eq!(request_count(3.5, Duration::from_secs(1)), 3);
    }

    #[test]
    fn latency_counts_from_the_intended_time_not_the_send() {
        let mut r = record(Op::Login, 100, 400, Outcome::Ok);
        r.sent = Duration::from_millis(350);
        assert_eq!(r.latency(), Duration::from_millis(300));
        assert_eq!(r.service_time(), Duration::from_millis(50));
    }

    #[test]
    fn stats_give_nearest_rank_percentiles_and_failures_by_kind() {
        let mut records: Vec<Record> = (1..=100)
            .map(|i| record(Op::Refresh, 0, i, Outcome::Ok))
            .collect();
        records[0].outcome = Outcome::answer(503, "temporarily_unavailable");
        records[1].outcome = Outcome::answer(503, "temporarily_unavailable");
        records[2].outcome = Outcome::Transport(Transport::Refused);
        let stats = Stats::of(&records);
        assert_eq!(
            (stats.requests, stats.ok, stats.error_count()),
            (100, 97, 3)
        );
        assert_eq!(
            (stats.p50_us, stats.p99_us, stats.max_us),
            (50_000, 99_000, 100_000)
        );
        assert_eq!(
            stats.error_text(),
            "503 temporarily_unavailable ×2, connection refused ×1"
        );
        assert_eq!(Stats::of(&[]).error_text(), "none");
    }

    #[test]
    fn throughput_counts_successes_by_answer_time_per_window() {
        let records = [
            record(Op::Login, 0, 500, Outcome::Ok),
            record(Op::Login, 0, 9_999, Outcome::Ok),
            record(Op::Login, 0, 10_000, Outcome::Ok),
            record(Op::Login, 0, 12_000, Outcome::answer(500, "server_error")),
            record(Op::Login, 0, 25_000, Outcome::Ok),
        ];
        let t = throughput(&records, Duration::from_secs(10), Duration::from_secs(25));
        assert_eq!(t, [0.2, 0.1]);
    }

    #[test]
    fn recovery_is_the_first_success_and_the_first_full_second() {
        // Back at t = 10 s; a success at 10.3 s, then 50/s from 11 s (full rate: 100/s).
        let mut records = vec![
            record(Op::Refresh, 9_000, 9_500, Outcome::Ok),
            record(Op::Refresh, 10_000, 10_100, Outcome::answer(503, "x")),
            record(Op::Refresh, 10_000, 10_300, Outcome::Ok),
        ];
        records.extend((0..50).map(|i| record(Op::Refresh, 0, 11_000 + 20 * i, Outcome::Ok)));
        records.extend((0..100).map(|i| record(Op::Refresh, 0, 12_000 + 10 * i, Outcome::Ok)));
        let back = Duration::from_secs(10);
        assert_eq!(
            first_ok_after(&records, back),
            Some(Duration::from_millis(300))
        );
        // 90 a second first holds for [11.8 s, 12.8 s): 10 + 80 answers.
        assert_eq!(
            full_rate_after(&records, back, 100.0, 0.9),
            Some(Duration::from_millis(2_800))
        );
        assert_eq!(full_rate_after(&records, back, 1000.0, 0.9), None);
        assert_eq!(first_ok_after(&records, Duration::from_secs(20)), None);
    }

    #[test]
    fn memory_growth_is_measured_from_the_end_of_the_warm_up() {
        let sample = |s, kib, tokens| RssSample {
            at: Duration::from_secs(s),
            kib,
            tokens,
        };
        let samples = [
            sample(0, 10_000, 0),
            sample(10, 20_000, 1000),
            sample(11, 20_480, 1200),
            sample(120, 30_240, 11_000),
        ];
        let g = RssGrowth::of(&samples, Duration::from_secs(10)).unwrap();
        assert_eq!(g.bytes(), 10_240 * 1024);
        assert!((g.percent() - 51.2).abs() < 1e-9);
        assert_eq!(g.tokens(), 10_000);
        assert_eq!(g.bytes_per_token(), Some(1048.576));
        assert_eq!(g.allowed_bytes(1.0, 1000.0), 1_048_576.0 + 10_000_000.0);
        assert!(RssGrowth::of(&samples, Duration::from_secs(200)).is_none());
        assert!(RssGrowth::of(&samples[..2], Duration::from_secs(10)).is_none());
    }

    #[test]
    fn the_rate_held_only_when_every_window_reached_its_share() {
        assert!(Check::held(&[98.0, 100.0, 96.0], 100.0, 0.95).met);
        assert!(!Check::held(&[98.0, 94.0, 102.0], 100.0, 0.95).met);
        assert!(!Check::held(&[], 100.0, 0.95).met);
    }

    #[test]
    fn checks_fail_on_a_long_tail_on_errors_and_on_nothing_measured() {
        let fast: Vec<Record> = (1..=100)
            .map(|i| record(Op::Introspection, 0, 10 + i / 50, Outcome::Ok))
            .collect();
        let stats = Stats::of(&fast);
        assert!(Check::tail("x", &stats, 3.0).met);
        assert!(Check::none_failed("x", &stats).met);
        let mut slow = fast.clone();
        slow[99].done = Duration::from_millis(100);
        slow[98].done = Duration::from_millis(100);
        let stats = Stats::of(&slow);
        assert_eq!(stats.p99_us, 100_000);
        assert!(!Check::tail("x", &stats, 3.0).met);
        slow[0].outcome = Outcome::Transport(Transport::Closed);
        assert!(!Check::none_failed("x", &Stats::of(&slow)).met);
        assert!(!Check::none_failed("x", &Stats::default()).met);
        assert!(!Check::tail("x", &Stats::default(), 3.0).met);
        let mut counts = BTreeMap::from([("ok".to_string(), 3)]);
        assert!(Check::all_ok("x", &counts).met);
        assert_eq!(Check::all_ok("x", &counts).label, "x (3: ok ×3)");
        counts.insert("200 inactive".into(), 1);
        assert!(!Check::all_ok("x", &counts).met);
        assert!(!Check::all_ok("x", &BTreeMap::new()).met);
        assert_eq!(
            Check::new("a", false).to_string(),
            "check NOT met: a".to_string()
        );
    }
}
