//! WebAssembly plugins: a Proxy-Wasm host on wasmtime. One engine; each
//! module compiled once; on every worker thread one instance per
//! (plugin, configuration), serving that worker's requests as separate
//! contexts (Envoy's VM-per-worker model).

pub mod abi;
pub mod callout;
pub mod chain;
pub mod headers;
pub mod host;
pub mod metrics;
pub mod registry;
mod shared;
pub mod vm;
mod wasi;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::{Config, Engine, ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, Val, ValType};

use arc_swap::ArcSwap;
use host::HostState;

use crate::diagnostics::Diagnostic;
use crate::translate::PluginRequest;

/// Limits the operator sets on plugins.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// The longest one callback may run.
    pub callback_deadline: Duration,
    /// The longest an instance's start-up (initialisation, `on_vm_start`,
    /// `on_configure`) may run: plugins compile rules there, once.
    pub startup_deadline: Duration,
    /// Linear memory cap per instance.
    pub memory_limit: usize,
    /// The most body bytes a plugin may hold back to inspect at once.
    pub max_inspect_body: usize,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            callback_deadline: Duration::from_millis(10),
            startup_deadline: Duration::from_secs(1),
            memory_limit: 64 << 20,
            max_inspect_body: 1 << 20,
        }
    }
}

/// How often the epoch advances: the granularity of callback deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(1);

pub(crate) fn ticks(d: Duration) -> u64 {
    (d.as_millis() as u64 / EPOCH_TICK.as_millis() as u64).max(1)
}

/// The engine, the host functions, and the ticker that enforces deadlines.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    pub opts: RuntimeOptions,
    stop_ticker: Arc<AtomicBool>,
    /// Sends plugins' `http_call`s; set once the proxy exists.
    callout: std::sync::OnceLock<Arc<dyn callout::CallOut>>,
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl PluginRuntime {
    pub fn new(opts: RuntimeOptions) -> wasmtime::Result<Arc<Self>> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let mut pooling = wasmtime::PoolingAllocationConfig::default();
        pooling.total_core_instances(1_000).total_memories(1_000).total_tables(1_000);
        pooling.max_memory_size(opts.memory_limit);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        // `perf record` can name plugin functions when asked: the engine
        // then writes /tmp/perf-PID.map for the code it compiles.
        if std::env::var_os("WASMGRESS_PLUGIN_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = match Engine::new(&config) {
            Ok(engine) => engine,
            // The pool reserves its address space up front, terabytes of
            // it (mostly guard pages, never touched). Where that is
            // refused (an address-space limit, some sandboxes, valgrind),
            // instances are mapped one at a time instead: slower to
            // create, with the same memory limit (the store's limiter).
            Err(e) => {
                tracing::warn!(error = %e, "cannot reserve the plugin instance pool; plugin instances are mapped on demand");
                config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
                Engine::new(&config)?
            }
        };
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker)?;
        wasi::add_to_linker(&mut linker)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticker_engine, stop) = (engine.clone(), stop_ticker.clone());
        std::thread::Builder::new().name("wasmgress-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticker_engine.increment_epoch();
            }
        })?;
        Ok(Arc::new(Self { engine, linker, opts, stop_ticker, callout: std::sync::OnceLock::new() }))
    }

    /// Wires plugin calls to the proxy (once; later calls are ignored).
    pub fn set_callout(&self, out: Arc<dyn callout::CallOut>) {
        let _ = self.callout.set(out);
    }

    pub fn callout(&self) -> Option<&Arc<dyn callout::CallOut>> {
        self.callout.get()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Epoch ticks in one callback deadline (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        ticks(self.opts.callback_deadline)
    }

    /// Epoch ticks in the start-up deadline.
    pub fn startup_ticks(&self) -> u64 {
        ticks(self.opts.startup_deadline.max(self.opts.callback_deadline))
    }

    /// Identifies engine settings that precompiled modules depend on.
    pub fn engine_fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        h.finish()
    }

    /// Links a module: the host functions, and for every other import a
    /// stub that answers Unimplemented (ENOSYS for WASI) instead of
    /// trapping, so any Proxy-Wasm module instantiates.
    pub fn instance_pre(&self, module: &Module) -> wasmtime::Result<InstancePre<HostState>> {
        let mut linker = self.linker.clone();
        let mut probe = wasmtime::Store::new(&self.engine, HostState::new("probe".into(), Arc::from(&[][..]), 0));
        for import in module.imports() {
            let ExternType::Func(ty) = import.ty() else { continue };
            if self.linker.get_by_import(&mut probe, &import).is_some() {
                continue;
            }
            let status = if import.module() == wasi::MODULE { wasi::ENOSYS } else { abi::Status::Unimplemented as i32 };
            let (module_name, name) = (import.module().to_string(), import.name().to_string());
            let plugin_name = name.clone();
            linker.func_new(&module_name, &name, ty.clone(), move |caller, _params, results| {
                tracing::debug!(plugin = %caller.data().plugin_name, import = %plugin_name, "unimplemented host call");
                for (slot, ty) in results.iter_mut().zip(ty.results()) {
                    *slot = match ty {
                        ValType::I32 => Val::I32(status),
                        ValType::I64 => Val::I64(i64::from(status)),
                        ValType::F32 => Val::F32(0),
                        ValType::F64 => Val::F64(0),
                        _ => Val::I32(0),
                    };
                }
                Ok(())
            })?;
        }
        linker.instantiate_pre(module)
    }
}

/// The installed plugins, resolving Ingress plugin requests. A request seen
/// before gets the same spec back, so workers keep their instances across
/// reconfigurations that do not touch it.
pub struct Plugins {
    runtime: Arc<PluginRuntime>,
    dir: PathBuf,
    cache: Option<PathBuf>,
    registry: ArcSwap<registry::PluginRegistry>,
    /// What went wrong loading the directory, last time it was read.
    problems: Mutex<Vec<Diagnostic>>,
    resolved: Mutex<HashMap<PluginRequest, Result<Arc<chain::PluginSpec>, String>>>,
}

impl Plugins {
    /// Loads every plugin in `dir`.
    pub fn load(runtime: Arc<PluginRuntime>, dir: PathBuf, cache: Option<PathBuf>) -> Self {
        let (registry, problems) = registry::PluginRegistry::load_dir(&runtime, &dir, cache.as_deref(), None);
        Self {
            runtime,
            dir,
            cache,
            registry: ArcSwap::from_pointee(registry),
            problems: Mutex::new(problems),
            resolved: Default::default(),
        }
    }

    /// Reads the directory again, compiling only modules that changed.
    /// Returns whether anything did: then the routes must be translated
    /// again, and new requests get the new modules (requests in flight
    /// finish on the instances they started on).
    pub fn reload(&self) -> bool {
        let old = self.registry.load_full();
        let (new, problems) =
            registry::PluginRegistry::load_dir(&self.runtime, &self.dir, self.cache.as_deref(), Some(&old));
        let changed = new.changed_since(&old);
        // Stored even when nothing changed: it has the files' latest stamps.
        self.registry.store(Arc::new(new));
        let mut known = lock(&self.problems);
        if changed.is_empty() && *known == problems {
            return false;
        }
        for name in &changed {
            tracing::info!(plugin = %name, "plugin module changed; new requests use the new version");
        }
        *known = problems;
        lock(&self.resolved).retain(|request, _| !changed.contains(&request.name));
        true
    }

    pub fn runtime(&self) -> &Arc<PluginRuntime> {
        &self.runtime
    }

    pub fn registry(&self) -> Arc<registry::PluginRegistry> {
        self.registry.load_full()
    }
}

/// A lock whose holder cannot leave it half-updated: poisoning is moot.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl crate::translate::PluginResolver for Plugins {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        lock(&self.problems).clone()
    }

    fn resolve(&self, request: &PluginRequest) -> Result<Arc<chain::PluginSpec>, String> {
        if let Some(hit) = lock(&self.resolved).get(request).cloned() {
            return hit;
        }
        let registry = self.registry.load();
        let result = (|| {
            let plugin = registry.get(&request.name).ok_or_else(|| {
                format!("plugin {:?} is not installed (installed: {})", request.name, registry.names().join(", "))
            })?;
            if let Some(pin) = &request.sha256
                && *pin != plugin.sha256
            {
                return Err(format!("plugin {:?} has sha256 {}, not the pinned {pin}", request.name, plugin.sha256));
            }
            chain::validate(&self.runtime, plugin, request.config.clone())
                .map_err(|e| format!("plugin {:?} refused its configuration: {e}", request.name))?;
            Ok(Arc::new(chain::PluginSpec::new(
                plugin.clone(),
                request.config.clone(),
                request.failure,
                self.runtime.clone(),
            )))
        })();
        lock(&self.resolved).insert(request.clone(), result.clone());
        result
    }
}
