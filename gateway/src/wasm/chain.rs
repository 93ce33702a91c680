//! The plugins of one route, run in order on each request: request
//! callbacks in annotation order, response callbacks in reverse (as Envoy
//! runs filter chains), then done/log/delete for every context.

use std::cell::RefCell;
use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::PluginRuntime;
use http::HeaderMap;

use super::abi;
use super::callout::{HttpCall, HttpCallResponse};
use super::headers::{self, RequestHead};
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
    /// Callback durations by phase, shared by every spec of this plugin.
    pub metrics: Arc<PluginMetrics>,
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
        let metrics = crate::telemetry::metrics::plugin(&plugin.name);
        Self { id: NEXT_SPEC.fetch_add(1, Ordering::Relaxed), plugin, config, failure, runtime, metrics }
    }
}

pub use crate::telemetry::metrics::{Phase, PluginMetrics};

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
    static SWEEPER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How often a worker drops the instances of specs no route uses any more
/// (replaced modules, removed Ingresses) when no new instance does it first.
const SWEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// Drops this worker's instances whose spec is gone.
fn sweep() {
    VMS.with(|cell| cell.borrow_mut().retain(|_, w| w.spec.strong_count() > 0));
}

/// Starts this worker's periodic sweep, once.
fn start_sweeper() {
    if SWEEPER.replace(true) {
        return;
    }
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async {
            let mut every = tokio::time::interval(SWEEP_PERIOD);
            loop {
                every.tick().await;
                sweep();
            }
        });
    }
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
            start_sweeper();
            let vm = PluginVm::new(&spec.runtime, &spec.plugin, spec.config.clone())?;
            let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
            if vm.tick_period().is_some() {
                start_ticker(Arc::downgrade(spec), generation);
            }
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

/// Starts a call now, so that calls dispatched together run together.
fn start_call(
    spec: &PluginSpec,
    call: HttpCall,
    namespace: Option<&str>,
) -> (u32, tokio::task::JoinHandle<HttpCallResponse>) {
    let token = call.token;
    let future = match spec.runtime.callout() {
        Some(out) => out.call(call, namespace),
        None => Box::pin(async { HttpCallResponse::default() }),
    };
    (token, tokio::spawn(future))
}

/// Hands a call's response to the root context of the instance that made
/// it, if that instance is still the same; returns what it dispatched next.
fn answer_root(
    spec: &Arc<PluginSpec>,
    generation: u64,
    token: u32,
    answer: HttpCallResponse,
    namespace: Option<String>,
) {
    let result = with_vm(spec, Some(generation), |vm| {
        let (_, r) = vm.on_http_call_response(token, answer, None);
        r.map(|_| vm.take_calls())
    });
    match result {
        Ok((more, _)) => {
            for call in more {
                deliver_later(spec.clone(), generation, call, namespace.clone());
            }
        }
        Err(VmError::Replaced) => {}
        Err(e) => count_failure(spec, &e),
    }
}

/// Runs a call nobody waits for (fire and forget, or from a timer) and
/// delivers its response when it comes.
fn deliver_later(spec: Arc<PluginSpec>, generation: u64, call: HttpCall, namespace: Option<String>) {
    let (token, handle) = start_call(&spec, call, namespace.as_deref());
    tokio::spawn(async move {
        let answer = handle.await.unwrap_or_default();
        answer_root(&spec, generation, token, answer, namespace);
    });
}

/// Calls `proxy_on_tick` on one worker's instance at the period it asks
/// for, until the instance or its spec is gone. Ticks run on the worker
/// thread that owns the instance, between its requests.
fn start_ticker(spec: Weak<PluginSpec>, generation: u64) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        loop {
            let period = match spec.upgrade().map(|s| with_vm(&s, Some(generation), |vm| Ok(vm.tick_period()))) {
                Some(Ok((Some(period), _))) => period,
                _ => return,
            };
            tokio::time::sleep(period).await;
            let Some(spec) = spec.upgrade() else { return };
            match with_vm(&spec, Some(generation), |vm| {
                vm.on_tick()?;
                Ok(vm.take_calls())
            }) {
                Ok((calls, _)) => {
                    for call in calls {
                        deliver_later(spec.clone(), generation, call, None);
                    }
                }
                Err(VmError::Replaced) => return,
                Err(e) => {
                    count_failure(&spec, &e);
                    return;
                }
            }
        }
    });
}

/// What the chain decided about a request or response.
#[derive(Debug)]
pub enum Verdict {
    /// Go on (with whatever the plugins changed in place).
    Continue,
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

/// One plugin's part of a request: its context and the bodies it holds.
#[derive(Debug, Default, Clone)]
struct Slot {
    /// The instance generation and context id, or `None` once skipped.
    context: Option<(u64, i32)>,
    /// The plugin does nothing with responses: their callbacks skip it.
    request_only: bool,
    request_held: Held,
    response_held: Held,
}

impl Slot {
    fn held(&mut self, response: bool) -> &mut Held {
        if response { &mut self.response_held } else { &mut self.request_held }
    }
}

/// One request's contexts in the chain's plugins.
pub struct PluginStream {
    chain: Arc<PluginChain>,
    info: Arc<RequestInfo>,
    /// Per plugin, in chain order.
    slots: Vec<Slot>,
    /// What the callbacks see, kept in one box for the whole request: the
    /// live head during its phase (moved in once, not once a callback),
    /// then a copy of it, since Envoy lets plugins read request headers
    /// while the response passes, and both in on_log. `None` only while
    /// a callback runs.
    state: Option<Box<StreamState>>,
}

/// What a callback left for its caller, taken out of its state.
struct Outcome {
    local_response: Option<LocalResponse>,
    body: Vec<u8>,
    request_trailers: Option<HeaderMap>,
    response_trailers: Option<HeaderMap>,
    resumed: bool,
}

impl PluginChain {
    /// Starts a request's plugin stream; contexts are created as the
    /// request headers reach each plugin.
    pub fn stream(self: &Arc<Self>, info: Arc<RequestInfo>) -> PluginStream {
        PluginStream {
            chain: self.clone(),
            slots: vec![Slot::default(); self.plugins.len()],
            state: Some(Box::new(StreamState::of(info.clone()))),
            info,
        }
    }
}

/// After one plugin's headers callback: on to the next, or stop.
enum Step {
    Next,
    Stop(Verdict),
}

impl PluginStream {
    /// The stream's state (between callbacks, where it always is).
    fn state(&mut self) -> &mut StreamState {
        self.state.get_or_insert_with(|| Box::new(StreamState::of(self.info.clone())))
    }

    /// Runs every plugin's request-headers callback on `head`, which they
    /// may change in place, stopping at the first local answer.
    pub async fn on_request_headers(
        &mut self,
        head: Box<RequestHead>,
        end_of_stream: bool,
    ) -> (Box<RequestHead>, Verdict) {
        self.state().request = Some(head);
        let verdict = self.request_headers(end_of_stream).await;
        let head = self.take_request().unwrap_or_else(|| unreachable!("callbacks give the head back"));
        (head, verdict)
    }

    async fn request_headers(&mut self, end_of_stream: bool) -> Verdict {
        for i in 0..self.chain.plugins.len() {
            let spec = self.chain.plugins[i].clone();
            match with_vm(&spec, None, |vm| Ok((vm.create_context()?, vm.request_only()))) {
                Ok(((context, request_only), generation)) => {
                    self.slots[i].context = Some((generation, context));
                    self.slots[i].request_only = request_only;
                }
                Err(e) => match self.failed(i, &e) {
                    Step::Next => continue,
                    Step::Stop(v) => return v,
                },
            }
            if let Step::Stop(v) = self.run_headers(i, false, end_of_stream).await {
                return v;
            }
        }
        Verdict::Continue
    }

    /// Lends the live request head to the body callbacks that run before
    /// the request goes upstream, so that their header changes apply.
    pub fn lend_request(&mut self, head: Box<RequestHead>) {
        self.state().request = Some(head);
    }

    /// Takes the live head back; a copy stays for later callbacks.
    pub fn take_request(&mut self) -> Option<Box<RequestHead>> {
        let state = self.state();
        let head = state.request.take()?;
        state.request = Some(Box::new(head.snapshot()));
        Some(head)
    }

    /// Runs the response-headers callbacks on `parts`, last plugin first.
    pub async fn on_response_headers(
        &mut self,
        parts: Box<http::response::Parts>,
        end_of_stream: bool,
    ) -> (Box<http::response::Parts>, Verdict) {
        let state = self.state();
        state.response_code = Some(parts.status.as_u16());
        state.response = Some(parts);
        let mut verdict = Verdict::Continue;
        for i in (0..self.chain.plugins.len()).rev() {
            if let Step::Stop(v) = self.run_headers(i, true, end_of_stream).await {
                verdict = v;
                break;
            }
        }
        let state = self.state();
        let parts = state.response.take().unwrap_or_else(|| unreachable!("callbacks give the head back"));
        // on_log sees the status the client gets.
        state.response_code = Some(parts.status.as_u16());
        state.response = Some(Box::new(headers::response_snapshot(&parts)));
        (parts, verdict)
    }

    /// Whether a plugin with a live context looks at responses.
    pub fn wants_response(&self) -> bool {
        self.slots.iter().any(|s| s.context.is_some() && !s.request_only)
    }

    /// The status the client gets, for on_log, when no plugin sees the
    /// response's headers.
    pub fn response_status(&mut self, status: u16) {
        self.state().response_code = Some(status);
    }

    /// A plugin failed: count it, drop its context, apply its policy.
    fn failed(&mut self, i: usize, e: &VmError) -> Step {
        let spec = &self.chain.plugins[i];
        count_failure(spec, e);
        self.slots[i].context = None;
        match spec.failure {
            FailurePolicy::Closed => Step::Stop(Verdict::Failed),
            FailurePolicy::Open => Step::Next,
        }
    }

    /// Runs one callback on the instance `generation` of `spec`, with the
    /// stream's state (`prepare`d with what this callback needs); returns
    /// what the guest left for the caller, taken out of the state.
    fn callback<T>(
        &mut self,
        spec: &Arc<PluginSpec>,
        generation: u64,
        phase: Phase,
        prepare: impl FnOnce(&mut StreamState),
        f: impl FnOnce(&mut PluginVm, Box<StreamState>) -> (Box<StreamState>, Result<T, VmError>),
    ) -> (Outcome, Result<T, VmError>) {
        let state = self.state();
        state.body_kind = None;
        state.resumed = false;
        prepare(state);
        let mut state = self.state.take();
        let mut span = self.info.trace.as_ref().map(|t| t.plugin_span(&spec.plugin.name, phase.as_str()));
        let started = std::time::Instant::now();
        let result = with_vm(spec, Some(generation), |vm| {
            let (back, r) = f(vm, state.take().unwrap_or_else(|| unreachable!("taken once")));
            state = Some(back);
            r
        });
        spec.metrics.observe(phase, started.elapsed());
        self.state = state;
        let state = self.state();
        if let Some(span) = span.as_mut() {
            let outcome = match &result {
                Err(e) => Err(e.reason()),
                Ok(_) if state.local_response.is_some() => Ok("respond"),
                Ok(_) => Ok("continue"),
            };
            crate::telemetry::trace::end_plugin_span(span, outcome);
        }
        let outcome = Outcome {
            local_response: state.local_response.take(),
            body: std::mem::take(&mut state.body),
            request_trailers: state.request_trailers.take(),
            response_trailers: state.response_trailers.take(),
            resumed: state.resumed,
        };
        (outcome, result.map(|(v, _)| v))
    }

    /// A plugin's call carries the request's trace: exactly one
    /// `traceparent`, replacing any the plugin set.
    fn traced(&self, mut call: HttpCall) -> HttpCall {
        if let Some(trace) = &self.info.trace {
            call.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("traceparent") && !k.eq_ignore_ascii_case("tracestate"));
            call.headers.extend(trace.propagation_headers().into_iter().map(|(k, v)| (k, v.into_bytes())));
        }
        call
    }

    /// The namespace calls without one go to: the Ingress's.
    fn namespace(&self) -> Option<String> {
        self.info.ingress.split_once('/').map(|(ns, _)| ns.to_string())
    }

    /// Runs plugin `i`'s headers callback. A plugin that pauses after
    /// dispatching calls is held until it resumes (or answers) from a
    /// call's response; with nothing pending, a pause does not hold.
    async fn run_headers(&mut self, i: usize, response: bool, end_of_stream: bool) -> Step {
        let Some((generation, context)) = self.slots[i].context else { return Step::Next };
        if response && self.slots[i].request_only {
            return Step::Next;
        }
        let spec = self.chain.plugins[i].clone();
        let phase = if response { Phase::ResponseHeaders } else { Phase::RequestHeaders };
        let (st, result) = self.callback(
            &spec,
            generation,
            phase,
            |_| {},
            |vm, state| {
                let (back, action) = vm.on_headers(context, response, state, end_of_stream);
                (back, action.map(|a| (a, vm.take_calls())))
            },
        );
        let (action, calls) = match result {
            Ok(done) => done,
            Err(e) => return self.failed(i, &e),
        };
        if let Some(local) = st.local_response {
            return Step::Stop(Verdict::Respond(local));
        }
        if calls.is_empty() {
            return Step::Next;
        }
        let namespace = self.namespace();
        if action != abi::ACTION_PAUSE {
            for call in calls {
                deliver_later(spec.clone(), generation, self.traced(call), namespace.clone());
            }
            return Step::Next;
        }
        let mut pending: std::collections::VecDeque<_> =
            calls.into_iter().map(|c| start_call(&spec, self.traced(c), namespace.as_deref())).collect();
        while let Some((token, call)) = pending.pop_front() {
            let answer = call.await.unwrap_or_default();
            let (st, result) = self.callback(
                &spec,
                generation,
                Phase::HttpCallResponse,
                |_| {},
                |vm, state| {
                    let (back, r) = vm.on_http_call_response(token, answer, Some(state));
                    (back.unwrap_or_default(), r.map(|_| vm.take_calls()))
                },
            );
            match result {
                Ok(more) => {
                    pending.extend(more.into_iter().map(|c| start_call(&spec, self.traced(c), namespace.as_deref())))
                }
                Err(e) => return self.failed(i, &e),
            }
            if let Some(local) = st.local_response {
                return Step::Stop(Verdict::Respond(local));
            }
            if st.resumed {
                break;
            }
        }
        // Calls still running after the resume answer the root context.
        for (token, call) in pending {
            let spec = spec.clone();
            tokio::spawn(async move {
                let answer = call.await.unwrap_or_default();
                answer_root(&spec, generation, token, answer, None);
            });
        }
        Step::Next
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
            let Some((generation, context)) = self.slots[i].context else { continue };
            if response && self.slots[i].request_only {
                continue;
            }
            let spec = self.chain.plugins[i].clone();
            let held = self.slots[i].held(response);
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
            let prepare = |state: &mut StreamState| (state.body, state.body_kind) = (body, Some(kind));
            let phase = if response { Phase::ResponseBody } else { Phase::RequestBody };
            let (state, result) = self.callback(&spec, generation, phase, prepare, |vm, state| {
                vm.on_body(context, response, state, end_of_stream)
            });
            match result {
                Ok(action) => {
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
                        self.slots[i].held(response).bytes = state.body;
                        return BodyVerdict::Pass(Vec::new());
                    }
                    data = state.body;
                }
                Err(e) => {
                    count_failure(&spec, &e);
                    self.slots[i].context = None;
                    if spec.failure == FailurePolicy::Closed {
                        return BodyVerdict::Failed;
                    }
                    data = state.body;
                }
            }
        }
        BodyVerdict::Pass(data)
    }

    /// Runs the trailers callbacks (request order, or reverse for the
    /// response) on `trailers`. Held body bytes were released before.
    pub fn on_trailers(&mut self, response: bool, trailers: HeaderMap) -> (HeaderMap, Verdict) {
        let count = self.chain.plugins.len();
        let mut trailers = Some(trailers);
        for step in 0..count {
            let i = if response { count - 1 - step } else { step };
            let Some((generation, context)) = self.slots[i].context else { continue };
            if response && self.slots[i].request_only {
                continue;
            }
            let spec = self.chain.plugins[i].clone();
            let given = trailers.take();
            let prepare = |state: &mut StreamState| {
                *(if response { &mut state.response_trailers } else { &mut state.request_trailers }) = given;
            };
            let phase = if response { Phase::ResponseTrailers } else { Phase::RequestTrailers };
            let (mut st, result) =
                self.callback(&spec, generation, phase, prepare, |vm, state| vm.on_trailers(context, response, state));
            trailers = if response { st.response_trailers.take() } else { st.request_trailers.take() };
            if let Err(e) = result
                && let Step::Stop(v) = self.failed(i, &e)
            {
                return (trailers.unwrap_or_default(), v);
            }
            if let Some(local) = st.local_response {
                return (trailers.unwrap_or_default(), Verdict::Respond(local));
            }
        }
        (trailers.unwrap_or_default(), Verdict::Continue)
    }

    /// Plugin `i` wants to hold more than `--max-inspect-body`: a closed
    /// plugin stops the body; an open one is bypassed from now on.
    fn over_cap(&mut self, response: bool, i: usize, bytes: usize) -> Option<BodyVerdict> {
        let spec = &self.chain.plugins[i];
        tracing::warn!(plugin = %spec.plugin.name, bytes, policy = ?spec.failure, "plugin held back more body than --max-inspect-body");
        if spec.failure == FailurePolicy::Closed {
            return Some(BodyVerdict::TooLarge);
        }
        self.slots[i].held(response).bypass = true;
        None
    }

    /// Ends every live context: done, log, delete. Later calls do nothing.
    pub fn finish(&mut self, status: Option<u16>) {
        if let Some(status) = status {
            self.state().response_code = Some(status);
        }
        for i in 0..self.chain.plugins.len() {
            let Some((generation, context)) = self.slots[i].context.take() else { continue };
            let spec = self.chain.plugins[i].clone();
            let (_, result) =
                self.callback(&spec, generation, Phase::Log, |_| {}, |vm, state| vm.finish(context, state));
            match result {
                // The context is already gone with its instance: nothing to end.
                Ok(_) | Err(VmError::Replaced) => {}
                Err(e) => count_failure(&spec, &e),
            }
        }
    }
}

impl Drop for PluginStream {
    /// A request dropped half-way (the client went away) still ends its
    /// contexts, so that instances do not accumulate dead ones.
    fn drop(&mut self) {
        // Not while unwinding: the instance map may be the thing borrowed.
        if !std::thread::panicking() {
            self.finish(None);
        }
    }
}

/// Checks that `plugin` accepts `config` by starting a throwaway instance;
/// the error carries what the plugin logged.
pub fn validate(runtime: &PluginRuntime, plugin: &Plugin, config: Arc<[u8]>) -> Result<(), String> {
    PluginVm::new(runtime, plugin, config).map(|_| ()).map_err(|e| e.to_string())
}
