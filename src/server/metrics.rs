//! Counters and a latency histogram, exposed in the Prometheus text format at `/metrics`.
//!
//! Hand-rolled because the set is small and fixed; the text format is specified at
//! <https://prometheus.io/docs/instrumenting/exposition_formats/>. Label values come from our
//! own route table, flow names and outcome kinds, and are escaped all the same.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Flow names `switchboard_unknown_flow_total` keeps apart; later ones count as [`OTHER_FLOW`].
/// The names come from request URLs, so a stream of made-up names must not grow the metrics.
const UNKNOWN_FLOW_NAMES: usize = 16;
/// Longer names are not kept as a label either.
const UNKNOWN_FLOW_NAME_LEN: usize = 64;
/// The label of the unknown flows past the cap; parentheses keep it apart from flow file names.
pub const OTHER_FLOW: &str = "(other)";

/// Upper bounds of the latency buckets in seconds: webhook answers should take milliseconds.
const BUCKETS_S: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// By route, then status.
    requests: BTreeMap<String, BTreeMap<u16, u64>>,
    calls_started: BTreeMap<String, u64>,
    outcomes: BTreeMap<(String, String), u64>,
    escapes: BTreeMap<String, u64>,
    fallbacks: BTreeMap<String, u64>,
    unknown_flows: BTreeMap<String, u64>,
    /// By reason ([`crate::server::TokenError::label`]): a handful of fixed labels.
    tokens_refused: BTreeMap<String, u64>,
    latency_buckets: [u64; BUCKETS_S.len()],
    latency_count: u64,
    latency_sum_s: f64,
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        // Counters stay meaningful after a panic elsewhere; never fail a request over them.
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn request(&self, route: &str, status: u16, took: Duration) {
        self.with(|m| {
            match m.requests.get_mut(route) {
                Some(by_status) => *by_status.entry(status).or_default() += 1,
                None => {
                    m.requests.insert(route.to_owned(), BTreeMap::from([(status, 1)]));
                }
            }
            let s = took.as_secs_f64();
            for (count, bound) in m.latency_buckets.iter_mut().zip(BUCKETS_S) {
                if s <= bound {
                    *count += 1;
                }
            }
            m.latency_count += 1;
            m.latency_sum_s += s;
        });
    }

    pub fn call_started(&self, flow: &str) {
        self.with(|m| bump(&mut m.calls_started, flow));
    }

    pub fn outcome(&self, flow: &str, kind: &str) {
        self.with(|m| *m.outcomes.entry((flow.to_owned(), kind.to_owned())).or_default() += 1);
    }

    pub fn escape(&self, flow: &str) {
        self.with(|m| bump(&mut m.escapes, flow));
    }

    pub fn timeout_fallback(&self, flow: &str) {
        self.with(|m| bump(&mut m.fallbacks, flow));
    }

    /// A state token that did not open on a signed request, by `reason`.
    pub fn token_refused(&self, reason: &str) {
        self.with(|m| bump(&mut m.tokens_refused, reason));
    }

    /// A request for a flow that is not loaded, by the name asked for, up to
    /// [`UNKNOWN_FLOW_NAMES`] names.
    pub fn unknown_flow(&self, flow: &str) {
        self.with(|m| {
            let names = m.unknown_flows.keys().filter(|k| *k != OTHER_FLOW).count();
            let known = m.unknown_flows.contains_key(flow);
            let room = names < UNKNOWN_FLOW_NAMES && flow.len() <= UNKNOWN_FLOW_NAME_LEN;
            bump(&mut m.unknown_flows, if known || room { flow } else { OTHER_FLOW });
        });
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.with(|m| {
            head(&mut out, "switchboard_http_requests_total", "counter", "HTTP requests by route and status.");
            for (route, status, n) in m.requests.iter().flat_map(|(r, s)| s.iter().map(move |(s, n)| (r, s, n))) {
                let _ = writeln!(
                    out,
                    "switchboard_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
            by_flow(&mut out, "switchboard_calls_started_total", "Calls started, by flow.", &m.calls_started);
            head(&mut out, "switchboard_call_outcomes_total", "counter", "Calls leaving the IVR, by flow and kind.");
            for ((flow, kind), n) in &m.outcomes {
                let _ = writeln!(
                    out,
                    "switchboard_call_outcomes_total{{flow=\"{}\",kind=\"{}\"}} {n}",
                    escape(flow),
                    escape(kind)
                );
            }
            by_flow(&mut out, "switchboard_escapes_total", "Escapes to the operator, by flow.", &m.escapes);
            by_flow(
                &mut out,
                "switchboard_timeout_fallbacks_total",
                "Timeout fallbacks after silence, by flow.",
                &m.fallbacks,
            );
            by_flow(
                &mut out,
                "switchboard_unknown_flow_total",
                "Requests for a flow that is not loaded, by the name asked for (16 names, then (other)).",
                &m.unknown_flows,
            );
            let name = "switchboard_tokens_refused_total";
            head(
                &mut out,
                name,
                "counter",
                "State tokens refused on signed requests (the caller went to the operator), by reason.",
            );
            for (reason, n) in &m.tokens_refused {
                let _ = writeln!(out, "{name}{{reason=\"{}\"}} {n}", escape(reason));
            }
            let name = "switchboard_request_duration_seconds";
            head(&mut out, name, "histogram", "Time to answer a request.");
            for (count, bound) in m.latency_buckets.iter().zip(BUCKETS_S) {
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", m.latency_count);
            let _ = writeln!(out, "{name}_sum {}", m.latency_sum_s);
            let _ = writeln!(out, "{name}_count {}", m.latency_count);
        });
        out
    }
}

/// The event log's counters (`None`: no log, both zero), from the writer's [`Stats`].
///
/// [`Stats`]: crate::events::Stats
pub fn render_event_log(out: &mut String, stats: Option<crate::events::Stats>) {
    let stats = stats.unwrap_or_default();
    let name = "switchboard_events_written_total";
    head(out, name, "counter", "Call events the database accepted.");
    let _ = writeln!(out, "{name} {}", stats.written);
    let name = "switchboard_events_dropped_total";
    head(
        out,
        name,
        "counter",
        "Call events lost: the log's queue was full, or the database refused or was down at shutdown.",
    );
    let _ = writeln!(out, "{name} {}", stats.dropped);
}

/// Counts one for `key`, allocating its name only the first time: this runs on every request.
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn by_flow(out: &mut String, name: &str, help: &str, counts: &BTreeMap<String, u64>) {
    head(out, name, "counter", help);
    for (flow, n) in counts {
        let _ = writeln!(out, "{name}{{flow=\"{}\"}} {n}", escape(flow));
    }
}

/// Label value escaping of the text format: backslash, double quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.request("/twilio/{flow}", 200, Duration::from_millis(2));
        m.call_started("support");
        m.outcome("support", "queue");
        m.escape("support");
        m.timeout_fallback("support");
        m.token_refused("expired");
        let text = m.render();
        for line in [
            "switchboard_http_requests_total{route=\"/twilio/{flow}\",status=\"200\"} 1",
            "switchboard_calls_started_total{flow=\"support\"} 1",
            "switchboard_call_outcomes_total{flow=\"support\",kind=\"queue\"} 1",
            "switchboard_escapes_total{flow=\"support\"} 1",
            "switchboard_timeout_fallbacks_total{flow=\"support\"} 1",
            "switchboard_tokens_refused_total{reason=\"expired\"} 1",
            "switchboard_request_duration_seconds_bucket{le=\"0.0025\"} 1",
            "switchboard_request_duration_seconds_bucket{le=\"0.001\"} 0",
            "switchboard_request_duration_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn unknown_flow_names_are_capped() {
        let m = Metrics::default();
        m.unknown_flow("suport");
        for i in 0..100 {
            m.unknown_flow(&format!("random{i}"));
        }
        m.unknown_flow("suport");
        m.unknown_flow(&"x".repeat(65));
        let text = m.render();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("switchboard_unknown_flow_total{")).collect();
        assert_eq!(lines.len(), 17, "{text}");
        assert!(lines.contains(&"switchboard_unknown_flow_total{flow=\"suport\"} 2"), "{text}");
        assert!(lines.contains(&"switchboard_unknown_flow_total{flow=\"random14\"} 1"), "{text}");
        assert!(lines.contains(&"switchboard_unknown_flow_total{flow=\"(other)\"} 86"), "{text}");
    }
}
