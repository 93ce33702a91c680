//! The plugins of one route, run in order on each request: request
//! callbacks in annotation order, response callbacks in reverse (as Envoy
//! runs filter chains), then done/log/delete for every context.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::PluginRuntime;
use super::abi::{self, HeaderPairs};
use super::host::{LocalResponse, RequestInfo, StreamState};
use super::registry::Plugin;
use super::vm::{PluginVm, VmError};

/// What happens to a request when its plugin fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailurePolicy {
    /// Answer 503 (the default): a broken WAF must not let traffic through.
    Closed,
    /// Skip the plugin for the rest of the request.
    Open,
}

/// A plugin with its configuration, as one Ingress attaches it.
pub struct PluginSpec {
    /// Unique per (module, configuration): keys the per-worker instances.
    pub id: u64,
    pub plugin: Arc<Plugin>,
    pub config: Arc<[u8]>,
    pub failure: FailurePolicy,
    pub runtime: Arc<PluginRuntime>,
}

impl std::fmt::Debug for PluginSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PluginSpec({} #{}, {:?})", self.plugin.name, self.id, self.failure)
    }
}

static NEXT_SPEC: AtomicU64 = AtomicU64::new(1);
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

impl PluginSpec {
    pub fn new(plugin: Arc<Plugin>, config: Arc<[u8]>, failure: FailurePolicy, runtime: Arc<PluginRuntime>) -> Self {
        Self { id: NEXT_SPEC.fetch_add(1, Ordering::Relaxed), plugin, config, failure, runtime }
    }
}

/// The ordered plugins of a route.
#[derive(Debug)]
pub struct PluginChain {
    pub plugins: Vec<Arc<PluginSpec>>,
}

impl PartialEq for PluginChain {
    fn eq(&self, other: &Self) -> bool {
        self.plugins.iter().map(|p| p.id).eq(other.plugins.iter().map(|p| p.id))
    }
}

impl Eq for PluginChain {}

/// Failures by (plugin, reason), for `wasmgress_plugin_failures_total`.
static FAILURES: Mutex<BTreeMap<(String, &'static str), u64>> = Mutex::new(BTreeMap::new());

fn count_failure(spec: &PluginSpec, e: &VmError) {
    tracing::warn!(plugin = %spec.plugin.name, reason = e.reason(), error = %e, policy = ?spec.failure, "plugin failed; its instance is discarded");
    if let Ok(mut f) = FAILURES.lock() {
        *f.entry((spec.plugin.name.to_string(), e.reason())).or_default() += 1;
    }
}

/// Plugin failures so far, by plugin and reason.
pub fn failure_counts() -> Vec<(String, &'static str, u64)> {
    FAILURES.lock().map(|f| f.iter().map(|((p, r), n)| (p.clone(), *r, *n)).collect()).unwrap_or_default()
}

/// This worker's instance of a plugin spec.
struct WorkerVm {
    spec: Weak<PluginSpec>,
    generation: u64,
    vm: PluginVm,
}

thread_local! {
    // Each worker thread keeps its own instances: no lock, no sharing.
    static VMS: RefCell<HashMap<u64, WorkerVm>> = RefCell::new(HashMap::new());
}

/// Runs `f` on this worker's instance of `spec` (created on first use).
/// With `generation`, only on that very instance: a request sticks to the
/// instance that holds its context. A failure discards the instance.
fn with_vm<T>(
    spec: &Arc<PluginSpec>,
    generation: Option<u64>,
    f: impl FnOnce(&mut PluginVm) -> Result<T, VmError>,
) -> Result<(T, u64), VmError> {
    VMS.with(|cell| {
        let mut vms = cell.borrow_mut();
        if !vms.contains_key(&spec.id) {
            if generation.is_some() {
                return Err(VmError::Replaced);
            }
            // Instances of specs no route uses any more go with this sweep.
            vms.retain(|_, w| w.spec.strong_count() > 0);
            let vm = PluginVm::new(&spec.runtime, &spec.plugin, spec.config.clone())?;
            let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
            vms.insert(spec.id, WorkerVm { spec: Arc::downgrade(spec), generation, vm });
        }
        let Some(w) = vms.get_mut(&spec.id) else { unreachable!("inserted above") };
        if generation.is_some_and(|g| g != w.generation) {
            return Err(VmError::Replaced);
        }
        let generation = w.generation;
        match f(&mut w.vm) {
            Ok(v) => Ok((v, generation)),
            Err(e) => {
                vms.remove(&spec.id);
                Err(e)
            }
        }
    })
}

/// What the chain decided about a request or response.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; `modified`: a plugin changed the headers, write them back.
    Continue { modified: bool },
    /// A plugin answered itself: send this instead.
    Respond(LocalResponse),
    /// A fail-closed plugin failed: answer 503.
    Failed,
}

/// What the chain decided about a piece of body.
#[derive(Debug)]
pub enum BodyVerdict {
    /// Send these bytes on (none while a plugin holds the body back).
    Pass(Vec<u8>),
    Respond(LocalResponse),
    /// A fail-closed plugin failed.
    Failed,
    /// A fail-closed plugin held back more than `--max-inspect-body`.
    TooLarge,
}

/// The body a plugin holds back (it answered Pause), in one direction.
#[derive(Debug, Default, Clone)]
struct Held {
    bytes: Vec<u8>,
    /// A fail-open plugin whose body outgrew the cap: body callbacks skip it.
    bypass: bool,
}

/// One request's contexts in the chain's plugins.
pub struct PluginStream {
    chain: Arc<PluginChain>,
    info: Arc<RequestInfo>,
    /// Per plugin: the instance generation and context id, or `None` once skipped.
    contexts: Vec<Option<(u64, i32)>>,
    properties: BTreeMap<String, Vec<u8>>,
    request_held: Vec<Held>,
    response_held: Vec<Held>,
    status: Option<u16>,
}

impl PluginChain {
    /// Runs every plugin's request-headers callback on `headers`
    /// (pseudo-headers first), stopping at the first local answer.
    pub fn on_request_headers(
        self: &Arc<Self>,
        info: Arc<RequestInfo>,
        headers: &mut HeaderPairs,
        end_of_stream: bool,
    ) -> (PluginStream, Verdict) {
        let mut stream = PluginStream {
            chain: self.clone(),
            info,
            contexts: vec![None; self.plugins.len()],
            properties: BTreeMap::new(),
            request_held: vec![Held::default(); self.plugins.len()],
            response_held: vec![Held::default(); self.plugins.len()],
            status: None,
        };
        let mut modified = false;
        for (i, spec) in self.plugins.iter().enumerate() {
            let state = StreamState {
                request_headers: std::mem::take(headers),
                info: stream.info.clone(),
                properties: std::mem::take(&mut stream.properties),
                ..StreamState::default()
            };
            let mut state = Some(state);
            let result = with_vm(spec, None, |vm| {
                let context = vm.create_context()?;
                let (back, action) = vm.on_headers(context, false, state.take().unwrap_or_default(), end_of_stream);
                state = Some(back);
                action.map(|_| context)
            });
            let state = state.unwrap_or_default();
            *headers = state.request_headers;
            stream.properties = state.properties;
            modified |= state.headers_modified;
            match result {
                Ok((context, generation)) => {
                    stream.contexts[i] = Some((generation, context));
                    if let Some(local) = state.local_response {
                        return (stream, Verdict::Respond(local));
                    }
                }
                Err(e) => {
                    count_failure(spec, &e);
                    if spec.failure == FailurePolicy::Closed {
                        return (stream, Verdict::Failed);
                    }
                }
            }
        }
        (stream, Verdict::Continue { modified })
    }
}

impl PluginStream {
    /// Runs the response-headers callbacks, last plugin first.
    pub fn on_response_headers(&mut self, status: u16, headers: &mut HeaderPairs) -> Verdict {
        self.status = Some(status);
        let mut modified = false;
        for i in (0..self.chain.plugins.len()).rev() {
            let Some((generation, context)) = self.contexts[i] else { continue };
            let spec = self.chain.plugins[i].clone();
            let mut state = Some(StreamState {
                response_headers: std::mem::take(headers),
                info: self.info.clone(),
                response_code: Some(status),
                properties: std::mem::take(&mut self.properties),
                ..StreamState::default()
            });
            let result = with_vm(&spec, Some(generation), |vm| {
                let (back, action) = vm.on_headers(context, true, state.take().unwrap_or_default(), false);
                state = Some(back);
                action
            });
            let state = state.unwrap_or_default();
            *headers = state.response_headers;
            self.properties = state.properties;
            modified |= state.headers_modified;
            match result {
                Ok(_) => {
                    if let Some(local) = state.local_response {
                        return Verdict::Respond(local);
                    }
                }
                Err(e) => {
                    count_failure(&spec, &e);
                    self.contexts[i] = None;
                    if spec.failure == FailurePolicy::Closed {
                        return Verdict::Failed;
                    }
                }
            }
        }
        Verdict::Continue { modified }
    }

    /// Runs a piece of request (or response) body through the body
    /// callbacks, in the order of that direction. A plugin that answers
    /// Pause keeps what it saw and is called again, with everything held so
    /// far, when more arrives; nothing passes it meanwhile. At the end of the
    /// stream every plugin is called and held bytes are released.
    pub fn on_body(&mut self, response: bool, chunk: Vec<u8>, end_of_stream: bool) -> BodyVerdict {
        let count = self.chain.plugins.len();
        let kind = if response { abi::BUFFER_RESPONSE_BODY } else { abi::BUFFER_REQUEST_BODY };
        let mut data = chunk;
        for step in 0..count {
            let i = if response { count - 1 - step } else { step };
            let Some((generation, context)) = self.contexts[i] else { continue };
            let spec = self.chain.plugins[i].clone();
            let held = if response { &mut self.response_held[i] } else { &mut self.request_held[i] };
            if held.bypass {
                continue;
            }
            if data.is_empty() && !end_of_stream {
                // Nothing new reaches this plugin or the ones after it.
                return BodyVerdict::Pass(data);
            }
            // The cap is on what a plugin holds back, not on what streams past it.
            let holding = !held.bytes.is_empty();
            let body = if holding {
                let mut bytes = std::mem::take(&mut held.bytes);
                bytes.extend_from_slice(&data);
                bytes
            } else {
                data
            };
            if holding && body.len() > spec.runtime.opts.max_inspect_body {
                match self.over_cap(response, i, body.len()) {
                    Some(stop) => return stop,
                    None => {
                        data = body;
                        continue;
                    }
                }
            }
            let mut state = Some(StreamState {
                body,
                body_kind: Some(kind),
                info: self.info.clone(),
                response_code: self.status,
                properties: std::mem::take(&mut self.properties),
                ..StreamState::default()
            });
            let result = with_vm(&spec, Some(generation), |vm| {
                let (back, action) = vm.on_body(context, response, state.take().unwrap_or_default(), end_of_stream);
                state = Some(back);
                action
            });
            let state = state.unwrap_or_default();
            self.properties = state.properties;
            match result {
                Ok((action, _)) => {
                    if let Some(local) = state.local_response {
                        return BodyVerdict::Respond(local);
                    }
                    if action == abi::ACTION_PAUSE && !end_of_stream {
                        if state.body.len() > spec.runtime.opts.max_inspect_body {
                            if let Some(stop) = self.over_cap(response, i, state.body.len()) {
                                return stop;
                            }
                            data = state.body;
                            continue;
                        }
                        let held = if response { &mut self.response_held[i] } else { &mut self.request_held[i] };
                        held.bytes = state.body;
                        return BodyVerdict::Pass(Vec::new());
                    }
                    data = state.body;
                }
                Err(e) => {
                    count_failure(&spec, &e);
                    self.contexts[i] = None;
                    if spec.failure == FailurePolicy::Closed {
                        return BodyVerdict::Failed;
                    }
                    data = state.body;
                }
            }
        }
        BodyVerdict::Pass(data)
    }

    /// Plugin `i` wants to hold more than `--max-inspect-body`: a closed
    /// plugin stops the body; an open one is bypassed from now on.
    fn over_cap(&mut self, response: bool, i: usize, bytes: usize) -> Option<BodyVerdict> {
        let spec = &self.chain.plugins[i];
        tracing::warn!(plugin = %spec.plugin.name, bytes, policy = ?spec.failure, "plugin held back more body than --max-inspect-body");
        if spec.failure == FailurePolicy::Closed {
            return Some(BodyVerdict::TooLarge);
        }
        let held = if response { &mut self.response_held[i] } else { &mut self.request_held[i] };
        held.bypass = true;
        None
    }

    /// Ends every live context: done, log, delete. Later calls do nothing.
    pub fn finish(&mut self, status: Option<u16>) {
        let status = status.or(self.status);
        for i in 0..self.chain.plugins.len() {
            let Some((generation, context)) = self.contexts[i].take() else { continue };
            let spec = self.chain.plugins[i].clone();
            let state = StreamState {
                info: self.info.clone(),
                response_code: status,
                properties: self.properties.clone(),
                ..StreamState::default()
            };
            match with_vm(&spec, Some(generation), |vm| vm.finish(context, state)) {
                // The context is already gone with its instance: nothing to end.
                Ok(_) | Err(VmError::Replaced) => {}
                Err(e) => count_failure(&spec, &e),
            }
        }
    }
}

/// Checks that `plugin` accepts `config` by starting a throwaway instance;
/// the error carries what the plugin logged.
pub fn validate(runtime: &PluginRuntime, plugin: &Plugin, config: Arc<[u8]>) -> Result<(), String> {
    PluginVm::new(runtime, plugin, config).map(|_| ()).map_err(|e| e.to_string())
}
