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
