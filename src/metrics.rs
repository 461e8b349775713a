//! Counters and latency histograms for `GET /metrics`, rendered in the Prometheus text format.
//! One registry per emulator, so several in-process emulators never mix their numbers.
//!
//! Label values are bounded: routes are the router's templates (`/keys/{name}/wrapkey`),
//! never raw paths; algorithms and operations come from closed lists.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets; `+Inf` is implied.
const LATENCY_BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The route label of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Default)]
struct Latency {
    /// Per bucket, not cumulative; cumulated when rendered.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum_seconds: f64,
    count: u64,
}

impl Latency {
    fn observe(&mut self, seconds: f64) {
        let bucket = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket] += 1;
        self.sum_seconds += seconds;
        self.count += 1;
    }

    fn merge(&mut self, other: &Latency) {
        for (mine, theirs) in self.buckets.iter_mut().zip(other.buckets) {
            *mine += theirs;
        }
        self.sum_seconds += other.sum_seconds;
        self.count += other.count;
    }
}

#[derive(Debug, Default)]
struct Series {
    /// (route, method, status) → latency of those requests; the request count is its `count`.
    requests: BTreeMap<(String, String, u16), Latency>,
    /// (operation, algorithm) → completed cryptographic operations.
    crypto: BTreeMap<(&'static str, String), u64>,
    /// (route, inner error code) → refused by authorization.
    denials: BTreeMap<(String, String), u64>,
    /// (port, reason) → refused before routing: Host, Origin, admin token, body limits, connections.
    refusals: BTreeMap<(&'static str, &'static str), u64>,
}

/// The emulator's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<Series>,
}

impl Metrics {
    fn series(&self) -> std::sync::MutexGuard<'_, Series> {
        // A panic while holding the lock leaves plain counters behind: still good to read.
        self.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        self.series().requests.entry((route.to_owned(), method.to_owned(), status)).or_default().observe(seconds);
    }

    /// A cryptographic operation that completed (`encrypt`, `unwrapKey`, `sign`, ...).
    pub fn record_crypto(&self, operation: &'static str, algorithm: &str) {
        *self.series().crypto.entry((operation, algorithm.to_owned())).or_default() += 1;
    }

    /// A request refused by access policies or RBAC; `code` is the inner error code.
    pub fn record_denial(&self, route: &str, code: &str) {
        *self.series().denials.entry((route.to_owned(), code.to_owned())).or_default() += 1;
    }

    /// A request or connection the front door refused before routing; `reason` is one of a closed
    /// list (`host`, `origin`, `admin_token`, `body_too_large`, `body_timeout`, `body_budget`,
    /// `body_broken`, `connections`).
    pub fn record_refusal(&self, port: &'static str, reason: &'static str) {
        *self.series().refusals.entry((port, reason)).or_default() += 1;
    }

    /// The Prometheus text exposition (format 0.0.4). `pool_ready` is the RSA key pool's ready
    /// keys per size, and `pool_target` the depth it refills to.
    #[must_use]
    pub fn render(&self, pool_ready: &BTreeMap<u32, usize>, pool_target: &BTreeMap<u32, usize>) -> String {
        let series = self.series();
        let mut out = String::new();

        out.push_str(
            "# HELP kvemu_http_requests_total HTTP requests answered, by route template, method and status.\n",
        );
        out.push_str("# TYPE kvemu_http_requests_total counter\n");
        for ((route, method, status), latency) in &series.requests {
            let _ = writeln!(
                out,
                "kvemu_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {}",
                escape(route),
                latency.count
            );
        }

        let mut by_route: BTreeMap<(&str, &str), Latency> = BTreeMap::new();
        for ((route, method, _), latency) in &series.requests {
            by_route.entry((route, method)).or_default().merge(latency);
        }
        out.push_str(
            "# HELP kvemu_http_request_duration_seconds Time to answer a request, by route template and method.\n",
        );
        out.push_str("# TYPE kvemu_http_request_duration_seconds histogram\n");
        for ((route, method), latency) in &by_route {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(latency.buckets) {
                cumulative += count;
                let _ =
                    writeln!(out, "kvemu_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ =
                writeln!(out, "kvemu_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", latency.count);
            let _ = writeln!(out, "kvemu_http_request_duration_seconds_sum{{{labels}}} {}", latency.sum_seconds);
            let _ = writeln!(out, "kvemu_http_request_duration_seconds_count{{{labels}}} {}", latency.count);
        }

        out.push_str("# HELP kvemu_crypto_operations_total Completed key operations, by operation and algorithm.\n");
        out.push_str("# TYPE kvemu_crypto_operations_total counter\n");
        for ((operation, algorithm), count) in &series.crypto {
            let _ = writeln!(
                out,
                "kvemu_crypto_operations_total{{operation=\"{operation}\",algorithm=\"{}\"}} {count}",
                escape(algorithm)
            );
        }

        out.push_str(
            "# HELP kvemu_authorization_denials_total Requests refused by access policies or RBAC, by route and code.\n",
        );
        out.push_str("# TYPE kvemu_authorization_denials_total counter\n");
        for ((route, code), count) in &series.denials {
            let _ = writeln!(
                out,
                "kvemu_authorization_denials_total{{route=\"{}\",code=\"{}\"}} {count}",
                escape(route),
                escape(code)
            );
        }

        out.push_str(
            "# HELP kvemu_front_door_refusals_total Requests and connections refused before routing, by port and reason.\n",
        );
        out.push_str("# TYPE kvemu_front_door_refusals_total counter\n");
        for ((port, reason), count) in &series.refusals {
            let _ = writeln!(out, "kvemu_front_door_refusals_total{{port=\"{port}\",reason=\"{reason}\"}} {count}");
        }
        drop(series);

        out.push_str("# HELP kvemu_rsa_key_pool_ready Pre-generated RSA keys ready, by size.\n");
        out.push_str("# TYPE kvemu_rsa_key_pool_ready gauge\n");
        for (size, ready) in pool_ready {
            let _ = writeln!(out, "kvemu_rsa_key_pool_ready{{size=\"{size}\"}} {ready}");
        }
        out.push_str("# HELP kvemu_rsa_key_pool_target Depth the RSA key pool refills to, by size.\n");
        out.push_str("# TYPE kvemu_rsa_key_pool_target gauge\n");
        for (size, depth) in pool_target {
            let _ = writeln!(out, "kvemu_rsa_key_pool_target{{size=\"{size}\"}} {depth}");
        }
        out
    }
}

/// A label value as the text format requires: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_and_latencies_cumulated_per_route() {
        let metrics = Metrics::default();
        metrics.record_request("/keys/{key-name}", "GET", 200, Duration::from_micros(300));
        metrics.record_request("/keys/{key-name}", "GET", 200, Duration::from_millis(3));
        metrics.record_request("/keys/{key-name}", "GET", 404, Duration::from_secs(10));
        let text = metrics.render(&BTreeMap::new(), &BTreeMap::new());
        assert!(
            text.contains("kvemu_http_requests_total{route=\"/keys/{key-name}\",method=\"GET\",status=\"200\"} 2\n")
        );
        assert!(
            text.contains("kvemu_http_requests_total{route=\"/keys/{key-name}\",method=\"GET\",status=\"404\"} 1\n")
        );
        let bucket = |le: &str| {
            format!(
                "kvemu_http_request_duration_seconds_bucket{{route=\"/keys/{{key-name}}\",method=\"GET\",le=\"{le}\"}} "
            )
        };
        assert!(text.contains(&format!("{}1\n", bucket("0.0005"))), "{text}");
        assert!(text.contains(&format!("{}2\n", bucket("0.005"))));
        assert!(text.contains(&format!("{}2\n", bucket("2.5"))));
        assert!(text.contains(&format!("{}3\n", bucket("+Inf"))));
        assert!(
            text.contains("kvemu_http_request_duration_seconds_count{route=\"/keys/{key-name}\",method=\"GET\"} 3\n")
        );
    }

    #[test]
    fn crypto_denials_and_pool_are_rendered_with_escaped_labels() {
        let metrics = Metrics::default();
        metrics.record_crypto("unwrapKey", "RSA-OAEP-256");
        metrics.record_crypto("unwrapKey", "RSA-OAEP-256");
        metrics.record_denial("/keys/{key-name}", "Forbidden\"x");
        let text = metrics.render(&BTreeMap::from([(2048, 3)]), &BTreeMap::from([(2048, 4)]));
        assert!(text.contains("kvemu_crypto_operations_total{operation=\"unwrapKey\",algorithm=\"RSA-OAEP-256\"} 2\n"));
        assert!(
            text.contains("kvemu_authorization_denials_total{route=\"/keys/{key-name}\",code=\"Forbidden\\\"x\"} 1\n")
        );
        assert!(text.contains("kvemu_rsa_key_pool_ready{size=\"2048\"} 3\n"));
        assert!(text.contains("kvemu_rsa_key_pool_target{size=\"2048\"} 4\n"));
        // Every sample line belongs to a declared family.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }
}
