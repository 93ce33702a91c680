//! Metrics a plugin keeps: define them once (at configure time), update
//! them per request. The gateway sums them over its instances and exports
//! them on `/metrics` as `wasmgress_plugin_metric_<name>{plugin="..."}`.
//! Natively (tests) they live in memory: read them with
//! [`crate::testing::metric`].

/// A metric's kind, as the Proxy-Wasm ABI numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Where a metric lives: in the host, or in the native test registry.
#[derive(Debug, Clone)]
struct Handle {
    #[cfg(target_arch = "wasm32")]
    id: Option<u32>,
    #[cfg(not(target_arch = "wasm32"))]
    name: String,
}

impl Handle {
    fn define(kind: Kind, name: &str) -> Self {
        #[cfg(target_arch = "wasm32")]
        {
            use proxy_wasm::types::MetricType;
            let kind = match kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let id = proxy_wasm::hostcalls::define_metric(kind, name).ok();
            if id.is_none() {
                log::warn!("the host refused metric {name:?}");
            }
            Handle { id }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = kind;
            native::define(name);
            Handle { name: name.to_string() }
        }
    }

    fn add(&self, by: i64) {
        #[cfg(target_arch = "wasm32")]
        if let Some(id) = self.id {
            let _ = proxy_wasm::hostcalls::increment_metric(id, by);
        }
        #[cfg(not(target_arch = "wasm32"))]
        native::update(&self.name, |v| v + by);
    }

    fn record(&self, value: i64) {
        #[cfg(target_arch = "wasm32")]
        if let Some(id) = self.id {
            let _ = proxy_wasm::hostcalls::record_metric(id, value as u64);
        }
        #[cfg(not(target_arch = "wasm32"))]
        native::update(&self.name, |_| value);
    }

    /// One observation of a histogram (natively: summed).
    fn observe(&self, value: u64) {
        #[cfg(target_arch = "wasm32")]
        if let Some(id) = self.id {
            let _ = proxy_wasm::hostcalls::record_metric(id, value);
        }
        #[cfg(not(target_arch = "wasm32"))]
        native::update(&self.name, |v| v + value as i64);
    }

    fn value(&self) -> i64 {
        #[cfg(target_arch = "wasm32")]
        {
            self.id.and_then(|id| proxy_wasm::hostcalls::get_metric(id).ok()).map_or(0, |v| v as i64)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            native::get(&self.name).unwrap_or(0)
        }
    }
}

/// A count that only goes up (requests seen, requests blocked…).
#[derive(Debug, Clone)]
pub struct Counter(Handle);

impl Counter {
    /// Defines counter `name` (or finds it, when defined before).
    pub fn new(name: &str) -> Self {
        Counter(Handle::define(Kind::Counter, name))
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.add(n as i64);
    }

    /// The current total, as this instance sees it.
    pub fn value(&self) -> i64 {
        self.0.value()
    }
}

/// A value that goes up and down (entries in a cache…).
#[derive(Debug, Clone)]
pub struct Gauge(Handle);

impl Gauge {
    /// Defines gauge `name`.
    pub fn new(name: &str) -> Self {
        Gauge(Handle::define(Kind::Gauge, name))
    }

    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.record(value);
    }

    /// Adds `by` (negative to lower it).
    pub fn add(&self, by: i64) {
        self.0.add(by);
    }

    /// The current value.
    pub fn value(&self) -> i64 {
        self.0.value()
    }
}

/// Observed values (sizes, durations); the gateway exports their sum and count.
#[derive(Debug, Clone)]
pub struct Histogram(Handle);

impl Histogram {
    /// Defines histogram `name`.
    pub fn new(name: &str) -> Self {
        Histogram(Handle::define(Kind::Histogram, name))
    }

    /// Records one observation.
    pub fn record(&self, value: u64) {
        self.0.observe(value);
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native {
    use std::cell::RefCell;
    use std::collections::HashMap;

    thread_local! {
        // Per test thread, so that parallel tests do not see each other.
        static METRICS: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
    }

    pub fn define(name: &str) {
        METRICS.with(|m| {
            m.borrow_mut().entry(name.to_string()).or_insert(0);
        });
    }

    pub fn update(name: &str, f: impl FnOnce(i64) -> i64) {
        METRICS.with(|m| {
            let mut m = m.borrow_mut();
            let v = m.entry(name.to_string()).or_insert(0);
            *v = f(*v);
        });
    }

    pub fn get(name: &str) -> Option<i64> {
        METRICS.with(|m| m.borrow().get(name).copied())
    }
}
