//! Metrics plugins define (`proxy_define_metric`): one cell per (plugin,
//! name), shared by every instance on every worker, exported on `/metrics`
//! with a `plugin` label. An instance only reaches the cells it defined.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// The ABI's metric types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn from_abi(kind: i32) -> Option<Self> {
        match kind {
            0 => Some(Self::Counter),
            1 => Some(Self::Gauge),
            2 => Some(Self::Histogram),
            _ => None,
        }
    }
}

/// One metric's value: a counter or gauge value, or a histogram's sum and
/// count of recorded values.
#[derive(Debug)]
pub struct PluginMetric {
    pub kind: MetricKind,
    value: AtomicI64,
    count: AtomicU64,
}

impl PluginMetric {
    pub fn increment(&self, by: i64) {
        self.value.fetch_add(by, Ordering::Relaxed);
    }

    pub fn record(&self, value: i64) {
        match self.kind {
            MetricKind::Histogram => {
                self.value.fetch_add(value, Ordering::Relaxed);
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            _ => self.value.store(value, Ordering::Relaxed),
        }
    }

    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

type Registry = BTreeMap<(String, String), Arc<PluginMetric>>;

static METRICS: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// The cell for `plugin`'s metric `name`, created on first definition;
/// `None` when the name is already defined with another kind.
pub fn define(plugin: &str, name: &str, kind: MetricKind) -> Option<Arc<PluginMetric>> {
    let mut metrics = METRICS.lock().ok()?;
    let cell = metrics
        .entry((plugin.to_string(), name.to_string()))
        .or_insert_with(|| Arc::new(PluginMetric { kind, value: AtomicI64::new(0), count: AtomicU64::new(0) }));
    (cell.kind == kind).then(|| cell.clone())
}

/// A metric name as Prometheus allows it: `[a-zA-Z0-9_]`, other bytes `_`.
fn prometheus_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Writes every plugin metric in the Prometheus text format, each family
/// named `wasmgress_plugin_metric_<name>` with the plugin as a label.
pub fn render(out: &mut String) {
    use std::fmt::Write as _;
    let Ok(metrics) = METRICS.lock() else { return };
    let mut families: BTreeMap<String, Vec<(&str, &PluginMetric)>> = BTreeMap::new();
    for ((plugin, name), cell) in metrics.iter() {
        families.entry(prometheus_name(name)).or_default().push((plugin, cell));
    }
    for (name, cells) in families {
        let family = format!("wasmgress_plugin_metric_{name}");
        let kind = match cells[0].1.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "summary",
        };
        let _ = writeln!(out, "# TYPE {family} {kind}");
        let family_kind = cells[0].1.kind;
        // Two plugins may give one name two kinds: a family has one type.
        for (plugin, cell) in cells.into_iter().filter(|(_, c)| c.kind == family_kind) {
            let plugin = plugin.replace('\\', "\\\\").replace('"', "\\\"");
            if cell.kind == MetricKind::Histogram {
                let _ = writeln!(out, "{family}_sum{{plugin=\"{plugin}\"}} {}", cell.get());
                let _ = writeln!(out, "{family}_count{{plugin=\"{plugin}\"}} {}", cell.count.load(Ordering::Relaxed));
            } else {
                let _ = writeln!(out, "{family}{{plugin=\"{plugin}\"}} {}", cell.get());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_share_one_cell_per_plugin_and_name() {
        let a = define("metrics-test", "hits.total", MetricKind::Counter).unwrap();
        let b = define("metrics-test", "hits.total", MetricKind::Counter).unwrap();
        a.increment(2);
        b.increment(3);
        assert_eq!(a.get(), 5);
        assert!(define("metrics-test", "hits.total", MetricKind::Gauge).is_none(), "one kind per name");
        let h = define("metrics-test", "latency", MetricKind::Histogram).unwrap();
        h.record(10);
        h.record(30);
        let mut out = String::new();
        render(&mut out);
        assert!(out.contains("wasmgress_plugin_metric_hits_total{plugin=\"metrics-test\"} 5\n"), "{out}");
        assert!(out.contains("wasmgress_plugin_metric_latency_sum{plugin=\"metrics-test\"} 40\n"), "{out}");
        assert!(out.contains("wasmgress_plugin_metric_latency_count{plugin=\"metrics-test\"} 2\n"), "{out}");
    }
}
