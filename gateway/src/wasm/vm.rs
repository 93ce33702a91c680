//! One plugin instance: a wasmtime store with the module instantiated and
//! its root context configured, serving many HTTP contexts in turn. Every
//! callback runs under an epoch deadline; a trap, a deadline or memory
//! exhaustion poisons the instance, which is then dropped.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Instance, Store, Trap, TypedFunc, UpdateDeadline};

use super::PluginRuntime;
use http::HeaderMap;

use super::callout::{HttpCall, HttpCallResponse};
use super::headers::MapMut;
use super::host::{HostState, StreamState};
use super::registry::Plugin;

/// Why a callback failed; the instance is unusable afterwards.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VmError {
    #[error("exceeded its callback deadline")]
    Deadline,
    #[error("exhausted its memory limit")]
    Memory,
    #[error("trapped: {0}")]
    Trap(String),
    #[error("{0}")]
    Setup(String),
    /// The instance holding a request's context was discarded (another
    /// request made it fail) and the context went with it.
    #[error("the instance holding this request was replaced")]
    Replaced,
}

impl VmError {
    /// The `reason` label of the failure metric.
    pub fn reason(&self) -> &'static str {
        match self {
            VmError::Deadline => "deadline",
            VmError::Memory => "memory",
            VmError::Trap(_) => "trap",
            VmError::Setup(_) => "setup",
            VmError::Replaced => "replaced",
        }
    }
}

/// `proxy_on_http_call_response(root, token, headers, body size, trailers)`.
type CallResponseFn = TypedFunc<(i32, i32, i32, i32, i32), ()>;

struct Exports {
    context_create: TypedFunc<(i32, i32), ()>,
    request_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    response_headers: Option<TypedFunc<(i32, i32, i32), i32>>,
    request_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    response_body: Option<TypedFunc<(i32, i32, i32), i32>>,
    request_trailers: Option<TypedFunc<(i32, i32), i32>>,
    response_trailers: Option<TypedFunc<(i32, i32), i32>>,
    tick: Option<TypedFunc<i32, ()>>,
    http_call_response: Option<CallResponseFn>,
    done: Option<TypedFunc<i32, i32>>,
    log: Option<TypedFunc<i32, ()>>,
    delete: Option<TypedFunc<i32, ()>>,
}

/// The root context id of every instance: one plugin per instance.
const ROOT_ID: i32 = 1;

/// Live instances by plugin name, for `wasmgress_plugin_instances`.
static INSTANCES: std::sync::Mutex<std::collections::BTreeMap<Arc<str>, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Live instances of each plugin that has any.
pub fn instance_counts() -> Vec<(Arc<str>, usize)> {
    let counts = INSTANCES.lock().unwrap_or_else(|e| e.into_inner());
    counts.iter().filter(|(_, n)| **n > 0).map(|(p, n)| (p.clone(), *n)).collect()
}

/// Counts one instance for as long as it lives.
struct Counted(Arc<str>);

impl Counted {
    fn new(plugin: Arc<str>) -> Self {
        *INSTANCES.lock().unwrap_or_else(|e| e.into_inner()).entry(plugin.clone()).or_default() += 1;
        Self(plugin)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(n) = INSTANCES.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&self.0) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

pub struct PluginVm {
    _counted: Counted,
    store: Store<HostState>,
    exports: Exports,
    next_context: i32,
    deadline_ticks: u64,
}

fn classify(store: &Store<HostState>, e: wasmtime::Error) -> VmError {
    if store.data().memory_exhausted {
        return VmError::Memory;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => VmError::Deadline,
        _ => VmError::Trap(format!("{e:#}")),
    }
}

impl PluginVm {
    /// Instantiates `plugin` and runs its start-up: `_initialize` (or
    /// `_start`), root context creation, `proxy_on_vm_start` and
    /// `proxy_on_configure`. A configuration the plugin refuses is an error
    /// carrying the lines it logged.
    pub fn new(runtime: &PluginRuntime, plugin: &Plugin, config: Arc<[u8]>) -> Result<Self, VmError> {
        let state = HostState::new(plugin.name.clone(), config.clone(), runtime.opts.memory_limit);
        let mut store = Store::new(runtime.engine(), state);
        store.limiter(|s| s);
        // Start-up gets its own, longer deadline; callbacks after it the
        // per-callback one.
        let deadline_ticks = runtime.startup_ticks();
        store.data_mut().cpu_limit = runtime.opts.startup_deadline.max(runtime.opts.callback_deadline);
        store.set_epoch_deadline(deadline_ticks);
        // The epoch is wall-clock, and a loaded machine may not run a worker
        // for a while. So passing the deadline only starts the thread's CPU
        // clock: the callback is stopped once it has used the deadline's
        // worth of CPU after that (between one and two deadlines of CPU in
        // all). A loop is stopped; a callback the OS kept waiting is not.
        // Reading the CPU clock is a system call: only overruns pay for it.
        store.epoch_deadline_callback(|mut ctx| {
            let now = thread_cpu();
            let state = ctx.data_mut();
            match state.cpu_mark {
                None => {
                    state.cpu_mark = Some(now);
                    Ok(UpdateDeadline::Continue(super::ticks(state.cpu_limit)))
                }
                Some(mark) if now.saturating_sub(mark) >= state.cpu_limit => Err(Trap::Interrupt.into()),
                Some(mark) => Ok(UpdateDeadline::Continue(super::ticks(state.cpu_limit - now.saturating_sub(mark)))),
            }
        });
        let instance: Instance = plugin.pre.instantiate(&mut store).map_err(|e| classify(&store, e))?;
        let memory = instance.get_memory(&mut store, "memory");
        let allocate = ["proxy_on_memory_allocate", "malloc"]
            .iter()
            .find_map(|name| instance.get_typed_func::<i32, i32>(&mut store, name).ok());
        let state = store.data_mut();
        (state.memory, state.allocate) = (memory, allocate);
        let func = |store: &mut Store<HostState>, name: &str| instance.get_func(&mut *store, name);
        for start in ["_initialize", "_start"] {
            if let Some(f) = func(&mut store, start) {
                let f = f.typed::<(), ()>(&store).map_err(|e| VmError::Setup(format!("{start}: {e}")))?;
                f.call(&mut store, ()).map_err(|e| classify(&store, e))?;
                break;
            }
        }
        macro_rules! typed {
            ($name:literal) => {
                match func(&mut store, $name) {
                    Some(f) => Some(f.typed(&store).map_err(|e| VmError::Setup(format!("{}: {e}", $name)))?),
                    None => None,
                }
            };
        }
        let context_create = typed!("proxy_on_context_create")
            .ok_or_else(|| VmError::Setup("the module exports no proxy_on_context_create".into()))?;
        let vm_start: Option<TypedFunc<(i32, i32), i32>> = typed!("proxy_on_vm_start");
        let configure: Option<TypedFunc<(i32, i32), i32>> = typed!("proxy_on_configure");
        let exports = Exports {
            context_create,
            request_headers: typed!("proxy_on_request_headers"),
            response_headers: typed!("proxy_on_response_headers"),
            request_body: typed!("proxy_on_request_body"),
            response_body: typed!("proxy_on_response_body"),
            request_trailers: typed!("proxy_on_request_trailers"),
            response_trailers: typed!("proxy_on_response_trailers"),
            tick: typed!("proxy_on_tick"),
            http_call_response: typed!("proxy_on_http_call_response"),
            done: typed!("proxy_on_done"),
            log: typed!("proxy_on_log"),
            delete: typed!("proxy_on_delete"),
        };
        let mut vm = PluginVm {
            _counted: Counted::new(plugin.name.clone()),
            store,
            exports,
            next_context: ROOT_ID + 1,
            deadline_ticks,
        };
        vm.store.data_mut().captured_logs = Some(Vec::new());
        vm.call(|s, e| e.context_create.call(s, (ROOT_ID, 0)))?;
        if let Some(f) = vm_start
            && vm.call(|s, _| f.call(s, (ROOT_ID, 0)))? == 0
        {
            return Err(VmError::Setup(vm.rejection("proxy_on_vm_start returned false")));
        }
        if let Some(f) = configure
            && vm.call(|s, _| f.call(s, (ROOT_ID, config.len() as i32)))? == 0
        {
            return Err(VmError::Setup(vm.rejection("the plugin rejected its configuration")));
        }
        vm.store.data_mut().captured_logs = None;
        vm.deadline_ticks = runtime.deadline_ticks();
        vm.store.data_mut().cpu_limit = runtime.opts.callback_deadline;
        Ok(vm)
    }

    fn rejection(&mut self, what: &str) -> String {
        let logs = self.store.data_mut().captured_logs.take().unwrap_or_default();
        if logs.is_empty() { what.to_string() } else { format!("{what}: {}", logs.join("; ")) }
    }

    /// Runs one guest call under a fresh deadline.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &Exports) -> wasmtime::Result<T>,
    ) -> Result<T, VmError> {
        self.store.data_mut().cpu_mark = None;
        self.store.set_epoch_deadline(self.deadline_ticks);
        match f(&mut self.store, &self.exports) {
            Ok(v) => Ok(v),
            Err(e) => Err(classify(&self.store, e)),
        }
    }

    /// Runs `f` with `stream` in the store, for the host calls it makes;
    /// returns the stream as the guest left it.
    fn with_stream<T>(
        &mut self,
        stream: Box<StreamState>,
        f: impl FnOnce(&mut Self) -> Result<T, VmError>,
    ) -> (Box<StreamState>, Result<T, VmError>) {
        self.store.data_mut().stream = Some(stream);
        let result = f(self);
        (self.store.data_mut().stream.take().unwrap_or_default(), result)
    }

    /// Creates an HTTP context for a new request; returns its id.
    pub fn create_context(&mut self) -> Result<i32, VmError> {
        let id = self.next_context;
        self.next_context = self.next_context.checked_add(1).unwrap_or(ROOT_ID + 1);
        self.call(|s, e| e.context_create.call(s, (id, ROOT_ID)))?;
        Ok(id)
    }

    /// Runs `proxy_on_request_headers` (or the response one) with `stream`
    /// in the store; returns the stream, as the callback left it, and the action.
    pub fn on_headers(
        &mut self,
        context: i32,
        response: bool,
        mut stream: Box<StreamState>,
        end_of_stream: bool,
    ) -> (Box<StreamState>, Result<i32, VmError>) {
        let count = if response {
            stream.response.as_deref_mut().map(|r| MapMut::Response(r).count())
        } else {
            stream.request.as_deref_mut().map(|r| MapMut::Request(r).count())
        };
        let count = count.unwrap_or(0) as i32;
        self.with_stream(stream, |vm| {
            vm.call(|s, e| {
                let f = if response { e.response_headers.as_ref() } else { e.request_headers.as_ref() };
                match f {
                    Some(f) => f.call(s, (context, count, i32::from(end_of_stream))),
                    None => Ok(super::abi::ACTION_CONTINUE),
                }
            })
        })
    }

    /// Runs `proxy_on_request_body` (or the response one) over
    /// `stream.body`, the bytes buffered so far; returns the stream, with the
    /// body as the callback left it, and the action.
    pub fn on_body(
        &mut self,
        context: i32,
        response: bool,
        stream: Box<StreamState>,
        end_of_stream: bool,
    ) -> (Box<StreamState>, Result<i32, VmError>) {
        let size = stream.body.len() as i32;
        self.with_stream(stream, |vm| {
            vm.call(|s, e| {
                let f = if response { e.response_body.as_ref() } else { e.request_body.as_ref() };
                match f {
                    Some(f) => f.call(s, (context, size, i32::from(end_of_stream))),
                    None => Ok(super::abi::ACTION_CONTINUE),
                }
            })
        })
    }

    /// Runs `proxy_on_request_trailers` (or the response one) with the
    /// trailers in `stream`; returns the stream and the action.
    pub fn on_trailers(
        &mut self,
        context: i32,
        response: bool,
        stream: Box<StreamState>,
    ) -> (Box<StreamState>, Result<i32, VmError>) {
        let trailers = if response { &stream.response_trailers } else { &stream.request_trailers };
        let count = trailers.as_ref().map_or(0, HeaderMap::len) as i32;
        self.with_stream(stream, |vm| {
            vm.call(|s, e| {
                let f = if response { e.response_trailers.as_ref() } else { e.request_trailers.as_ref() };
                match f {
                    Some(f) => f.call(s, (context, count)),
                    None => Ok(super::abi::ACTION_CONTINUE),
                }
            })
        })
    }

    /// Takes the calls the last callbacks dispatched.
    pub fn take_calls(&mut self) -> Vec<HttpCall> {
        std::mem::take(&mut self.store.data_mut().calls)
    }

    /// Whether the plugin said it does nothing with responses.
    pub fn request_only(&self) -> bool {
        self.store.data().request_only
    }

    /// How often the plugin asked for `proxy_on_tick`.
    pub fn tick_period(&self) -> Option<Duration> {
        self.store.data().tick_period
    }

    /// Runs `proxy_on_tick` on the root context.
    pub fn on_tick(&mut self) -> Result<(), VmError> {
        self.call(|s, e| e.tick.as_ref().map(|f| f.call(s, ROOT_ID)).transpose()).map(|_| ())
    }

    /// Delivers a call's response (`proxy_on_http_call_response`, on the
    /// root context as Envoy does), with the stream that made the call in
    /// the store when it is still waiting; returns that stream back.
    pub fn on_http_call_response(
        &mut self,
        token: u32,
        response: HttpCallResponse,
        stream: Option<Box<StreamState>>,
    ) -> (Option<Box<StreamState>>, Result<(), VmError>) {
        let args = (ROOT_ID, token as i32, response.headers.len() as i32, response.body.len() as i32, 0);
        let state = self.store.data_mut();
        state.stream = stream;
        state.call_response = Some(response);
        let result = self.call(|s, e| e.http_call_response.as_ref().map(|f| f.call(s, args)).transpose());
        let state = self.store.data_mut();
        state.call_response = None;
        (state.stream.take(), result.map(|_| ()))
    }

    /// Ends a context: `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`
    /// (Go SDKs run their stream-done hook from on_log, so it always runs).
    pub fn finish(&mut self, context: i32, stream: Box<StreamState>) -> (Box<StreamState>, Result<(), VmError>) {
        self.with_stream(stream, |vm| {
            vm.call(|s, e| e.done.as_ref().map(|f| f.call(s, context)).transpose())?;
            vm.call(|s, e| e.log.as_ref().map(|f| f.call(s, context)).transpose())?;
            vm.call(|s, e| e.delete.as_ref().map(|f| f.call(s, context)).transpose())?;
            Ok(())
        })
    }
}
