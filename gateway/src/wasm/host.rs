//! The host side of the Proxy-Wasm ABI: the `env` functions a plugin
//! imports, over the state of the stream whose callback is running.
//! A bad guest pointer is a status (InvalidMemoryAccess), never a host
//! crash; a missing header is Ok with no value, as the SDKs expect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::{Caller, Extern, Linker, ResourceLimiter};

use super::abi::{self, HeaderPairs, Status};
use super::callout::{HttpCall, HttpCallResponse, ServiceTarget};
use super::headers::{MapMut, RequestHead};
use super::metrics::{self, MetricKind, PluginMetric};
use super::shared;

/// A response a plugin asked to send instead of going upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: HeaderPairs,
    pub body: Vec<u8>,
}

/// What a plugin may read about the request through properties.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The client's `x-request-id`, if it sent one.
    pub id: Option<String>,
    /// Made on first use when the client sent none.
    pub generated_id: std::sync::OnceLock<String>,
    pub method: http::Method,
    pub path: http::Uri,
    pub host: String,
    pub scheme: &'static str,
    pub protocol: &'static str,
    pub source: Option<std::net::SocketAddr>,
    pub destination: Option<std::net::SocketAddr>,
    /// `namespace/name` of the Ingress whose route the request took.
    pub ingress: String,
    /// The request's server span, when tracing is on: plugin callbacks
    /// are its children; `wasmgress.trace_id` reads its trace id.
    pub trace: Option<crate::telemetry::trace::TraceParent>,
}

impl RequestInfo {
    /// `request.id`: the client's, or one made for this request.
    pub fn id(&self) -> &str {
        match &self.id {
            Some(id) => id,
            None => self.generated_id.get_or_init(new_request_id),
        }
    }
}

/// A fresh request id, 32 hex digits: unique within the process,
/// unpredictable across restarts.
fn new_request_id() -> String {
    use std::hash::BuildHasher;
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::LazyLock<foldhash::quality::RandomState> = std::sync::LazyLock::new(Default::default);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{n:016x}", SEED.hash_one(n))
}

/// The stream a callback is running for: the message heads and trailers it
/// may change, moved into the store for the callback and back out after it.
#[derive(Debug, Default)]
pub struct StreamState {
    /// Boxed: they stay in the state for the request, and a state is moved.
    pub request: Option<Box<RequestHead>>,
    pub response: Option<Box<http::response::Parts>>,
    pub request_trailers: Option<http::HeaderMap>,
    pub response_trailers: Option<http::HeaderMap>,
    pub local_response: Option<LocalResponse>,
    pub info: Arc<RequestInfo>,
    pub response_code: Option<u16>,
    pub properties: BTreeMap<String, Vec<u8>>,
    /// The body bytes a body callback sees (all buffered so far), and which
    /// buffer they are: request or response.
    pub body: Vec<u8>,
    pub body_kind: Option<i32>,
    /// The plugin resumed the stream it had paused (`proxy_continue_stream`).
    pub resumed: bool,
}

impl StreamState {
    /// An empty state for the request `info`. Unlike `default()`, which
    /// builds a `RequestInfo` of its own, it allocates nothing.
    pub fn of(info: Arc<RequestInfo>) -> Self {
        Self {
            request: None,
            response: None,
            request_trailers: None,
            response_trailers: None,
            local_response: None,
            info,
            response_code: None,
            properties: BTreeMap::new(),
            body: Vec::new(),
            body_kind: None,
            resumed: false,
        }
    }
}

/// Everything host functions can reach for one plugin instance.
pub struct HostState {
    pub plugin_name: Arc<str>,
    pub plugin_config: Arc<[u8]>,
    pub stream: Option<Box<StreamState>>,
    /// Log lines kept while configuring, to explain a rejection.
    pub captured_logs: Option<Vec<String>>,
    /// The metric cells this instance defined; the guest's ids index it.
    pub metrics: Vec<Arc<PluginMetric>>,
    pub memory_limit: usize,
    /// Set when the instance asked for more memory than its cap.
    pub memory_exhausted: bool,
    /// Calls dispatched by the running callback, sent once it returns.
    pub calls: Vec<HttpCall>,
    next_token: u32,
    /// The response `proxy_on_http_call_response` is reading.
    pub call_response: Option<HttpCallResponse>,
    /// How often `proxy_on_tick` is wanted.
    pub tick_period: Option<Duration>,
    /// The guest's memory and allocator, looked up once: a lookup by name
    /// on every host call costs more than the call itself.
    pub memory: Option<wasmtime::Memory>,
    pub allocate: Option<wasmtime::TypedFunc<i32, i32>>,
    /// The running callback's deadline, and the thread's CPU clock when
    /// the wall clock passed it (see `vm::PluginVm::new`).
    pub cpu_limit: Duration,
    pub cpu_mark: Option<Duration>,
    /// The plugin said it does nothing with responses.
    pub request_only: bool,
}

impl HostState {
    pub fn new(plugin_name: Arc<str>, plugin_config: Arc<[u8]>, memory_limit: usize) -> Self {
        Self {
            plugin_name,
            plugin_config,
            stream: None,
            captured_logs: None,
            metrics: Vec::new(),
            memory_limit,
            memory_exhausted: false,
            calls: Vec::new(),
            next_token: 1,
            call_response: None,
            tick_period: None,
            memory: None,
            allocate: None,
            cpu_limit: Duration::ZERO,
            cpu_mark: None,
            request_only: false,
        }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exhausted = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

fn memory(caller: &mut Caller<'_, HostState>) -> Option<wasmtime::Memory> {
    if let Some(m) = caller.data().memory {
        return Some(m);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub fn read_guest(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<Vec<u8>, Status> {
    let mem = memory(caller).ok_or(Status::InvalidMemoryAccess)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let data = mem.data(&caller);
    let end = ptr.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    data.get(ptr..end).map(<[u8]>::to_vec).ok_or(Status::InvalidMemoryAccess)
}

/// Copies bytes into guest memory at `ptr`.
pub fn write_guest(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Result<(), Status> {
    let mem = memory(caller).ok_or(Status::InvalidMemoryAccess)?;
    mem.write(caller, ptr as u32 as usize, bytes).map_err(|_| Status::InvalidMemoryAccess)
}

/// Hands `data` to the guest: memory it allocates with its own allocator,
/// pointer and size written where it asked. Empty data is a null pointer.
fn return_bytes(caller: &mut Caller<'_, HostState>, data: &[u8], ret_ptr: i32, ret_size: i32) -> wasmtime::Result<i32> {
    let guest_ptr = if data.is_empty() {
        0
    } else {
        let alloc = match caller.data().allocate.clone() {
            Some(f) => f,
            None => caller
                .get_export("proxy_on_memory_allocate")
                .or_else(|| caller.get_export("malloc"))
                .and_then(Extern::into_func)
                .ok_or_else(|| wasmtime::Error::msg("plugin exports no proxy_on_memory_allocate"))?
                .typed::<i32, i32>(&caller)?,
        };
        let p = alloc.call(&mut *caller, data.len() as i32)?;
        if p == 0 {
            return Ok(Status::InternalFailure as i32);
        }
        if let Err(s) = write_guest(caller, p, data) {
            return Ok(s as i32);
        }
        p
    };
    if let Err(s) = write_guest(caller, ret_ptr, &guest_ptr.to_le_bytes()) {
        return Ok(s as i32);
    }
    if let Err(s) = write_guest(caller, ret_size, &(data.len() as u32).to_le_bytes()) {
        return Ok(s as i32);
    }
    Ok(Status::Ok as i32)
}

/// The `max` bytes from `start` a guest asked for, clamped to `data`.
fn window(data: &[u8], start: i32, max: i32) -> &[u8] {
    let start = (start as u32 as usize).min(data.len());
    let end = start.saturating_add(max as u32 as usize).min(data.len());
    &data[start..end]
}

/// Replaces `size` bytes at `start` with `data`, as Envoy reads
/// `set_buffer_bytes`: (0, 0) prepends, (0, len) replaces, (len, _) appends.
fn splice(body: &mut Vec<u8>, start: usize, size: usize, data: &[u8]) {
    let start = start.min(body.len());
    let end = start.saturating_add(size).min(body.len());
    body.splice(start..end, data.iter().copied());
}

/// The header map a host call names, if the running callback has it.
fn header_map(state: &mut HostState, map: i32) -> Option<MapMut<'_>> {
    if map == abi::MAP_HTTP_CALL_RESPONSE_HEADERS {
        return state.call_response.as_mut().map(|r| MapMut::Pairs(&mut r.headers));
    }
    let stream = state.stream.as_mut()?;
    match map {
        abi::MAP_REQUEST_HEADERS => stream.request.as_deref_mut().map(MapMut::Request),
        abi::MAP_RESPONSE_HEADERS => stream.response.as_deref_mut().map(MapMut::Response),
        abi::MAP_REQUEST_TRAILERS => stream.request_trailers.as_mut().map(MapMut::Trailers),
        abi::MAP_RESPONSE_TRAILERS => stream.response_trailers.as_mut().map(MapMut::Trailers),
        _ => None,
    }
}

/// Reads a header name argument: lower-cased, as HTTP/2 and our maps have it.
fn read_key(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Result<String, Status> {
    Ok(String::from_utf8_lossy(&read_guest(caller, ptr, len)?).to_ascii_lowercase())
}

fn property(state: &HostState, path: &[u8]) -> Option<Vec<u8>> {
    let path: Vec<&[u8]> = path.split(|b| *b == 0).filter(|s| !s.is_empty()).collect();
    let stream = state.stream.as_ref();
    let info = stream.map(|s| s.info.clone()).unwrap_or_default();
    let text = |s: &str| Some(s.as_bytes().to_vec());
    let joined = path.iter().map(|s| String::from_utf8_lossy(s)).collect::<Vec<_>>().join(".");
    if let Some(v) = stream.and_then(|s| s.properties.get(&joined)) {
        return Some(v.clone());
    }
    // `request.headers.NAME` (and `response.headers.NAME`) navigate into the
    // header maps, as Envoy's attribute paths do.
    if let [kind @ (b"request" | b"response"), b"headers", name] = path.as_slice() {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let headers = match *kind {
            b"request" => stream.and_then(|s| s.request.as_ref()).map(|r| &r.parts.headers),
            _ => stream.and_then(|s| s.response.as_ref()).map(|r| &r.headers),
        };
        return headers.and_then(|h| h.get(name.as_str())).map(|v| v.as_bytes().to_vec());
    }
    match joined.as_str() {
        "plugin_name" | "plugin_root_id" => text(&state.plugin_name),
        "request.path" => text(info.path.path_and_query().map_or("/", |p| p.as_str())),
        "request.url_path" => text(info.path.path()),
        "request.query" => text(info.path.query().unwrap_or("")),
        "request.host" => text(&info.host),
        "request.method" => text(info.method.as_str()),
        "request.scheme" => text(info.scheme),
        "request.protocol" => text(info.protocol),
        "request.id" => text(info.id()),
        "source.address" => info.source.map(|a| a.to_string().into_bytes()),
        "source.port" => info.source.map(|a| i64::from(a.port()).to_le_bytes().to_vec()),
        "destination.address" => info.destination.map(|a| a.to_string().into_bytes()),
        "destination.port" => info.destination.map(|a| i64::from(a.port()).to_le_bytes().to_vec()),
        "response.code" => stream.and_then(|s| s.response_code).map(|c| i64::from(c).to_le_bytes().to_vec()),
        "wasmgress.ingress" | "ingress" => text(&info.ingress),
        "wasmgress.trace_id" => info.trace.as_ref().map(|t| t.trace_id().into_bytes()),
        _ => None,
    }
}

fn log_level_now() -> i32 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::TRACE => 0,
        LevelFilter::DEBUG => 1,
        LevelFilter::INFO => 2,
        LevelFilter::WARN => 3,
        LevelFilter::ERROR => 4,
        _ => 5,
    }
}

/// A bound on the calls one callback may dispatch.
const MAX_CALLS_PER_CALLBACK: usize = 64;

/// Adds every `env` function implemented here.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    const ENV: &str = "env";
    let ok = Status::Ok as i32;
    linker.func_wrap(ENV, "proxy_log", move |mut c: Caller<'_, HostState>, level: i32, ptr: i32, len: i32| {
        let msg = match read_guest(&mut c, ptr, len) {
            Ok(m) => String::from_utf8_lossy(&m).into_owned(),
            Err(s) => return s as i32,
        };
        let plugin = c.data().plugin_name.clone();
        if let Some(lines) = c.data_mut().captured_logs.as_mut() {
            lines.push(msg.clone());
        }
        match level {
            l if l <= abi::LOG_TRACE => tracing::trace!(target: "wasmgress::plugin", plugin = %plugin, "{msg}"),
            1 => tracing::debug!(target: "wasmgress::plugin", plugin = %plugin, "{msg}"),
            2 => tracing::info!(target: "wasmgress::plugin", plugin = %plugin, "{msg}"),
            3 => tracing::warn!(target: "wasmgress::plugin", plugin = %plugin, "{msg}"),
            _ => tracing::error!(target: "wasmgress::plugin", plugin = %plugin, "{msg}"),
        }
        ok
    })?;
    linker.func_wrap(ENV, "proxy_get_log_level", move |mut c: Caller<'_, HostState>, ret: i32| {
        match write_guest(&mut c, ret, &log_level_now().to_le_bytes()) {
            Ok(()) => ok,
            Err(s) => s as i32,
        }
    })?;
    linker.func_wrap(ENV, "proxy_get_current_time_nanoseconds", move |mut c: Caller<'_, HostState>, ret: i32| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        match write_guest(&mut c, ret, &now.to_le_bytes()) {
            Ok(()) => ok,
            Err(s) => s as i32,
        }
    })?;
    linker.func_wrap(ENV, "proxy_set_tick_period_milliseconds", move |mut c: Caller<'_, HostState>, period: i32| {
        c.data_mut().tick_period = (period > 0).then(|| Duration::from_millis(period as u32 as u64));
        ok
    })?;
    linker.func_wrap(
        ENV,
        "proxy_get_buffer_bytes",
        move |mut c: Caller<'_, HostState>, kind: i32, start: i32, max: i32, ret_ptr: i32, ret_size: i32| {
            let data: Arc<[u8]> = match kind {
                abi::BUFFER_PLUGIN_CONFIGURATION => c.data().plugin_config.clone(),
                abi::BUFFER_VM_CONFIGURATION => Arc::from(&[][..]),
                abi::BUFFER_HTTP_CALL_RESPONSE_BODY => match &c.data().call_response {
                    Some(r) => Arc::from(&r.body[..]),
                    None => return Ok(Status::NotFound as i32),
                },
                _ => match c.data_mut().stream.as_mut() {
                    // Taken out of the store while the guest allocates, then put back.
                    Some(s) if s.body_kind == Some(kind) => {
                        let body = std::mem::take(&mut s.body);
                        let result = return_bytes(&mut c, window(&body, start, max), ret_ptr, ret_size);
                        if let Some(s) = c.data_mut().stream.as_mut() {
                            s.body = body;
                        }
                        return result;
                    }
                    _ => return Ok(Status::NotFound as i32),
                },
            };
            return_bytes(&mut c, window(&data, start, max), ret_ptr, ret_size)
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_buffer_bytes",
        move |mut c: Caller<'_, HostState>, kind: i32, start: i32, size: i32, dp: i32, ds: i32| {
            let data = match read_guest(&mut c, dp, ds) {
                Ok(d) => d,
                Err(s) => return s as i32,
            };
            match c.data_mut().stream.as_mut() {
                Some(s) if s.body_kind == Some(kind) => {
                    splice(&mut s.body, start as u32 as usize, size as u32 as usize, &data);
                    ok
                }
                _ => Status::NotFound as i32,
            }
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_pairs",
        move |mut c: Caller<'_, HostState>, map: i32, ret_ptr: i32, ret_size: i32| {
            let encoded =
                header_map(c.data_mut(), map).map_or_else(|| abi::encode_map(&abi::HeaderPairs::new()), |m| m.encode());
            return_bytes(&mut c, &encoded, ret_ptr, ret_size)
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_header_map_pairs",
        move |mut c: Caller<'_, HostState>, map: i32, ptr: i32, size: i32| {
            let bytes = match read_guest(&mut c, ptr, size) {
                Ok(b) => b,
                Err(s) => return s as i32,
            };
            let Some(pairs) = abi::decode_map(&bytes) else { return Status::SerializationFailure as i32 };
            match header_map(c.data_mut(), map) {
                Some(mut m) => m.set_pairs(pairs) as i32,
                None => Status::NotFound as i32,
            }
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_get_header_map_value",
        move |mut c: Caller<'_, HostState>, map: i32, kp: i32, ks: i32, ret_ptr: i32, ret_size: i32| {
            let key = match read_key(&mut c, kp, ks) {
                Ok(k) => k,
                Err(s) => return Ok(s as i32),
            };
            let value = header_map(c.data_mut(), map).and_then(|m| m.get(&key));
            // Missing is Ok with no value: the SDKs trap on NotFound here.
            return_bytes(&mut c, &value.unwrap_or_default(), ret_ptr, ret_size)
        },
    )?;
    /// A header edit: name, optional value, on the map named.
    fn edit(
        c: &mut Caller<'_, HostState>,
        map: i32,
        kp: i32,
        ks: i32,
        value: Option<(i32, i32)>,
        f: fn(&mut MapMut<'_>, &str, &[u8]) -> Status,
    ) -> i32 {
        let key = match read_key(c, kp, ks) {
            Ok(k) => k,
            Err(s) => return s as i32,
        };
        let value = match value.map(|(vp, vs)| read_guest(c, vp, vs)).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(s) => return s as i32,
        };
        match header_map(c.data_mut(), map) {
            Some(mut m) => f(&mut m, &key, &value) as i32,
            None => Status::NotFound as i32,
        }
    }
    linker.func_wrap(
        ENV,
        "proxy_add_header_map_value",
        |mut c: Caller<'_, HostState>, map: i32, kp: i32, ks: i32, vp: i32, vs: i32| {
            edit(&mut c, map, kp, ks, Some((vp, vs)), |m, k, v| m.add(k, v))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_replace_header_map_value",
        |mut c: Caller<'_, HostState>, map: i32, kp: i32, ks: i32, vp: i32, vs: i32| {
            edit(&mut c, map, kp, ks, Some((vp, vs)), |m, k, v| m.replace(k, v))
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_remove_header_map_value",
        |mut c: Caller<'_, HostState>, map: i32, kp: i32, ks: i32| {
            edit(&mut c, map, kp, ks, None, |m, k, _| {
                m.remove(k);
                Status::Ok
            })
        },
    )?;
    linker.func_wrap(ENV, "proxy_get_header_map_size", move |mut c: Caller<'_, HostState>, map: i32, ret: i32| {
        let size = header_map(c.data_mut(), map).map_or(0, |m| m.encoded_len()) as u32;
        match write_guest(&mut c, ret, &size.to_le_bytes()) {
            Ok(()) => ok,
            Err(s) => s as i32,
        }
    })?;
    linker.func_wrap(
        ENV,
        "proxy_get_property",
        move |mut c: Caller<'_, HostState>, pp: i32, ps: i32, ret_ptr: i32, ret_size: i32| {
            let path = match read_guest(&mut c, pp, ps) {
                Ok(p) => p,
                Err(s) => return Ok(s as i32),
            };
            match property(c.data(), &path) {
                Some(v) => return_bytes(&mut c, &v, ret_ptr, ret_size),
                None => Ok(Status::NotFound as i32),
            }
        },
    )?;
    // Foreign functions: the one wasmgress knows; NotFound for any other,
    // as Envoy answers.
    linker.func_wrap(
        ENV,
        "proxy_call_foreign_function",
        move |mut c: Caller<'_, HostState>, np: i32, ns: i32, _ap: i32, _as: i32, _rp: i32, _rs: i32| {
            let name = match read_guest(&mut c, np, ns) {
                Ok(n) => n,
                Err(s) => return s as i32,
            };
            if name == abi::FOREIGN_REQUEST_ONLY {
                c.data_mut().request_only = true;
                return ok;
            }
            Status::NotFound as i32
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_property",
        move |mut c: Caller<'_, HostState>, pp: i32, ps: i32, vp: i32, vs: i32| {
            let (path, value) = match (read_guest(&mut c, pp, ps), read_guest(&mut c, vp, vs)) {
                (Ok(p), Ok(v)) => (p, v),
                (Err(s), _) | (_, Err(s)) => return s as i32,
            };
            let key = path
                .split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(".");
            match c.data_mut().stream.as_mut() {
                Some(stream) => {
                    stream.properties.insert(key, value);
                    ok
                }
                None => Status::NotFound as i32,
            }
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_send_local_response",
        move |mut c: Caller<'_, HostState>,
              status: i32,
              _dp: i32,
              _ds: i32,
              bp: i32,
              bs: i32,
              hp: i32,
              hs: i32,
              _grpc: i32| {
            let (body, headers) = match (read_guest(&mut c, bp, bs), read_guest(&mut c, hp, hs)) {
                (Ok(b), Ok(h)) => (b, h),
                (Err(s), _) | (_, Err(s)) => return s as i32,
            };
            let Some(headers) = abi::decode_map(&headers) else { return Status::SerializationFailure as i32 };
            let Ok(status) = u16::try_from(status) else { return Status::BadArgument as i32 };
            if !(200..=599).contains(&status) {
                return Status::BadArgument as i32;
            }
            match c.data_mut().stream.as_mut() {
                Some(stream) => {
                    stream.local_response = Some(LocalResponse { status, headers, body });
                    ok
                }
                None => Status::NotFound as i32,
            }
        },
    )?;
    // Resuming marks the stream; the chain acts on it once the callback
    // returns (a stream is only ever held for a pending call).
    fn resume(c: &mut Caller<'_, HostState>) -> i32 {
        match c.data_mut().stream.as_mut() {
            Some(s) => {
                s.resumed = true;
                Status::Ok as i32
            }
            None => Status::NotFound as i32,
        }
    }
    linker.func_wrap(ENV, "proxy_continue_stream", move |mut c: Caller<'_, HostState>, kind: i32| match kind {
        abi::STREAM_REQUEST | abi::STREAM_RESPONSE => resume(&mut c),
        _ => Status::BadArgument as i32,
    })?;
    linker.func_wrap(ENV, "proxy_continue_request", move |mut c: Caller<'_, HostState>| resume(&mut c))?;
    linker.func_wrap(ENV, "proxy_continue_response", move |mut c: Caller<'_, HostState>| resume(&mut c))?;
    // HTTP/1.1 cannot reset one request: closing answers 503 and closes
    // the client's connection.
    linker.func_wrap(ENV, "proxy_close_stream", move |mut c: Caller<'_, HostState>, _kind: i32| {
        match c.data_mut().stream.as_mut() {
            Some(s) => {
                let headers = vec![("connection".to_string(), b"close".to_vec())];
                s.local_response = Some(LocalResponse { status: 503, headers, body: Vec::new() });
                ok
            }
            None => Status::NotFound as i32,
        }
    })?;
    linker.func_wrap(
        ENV,
        "proxy_http_call",
        move |mut c: Caller<'_, HostState>,
              up: i32,
              up_len: i32,
              hp: i32,
              hs: i32,
              bp: i32,
              bs: i32,
              _tp: i32,
              _ts: i32,
              timeout_ms: i32,
              ret_token: i32| {
            let (upstream, headers, body) =
                match (read_guest(&mut c, up, up_len), read_guest(&mut c, hp, hs), read_guest(&mut c, bp, bs)) {
                    (Ok(u), Ok(h), Ok(b)) => (u, h, b),
                    (Err(s), _, _) | (_, Err(s), _) | (_, _, Err(s)) => return s as i32,
                };
            let Some(target) = ServiceTarget::parse(&String::from_utf8_lossy(&upstream)) else {
                return Status::BadArgument as i32;
            };
            let Some(headers) = abi::decode_map(&headers) else { return Status::BadArgument as i32 };
            let has = |name: &str| headers.iter().any(|(k, v)| k == name && !v.is_empty());
            if !(has(":method") && has(":path")) {
                return Status::BadArgument as i32;
            }
            let state = c.data_mut();
            if state.calls.len() >= MAX_CALLS_PER_CALLBACK {
                return Status::InternalFailure as i32;
            }
            let token = state.next_token;
            state.next_token = state.next_token.wrapping_add(1).max(1);
            let timeout = Duration::from_millis(u64::from(timeout_ms as u32).clamp(1, 60_000));
            state.calls.push(HttpCall { token, target, headers, body, timeout });
            match write_guest(&mut c, ret_token, &token.to_le_bytes()) {
                Ok(()) => ok,
                Err(s) => s as i32,
            }
        },
    )?;
    linker.func_wrap(ENV, "proxy_set_effective_context", move |_: Caller<'_, HostState>, _: i32| ok)?;
    linker.func_wrap(ENV, "proxy_done", move |_: Caller<'_, HostState>| ok)?;
    linker.func_wrap(
        ENV,
        "proxy_define_metric",
        move |mut c: Caller<'_, HostState>, kind: i32, np: i32, ns: i32, ret: i32| {
            let name = match read_guest(&mut c, np, ns) {
                Ok(n) => String::from_utf8_lossy(&n).into_owned(),
                Err(s) => return s as i32,
            };
            let Some(kind) = MetricKind::from_abi(kind) else { return Status::BadArgument as i32 };
            let Some(cell) = metrics::define(&c.data().plugin_name, &name, kind) else {
                return Status::BadArgument as i32;
            };
            let defined = &mut c.data_mut().metrics;
            let id = match defined.iter().position(|m| Arc::ptr_eq(m, &cell)) {
                Some(i) => i,
                None => {
                    defined.push(cell);
                    defined.len() - 1
                }
            };
            match write_guest(&mut c, ret, &(id as u32).to_le_bytes()) {
                Ok(()) => ok,
                Err(s) => s as i32,
            }
        },
    )?;
    linker.func_wrap(ENV, "proxy_increment_metric", move |c: Caller<'_, HostState>, id: i32, offset: i64| {
        match c.data().metrics.get(id as u32 as usize) {
            Some(m) if m.kind != MetricKind::Histogram => {
                m.increment(offset);
                ok
            }
            Some(_) => Status::BadArgument as i32,
            None => Status::NotFound as i32,
        }
    })?;
    linker.func_wrap(ENV, "proxy_record_metric", move |c: Caller<'_, HostState>, id: i32, value: i64| {
        match c.data().metrics.get(id as u32 as usize) {
            Some(m) => {
                m.record(value);
                ok
            }
            None => Status::NotFound as i32,
        }
    })?;
    linker.func_wrap(ENV, "proxy_get_metric", move |mut c: Caller<'_, HostState>, id: i32, ret: i32| {
        let Some(value) = c.data().metrics.get(id as u32 as usize).map(|m| m.get()) else {
            return Status::NotFound as i32;
        };
        match write_guest(&mut c, ret, &(value as u64).to_le_bytes()) {
            Ok(()) => ok,
            Err(s) => s as i32,
        }
    })?;
    linker.func_wrap(
        ENV,
        "proxy_get_shared_data",
        move |mut c: Caller<'_, HostState>, kp: i32, ks: i32, ret_ptr: i32, ret_size: i32, ret_cas: i32| {
            let key = match read_guest(&mut c, kp, ks) {
                Ok(k) => k,
                Err(s) => return Ok(s as i32),
            };
            let Some((value, cas)) = shared::get(&c.data().plugin_name, &key) else {
                return Ok(Status::NotFound as i32);
            };
            if let Err(s) = write_guest(&mut c, ret_cas, &cas.to_le_bytes()) {
                return Ok(s as i32);
            }
            return_bytes(&mut c, &value, ret_ptr, ret_size)
        },
    )?;
    linker.func_wrap(
        ENV,
        "proxy_set_shared_data",
        move |mut c: Caller<'_, HostState>, kp: i32, ks: i32, vp: i32, vs: i32, cas: i32| {
            let (key, value) = match (read_guest(&mut c, kp, ks), read_guest(&mut c, vp, vs)) {
                (Ok(k), Ok(v)) => (k, v),
                (Err(s), _) | (_, Err(s)) => return s as i32,
            };
            let state = c.data();
            shared::set(&state.plugin_name, &key, value, cas as u32, state.memory_limit) as i32
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_buffer_bytes_prepends_replaces_and_appends_like_envoy() {
        let mut body = b"body".to_vec();
        splice(&mut body, 0, 0, b">");
        assert_eq!(body, b">body");
        splice(&mut body, 5, 0, b"<");
        assert_eq!(body, b">body<");
        splice(&mut body, 0, usize::MAX, b"new");
        assert_eq!(body, b"new");
        splice(&mut body, 1, 1, b"EE");
        assert_eq!(body, b"nEEw");
        assert_eq!(window(b"abcdef", 2, 2), b"cd");
        assert_eq!(window(b"abc", 5, 2), b"");
        assert_eq!(window(b"abc", 1, -1), b"bc", "a size beyond i32 is clamped, not wrapped");
    }
}
