//! Prometheus metrics: request counts by status class and latency, submissions by outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static REQUESTS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
static REQUEST_MICROS: AtomicU64 = AtomicU64::new(0);
/// Latency histogram buckets (ms): ≤1, ≤5, ≤20, ≤100, ≤1000, +Inf.
const BUCKETS_MS: [f64; 5] = [1.0, 5.0, 20.0, 100.0, 1000.0];
static LATENCY: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
/// created, replaced, unchanged, deleted, nothing-to-delete, rejected.
static SUBMISSIONS: [AtomicU64; 6] = [const { AtomicU64::new(0) }; 6];
const SUBMISSION_LABELS: [&str; 6] = [
    "created",
    "replaced",
    "unchanged",
    "deleted",
    "nothing_to_delete",
    "rejected",
];

pub fn record_request(status: u16, elapsed: Duration) {
    let class = usize::from(status / 100).min(5);
    REQUESTS[class].fetch_add(1, Ordering::Relaxed);
    REQUEST_MICROS.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    let ms = elapsed.as_secs_f64() * 1000.0;
    let b = BUCKETS_MS.iter().position(|&l| ms <= l).unwrap_or(5);
    LATENCY[b].fetch_add(1, Ordering::Relaxed);
}

static OVERLOADED: AtomicU64 = AtomicU64::new(0);

/// A request refused at once because the node was at its bound of requests in flight (counted
/// among the 5xx answers too).
pub fn record_overloaded() {
    OVERLOADED.fetch_add(1, Ordering::Relaxed);
    record_request(503, Duration::ZERO);
}

pub fn record_submission(outcome: &str) {
    if let Some(i) = SUBMISSION_LABELS.iter().position(|l| *l == outcome) {
        SUBMISSIONS[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// The text exposition format.
pub fn render(store_counts: Option<(i64, i64, i64)>) -> String {
    let mut out = String::new();
    out.push_str("# HELP clins_http_requests_total HTTP requests by status class.\n# TYPE clins_http_requests_total counter\n");
    for (i, c) in REQUESTS.iter().enumerate().skip(1) {
        out.push_str(&format!(
            "clins_http_requests_total{{class=\"{i}xx\"}} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP clins_http_request_duration_seconds Request latency.\n# TYPE clins_http_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (i, c) in LATENCY.iter().enumerate() {
        cumulative += c.load(Ordering::Relaxed);
        let le = BUCKETS_MS
            .get(i)
            .map_or("+Inf".to_string(), |ms| format!("{}", ms / 1000.0));
        out.push_str(&format!(
            "clins_http_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}\n"
        ));
    }
    out.push_str(&format!(
        "clins_http_request_duration_seconds_sum {}\nclins_http_request_duration_seconds_count {cumulative}\n",
        REQUEST_MICROS.load(Ordering::Relaxed) as f64 / 1e6
    ));
    out.push_str(&format!(
        "# HELP clins_http_overloaded_total Requests refused at once (503 OVERLOADED): the node was at its bound of requests in flight.\n# TYPE clins_http_overloaded_total counter\nclins_http_overloaded_total {}\n",
        OVERLOADED.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP clins_submissions_total Submissions by outcome.\n# TYPE clins_submissions_total counter\n");
    for (l, c) in SUBMISSION_LABELS.iter().zip(SUBMISSIONS.iter()) {
        out.push_str(&format!(
            "clins_submissions_total{{outcome=\"{l}\"}} {}\n",
            c.load(Ordering::Relaxed)
        ));
    }
    let (commits, writes) = store::commit_stats();
    out.push_str(&format!(
        "# HELP clins_store_group_commits_total Commits of the embedded store's writer (a group of writes each).\n# TYPE clins_store_group_commits_total counter\nclins_store_group_commits_total {commits}\n# HELP clins_store_group_writes_total Writes committed by those commits.\n# TYPE clins_store_group_writes_total counter\nclins_store_group_writes_total {writes}\n"
    ));
    let (one, fell_back) = store::one_statement_stats();
    out.push_str(&format!(
        "# HELP clins_store_one_statement_writes_total PostgreSQL: new units stored in one statement.\n# TYPE clins_store_one_statement_writes_total counter\nclins_store_one_statement_writes_total {one}\n# HELP clins_store_one_statement_fallbacks_total PostgreSQL: one-statement attempts that fell back to the full write (the unit existed, the Patient changed, a race).\n# TYPE clins_store_one_statement_fallbacks_total counter\nclins_store_one_statement_fallbacks_total {fell_back}\n"
    ));
    if let Some((units, current, versions)) = store_counts {
        out.push_str(&format!(
            "# HELP clins_store_units Stored units and documents.\n# TYPE clins_store_units gauge\nclins_store_units {units}\n# HELP clins_store_resources Current resources.\n# TYPE clins_store_resources gauge\nclins_store_resources {current}\n# HELP clins_store_resource_versions All stored resource versions.\n# TYPE clins_store_resource_versions gauge\nclins_store_resource_versions {versions}\n"
        ));
    }
    out
}

/// How often the server samples the counters for the console's charts.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept: ten minutes and one.
const KEPT: usize = 61;

/// The counters at one moment.
#[derive(Clone, Copy, Default)]
struct Totals {
    requests: u64,
    errors: u64,
    submissions: u64,
    micros: u64,
    latency: [u64; 6],
}

fn totals() -> Totals {
    let mut latency = [0; 6];
    for (l, c) in latency.iter_mut().zip(LATENCY.iter()) {
        *l = c.load(Ordering::Relaxed);
    }
    Totals {
        requests: REQUESTS.iter().map(|c| c.load(Ordering::Relaxed)).sum(),
        errors: REQUESTS[5].load(Ordering::Relaxed),
        // Accepted ones: every outcome but `rejected`.
        submissions: SUBMISSIONS[..5]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum(),
        micros: REQUEST_MICROS.load(Ordering::Relaxed),
        latency,
    }
}

type Sample = (std::time::Instant, Totals);

static HISTORY: std::sync::Mutex<std::collections::VecDeque<Sample>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

/// Records the counters now (the server calls it every [`SAMPLE_EVERY`], the first time when
/// it starts).
pub fn sample() {
    if let Ok(mut h) = HISTORY.lock() {
        if h.len() == KEPT {
            h.pop_front();
        }
        h.push_back((std::time::Instant::now(), totals()));
    }
}

/// This node's activity over one sampling interval.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    pub requests_per_s: f64,
    pub submissions_per_s: f64,
    /// Answers with a 5xx status, per second.
    pub errors_per_s: f64,
    pub mean_ms: f64,
    /// The upper bound (ms) of the latency bucket holding the 99th percentile; `None` above
    /// the last bound or without requests.
    pub p99_ms: Option<f64>,
}

/// The activity between two samples `secs` seconds apart.
fn rates(a: &Totals, b: &Totals, secs: f64) -> Rates {
    let secs = secs.max(0.001);
    let n = b.requests.saturating_sub(a.requests);
    let mut p99_ms = None;
    let in_buckets: u64 = (0..6)
        .map(|i| b.latency[i].saturating_sub(a.latency[i]))
        .sum();
    if in_buckets > 0 {
        let need = (in_buckets as f64 * 0.99).ceil() as u64;
        let mut seen = 0;
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            seen += b.latency[i].saturating_sub(a.latency[i]);
            if seen >= need {
                p99_ms = Some(*bound);
                break;
            }
        }
    }
    Rates {
        requests_per_s: n as f64 / secs,
        submissions_per_s: b.submissions.saturating_sub(a.submissions) as f64 / secs,
        errors_per_s: b.errors.saturating_sub(a.errors) as f64 / secs,
        mean_ms: if n == 0 {
            0.0
        } else {
            b.micros.saturating_sub(a.micros) as f64 / n as f64 / 1000.0
        },
        p99_ms,
    }
}

/// The last ten minutes of this node, one [`Rates`] per sampling interval, oldest first, and
/// last the interval since the latest sample (when it is a second or longer).
pub fn recent() -> Vec<Rates> {
    let Ok(h) = HISTORY.lock() else {
        return Vec::new();
    };
    let mut out: Vec<Rates> = h
        .iter()
        .zip(h.iter().skip(1))
        .map(|((ta, a), (tb, b))| rates(a, b, tb.duration_since(*ta).as_secs_f64()))
        .collect();
    if let Some((t, last)) = h.back() {
        let since = t.elapsed().as_secs_f64();
        if since >= 1.0 {
            out.push(rates(last, &totals(), since));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_between_two_samples() {
        let a = Totals::default();
        let mut b = Totals {
            requests: 100,
            errors: 10,
            submissions: 50,
            micros: 200_000,
            latency: [0; 6],
        };
        // 98 answers within 5 ms, one within 100 ms, one over a second.
        b.latency[1] = 98;
        b.latency[3] = 1;
        b.latency[5] = 1;
        let r = rates(&a, &b, 10.0);
        assert_eq!(r.requests_per_s, 10.0);
        assert_eq!(r.submissions_per_s, 5.0);
        assert_eq!(r.errors_per_s, 1.0);
        assert_eq!(r.mean_ms, 2.0);
        // The 99th of 100 answers is in the ≤ 100 ms bucket.
        assert_eq!(r.p99_ms, Some(100.0));
        b.latency[3] = 0;
        b.latency[5] = 2;
        assert_eq!(rates(&a, &b, 10.0).p99_ms, None, "above the last bound");
        assert_eq!(rates(&a, &a, 10.0), Rates::default());
        assert_eq!(
            rates(&a, &b, 5.0).requests_per_s,
            20.0,
            "per second of the interval"
        );
    }
}
