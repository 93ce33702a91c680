//! A stand-in for the Kubernetes API server, for the kinds the gateway
//! uses, speaking the real wire protocol so the real kube client talks to
//! it: JSON lists with a `resourceVersion`, `?watch=true` streams of
//! ADDED/MODIFIED/DELETED/BOOKMARK events, `410 Gone` (as a watch ERROR
//! event) for a compacted version, `status` subresources, optimistic
//! concurrency (409 on a stale `resourceVersion`), JSON merge patches.
//! It records every call, so a test can check RBAC rules against them.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};

/// One resource type the server knows.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    /// The plural, as in URLs and RBAC rules.
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Has a `status` subresource: writes to the object leave status alone.
    pub status: bool,
}

pub const RESOURCES: &[ResourceType] = &[
    ResourceType { group: "", version: "v1", plural: "services", kind: "Service", namespaced: true, status: true },
    ResourceType { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true, status: false },
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        plural: "ingresses",
        kind: "Ingress",
        namespaced: true,
        status: true,
    },
    ResourceType {
        group: "networking.k8s.io",
        version: "v1",
        plural: "ingressclasses",
        kind: "IngressClass",
        namespaced: false,
        status: false,
    },
    ResourceType {
        group: "discovery.k8s.io",
        version: "v1",
        plural: "endpointslices",
        kind: "EndpointSlice",
        namespaced: true,
        status: false,
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        namespaced: true,
        status: false,
    },
    ResourceType {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        status: false,
    },
];

impl ResourceType {
    fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    fn by_kind(kind: &str) -> &'static ResourceType {
        RESOURCES.iter().find(|r| r.kind == kind).unwrap_or_else(|| panic!("the fake API server has no kind {kind}"))
    }
}

/// One request the server answered, in RBAC terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiCall {
    /// get, list, watch, create, update, patch or delete.
    pub verb: &'static str,
    pub group: &'static str,
    /// `ingresses`, or `ingresses/status` for a subresource.
    pub resource: String,
    pub namespace: Option<String>,
    /// The object, for calls on one object.
    pub name: Option<String>,
    /// Who sent it (the token the client presented).
    pub user: String,
}

type Key = (&'static str, String, String);

#[derive(Clone)]
struct Change {
    rv: u64,
    resource: &'static ResourceType,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Every change, for watches resuming from a resourceVersion.
    history: Vec<Change>,
    /// Watches from before this version get 410 Gone.
    compacted: u64,
    calls: Vec<ApiCall>,
}

/// The running server. Stops with the test's runtime.
#[derive(Clone)]
pub struct FakeApi {
    addr: SocketAddr,
    store: Arc<Mutex<Store>>,
    changes: broadcast::Sender<Change>,
    /// Bumped to cut every open watch stream.
    cut: Arc<watch::Sender<u64>>,
    watches: Arc<watch::Sender<usize>>,
    /// While true, lists hang (an API server that is slow to answer).
    paused: Arc<watch::Sender<bool>>,
    /// While true, connections are dropped as soon as they are accepted
    /// (an API server that is down).
    down: Arc<watch::Sender<bool>>,
    /// The open connections, to cut when going down.
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl FakeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fake API server");
        let api = FakeApi {
            addr: listener.local_addr().unwrap(),
            store: Arc::default(),
            changes: broadcast::channel(4096).0,
            cut: Arc::new(watch::channel(0).0),
            watches: Arc::new(watch::channel(0).0),
            paused: Arc::new(watch::channel(false).0),
            down: Arc::new(watch::channel(false).0),
            connections: Arc::default(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                if *server.down.borrow() {
                    continue;
                }
                let handler = server.clone();
                let svc = service_fn(move |req| {
                    let server = handler.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                let task = tokio::spawn(
                    auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).into_owned(),
                );
                let mut open = server.connections.lock().unwrap();
                open.retain(|c| !c.is_finished());
                open.push(task.abort_handle());
            }
        });
        api
    }

    /// A kubeconfig for this server, presenting `user` as its token.
    pub fn kubeconfig(&self, dir: &Path, user: &str) -> PathBuf {
        let path = dir.join(format!("kubeconfig-{user}"));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: \"http://{}\"}}\nusers:\n- name: {user}\n  user: {{token: {user}}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: {user}, namespace: wasmgress}}\ncurrent-context: fake\n",
            self.addr
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        path
    }

    /// Creates or replaces every object in a YAML stream, as `kubectl apply` would.
    pub fn apply_yaml(&self, yaml: &str) {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).expect("test YAML parses");
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            self.apply(doc);
        }
    }

    /// Creates or replaces one object (its status too, as a controller would).
    pub fn apply(&self, mut object: Value) {
        let resource = ResourceType::by_kind(object["kind"].as_str().expect("object has a kind"));
        let ns = resource.namespaced.then(|| object["metadata"]["namespace"].as_str().unwrap_or("default").to_string());
        object["metadata"]["namespace"] = ns.clone().map(Value::String).unwrap_or(Value::Null);
        let name = object["metadata"]["name"].as_str().expect("object has a name").to_string();
        let mut store = self.store.lock().unwrap();
        let key = (resource.plural, ns.unwrap_or_default(), name);
        let change = if let Some(old) = store.objects.get(&key) {
            object["metadata"]["uid"] = old["metadata"]["uid"].clone();
            "MODIFIED"
        } else {
            object["metadata"]["uid"] = json!(format!("uid-{}", store.rv + 1));
            "ADDED"
        };
        self.commit(&mut store, resource, key, change, object);
    }

    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let resource = ResourceType::by_kind(kind);
        let mut store = self.store.lock().unwrap();
        let key =
            (resource.plural, if resource.namespaced { namespace.to_string() } else { String::new() }, name.into());
        let old = store.objects.remove(&key).unwrap_or_else(|| panic!("no {kind} {namespace}/{name} to delete"));
        self.commit(&mut store, resource, key, "DELETED", old);
    }

    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource = ResourceType::by_kind(kind);
        let ns = if resource.namespaced { namespace.to_string() } else { String::new() };
        self.store.lock().unwrap().objects.get(&(resource.plural, ns, name.to_string())).cloned()
    }

    pub fn list(&self, kind: &str) -> Vec<Value> {
        let plural = ResourceType::by_kind(kind).plural;
        let store = self.store.lock().unwrap();
        store.objects.iter().filter(|(k, _)| k.0 == plural).map(|(_, v)| v.clone()).collect()
    }

    /// Every call answered so far.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.store.lock().unwrap().calls.clone()
    }

    /// Cuts every open watch, as a restarting API server or a dropped
    /// connection would.
    pub fn cut_watches(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Forgets history: watches resuming from any version seen so far get
    /// 410 Gone and must list again.
    pub fn compact(&self) {
        let mut store = self.store.lock().unwrap();
        store.compacted = store.rv + 1;
        store.history.clear();
    }

    /// Holds every list request until `resume`.
    pub fn pause_lists(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume_lists(&self) {
        self.paused.send_replace(false);
    }

    /// Goes down: every open connection is cut, and new ones are dropped
    /// at once until [`FakeApi::come_back`].
    pub fn go_down(&self) {
        self.down.send_replace(true);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn come_back(&self) {
        self.down.send_replace(false);
    }

    /// How many watch streams are open.
    pub fn open_watches(&self) -> usize {
        *self.watches.borrow()
    }

    /// Stores a change and tells the open watches, under the store's lock
    /// so that a watch starting concurrently sees it exactly once.
    fn commit(
        &self,
        store: &mut Store,
        resource: &'static ResourceType,
        key: Key,
        kind: &'static str,
        mut object: Value,
    ) {
        store.rv += 1;
        object["metadata"]["resourceVersion"] = json!(store.rv.to_string());
        if kind == "DELETED" {
            store.objects.remove(&key);
        } else {
            if object["metadata"]["creationTimestamp"].is_null() {
                object["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            store.objects.insert(key, object.clone());
        }
        let change = Change { rv: store.rv, resource, kind, object };
        store.history.push(change.clone());
        let _ = self.changes.send(change);
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let Some(route) = Route::parse(req.uri().path()) else {
            return status(StatusCode::NOT_FOUND, "NotFound", &format!("no such path {}", req.uri().path()));
        };
        let query: BTreeMap<String, String> = req
            .uri()
            .query()
            .map(|q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), percent_decode(v)))
                    .collect()
            })
            .unwrap_or_default();
        let user = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("anonymous")
            .to_string();
        let watch = query.get("watch").is_some_and(|v| v == "true" || v == "1");
        let verb = match (req.method().clone(), route.name.is_some()) {
            (Method::GET, false) if watch => "watch",
            (Method::GET, false) => "list",
            (Method::GET, true) => "get",
            (Method::POST, false) => "create",
            (Method::PUT, true) => "update",
            (Method::PATCH, true) => "patch",
            (Method::DELETE, true) => "delete",
            _ => return status(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "not supported here"),
        };
        let resource = match &route.subresource {
            Some(sub) => format!("{}/{sub}", route.resource.plural),
            None => route.resource.plural.to_string(),
        };
        let call = ApiCall {
            verb,
            group: route.resource.group,
            resource,
            namespace: route.namespace.clone(),
            name: route.name.clone(),
            user,
        };
        self.store.lock().unwrap().calls.push(call);
        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        match verb {
            "watch" => self.watch(&route, &query),
            "list" => {
                let _ = self.paused.subscribe().wait_for(|p| !p).await;
                self.list_response(&route, &query)
            }
            "get" => match self.lookup(&route) {
                Some(object) => json_response(StatusCode::OK, &object),
                None => not_found(&route),
            },
            "create" => self.create(&route, &body),
            "update" => self.update(&route, &body),
            "patch" => self.patch(&route, &body),
            _ => {
                let (kind, ns, name) =
                    (route.resource.kind, route.namespace.clone().unwrap_or_default(), route.name.clone());
                match self.lookup(&route) {
                    Some(object) => {
                        self.delete(kind, &ns, name.as_deref().unwrap_or_default());
                        json_response(StatusCode::OK, &object)
                    }
                    None => not_found(&route),
                }
            }
        }
    }

    fn key(route: &Route) -> Key {
        (route.resource.plural, route.namespace.clone().unwrap_or_default(), route.name.clone().unwrap_or_default())
    }

    fn lookup(&self, route: &Route) -> Option<Value> {
        self.store.lock().unwrap().objects.get(&Self::key(route)).cloned()
    }

    fn selected(route: &Route, query: &BTreeMap<String, String>, object: &Value) -> bool {
        if let Some(ns) = &route.namespace
            && object["metadata"]["namespace"].as_str() != Some(ns)
        {
            return false;
        }
        // Field selectors the gateway uses: `type=...` and `metadata.name=...`.
        let fields = query.get("fieldSelector").map(String::as_str).unwrap_or("");
        fields.split(',').filter(|f| !f.is_empty()).all(|f| match f.split_once('=') {
            Some(("type", v)) => object["type"].as_str() == Some(v),
            Some(("metadata.name", v)) => object["metadata"]["name"].as_str() == Some(v),
            Some(("metadata.namespace", v)) => object["metadata"]["namespace"].as_str() == Some(v),
            _ => false,
        })
    }

    fn list_response(&self, route: &Route, query: &BTreeMap<String, String>) -> Response<Body> {
        let store = self.store.lock().unwrap();
        let items: Vec<Value> = store
            .objects
            .iter()
            .filter(|(k, v)| k.0 == route.resource.plural && Self::selected(route, query, v))
            .map(|(_, v)| v.clone())
            .collect();
        // Items of a typed list carry no kind or apiVersion on the wire.
        let items: Vec<Value> = items
            .into_iter()
            .map(|mut v| {
                if let Some(m) = v.as_object_mut() {
                    m.remove("kind");
                    m.remove("apiVersion");
                }
                v
            })
            .collect();
        let list = json!({
            "kind": format!("{}List", route.resource.kind),
            "apiVersion": route.resource.api_version(),
            "metadata": { "resourceVersion": store.rv.to_string() },
            "items": items,
        });
        json_response(StatusCode::OK, &list)
    }

    fn watch(&self, route: &Route, query: &BTreeMap<String, String>) -> Response<Body> {
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        let from: u64 = query.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        let bookmarks = query.get("allowWatchBookmarks").is_some_and(|v| v == "true");
        let timeout = query.get("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(1800);
        let (backlog, mut live, current) = {
            let store = self.store.lock().unwrap();
            if from != 0 && from < store.compacted {
                let gone = json!({
                    "type": "ERROR",
                    "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("too old resource version: {from} ({})", store.compacted),
                        "reason": "Expired", "code": 410
                    }
                });
                return stream_response(vec![line(&gone)]);
            }
            let backlog: Vec<Change> = store.history.iter().filter(|c| c.rv > from).cloned().collect();
            (backlog, self.changes.subscribe(), store.rv)
        };
        let route = route.clone();
        let query = query.clone();
        let mut cut = self.cut.subscribe();
        let watches = self.watches.clone();
        tokio::spawn(async move {
            watches.send_modify(|n| *n += 1);
            let deadline = tokio::time::sleep(Duration::from_secs(timeout));
            tokio::pin!(deadline);
            let mut last = current;
            let event = |c: &Change| {
                let mut object = c.object.clone();
                object["kind"] = json!(c.resource.kind);
                object["apiVersion"] = json!(c.resource.api_version());
                line(&json!({ "type": c.kind, "object": object }))
            };
            let wanted =
                |c: &Change| std::ptr::eq(c.resource, route.resource) && Self::selected(&route, &query, &c.object);
            let mut open = true;
            for c in backlog.iter().filter(|c| wanted(c)) {
                open &= tx.send(event(c)).await.is_ok();
            }
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            while open {
                tokio::select! {
                    // A cut stream delivers nothing after the cut.
                    biased;
                    _ = cut.changed() => break,
                    () = &mut deadline => break,
                    change = live.recv() => match change {
                        Ok(c) if c.rv > current => {
                            last = c.rv;
                            if wanted(&c) {
                                open = tx.send(event(&c)).await.is_ok();
                            }
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    },
                    _ = tick.tick(), if bookmarks => {
                        let bookmark = json!({"type": "BOOKMARK", "object": {
                            "kind": route.resource.kind, "apiVersion": route.resource.api_version(),
                            "metadata": {"resourceVersion": last.to_string()}
                        }});
                        open = tx.send(line(&bookmark)).await.is_ok();
                    }
                }
            }
            watches.send_modify(|n| *n -= 1);
        });
        let mut rx = rx;
        let body = StreamBody::new(futures_util::stream::poll_fn(move |cx| {
            rx.poll_recv(cx).map(|b| b.map(|b| Ok::<_, Infallible>(Frame::data(b))))
        }));
        let mut resp = Response::new(body.boxed());
        resp.headers_mut().insert("content-type", "application/json".parse().unwrap());
        resp
    }

    fn create(&self, route: &Route, body: &[u8]) -> Response<Body> {
        let mut object: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
        };
        if object["metadata"]["name"].is_null()
            && let Some(prefix) = object["metadata"]["generateName"].as_str()
        {
            let n = self.store.lock().unwrap().rv + 1;
            object["metadata"]["name"] = json!(format!("{prefix}{n:05x}"));
        }
        let Some(name) = object["metadata"]["name"].as_str().map(str::to_string) else {
            return status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", "metadata.name: Required value");
        };
        let route = Route { name: Some(name.clone()), ..route.clone() };
        let mut store = self.store.lock().unwrap();
        let key = Self::key(&route);
        if store.objects.contains_key(&key) {
            let msg = format!("{} \"{name}\" already exists", route.resource.plural);
            return status(StatusCode::CONFLICT, "AlreadyExists", &msg);
        }
        object["kind"] = json!(route.resource.kind);
        object["apiVersion"] = json!(route.resource.api_version());
        object["metadata"]["namespace"] = route.namespace.clone().map(Value::String).unwrap_or(Value::Null);
        object["metadata"]["uid"] = json!(format!("uid-{}", store.rv + 1));
        self.commit(&mut store, route.resource, key.clone(), "ADDED", object);
        json_response(StatusCode::CREATED, &store.objects[&key])
    }

    fn update(&self, route: &Route, body: &[u8]) -> Response<Body> {
        let new: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
        };
        self.write(route, new.get("metadata").and_then(|m| m.get("resourceVersion")).cloned(), |old| {
            merge_subresource(route, old, new)
        })
    }

    fn patch(&self, route: &Route, body: &[u8]) -> Response<Body> {
        let patch: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
        };
        let precondition = patch.get("metadata").and_then(|m| m.get("resourceVersion")).cloned();
        self.write(route, precondition, |old| {
            let mut patched = old.clone();
            merge_patch(&mut patched, &patch);
            merge_subresource(route, old, patched)
        })
    }

    /// Replaces an object with what `f` makes of it, if the caller's
    /// resourceVersion (when given) is still current.
    fn write(&self, route: &Route, precondition: Option<Value>, f: impl FnOnce(&Value) -> Value) -> Response<Body> {
        let mut store = self.store.lock().unwrap();
        let key = Self::key(route);
        let Some(old) = store.objects.get(&key).cloned() else { return not_found(route) };
        if let Some(rv) = precondition.filter(|v| !v.is_null())
            && rv != old["metadata"]["resourceVersion"]
        {
            let msg = format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                route.resource.plural, key.2
            );
            return status(StatusCode::CONFLICT, "Conflict", &msg);
        }
        let mut new = f(&old);
        new["metadata"]["uid"] = old["metadata"]["uid"].clone();
        new["metadata"]["namespace"] = old["metadata"]["namespace"].clone();
        new["metadata"]["name"] = old["metadata"]["name"].clone();
        new["kind"] = json!(route.resource.kind);
        new["apiVersion"] = json!(route.resource.api_version());
        self.commit(&mut store, route.resource, key.clone(), "MODIFIED", new);
        json_response(StatusCode::OK, &store.objects[&key])
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// Where a request points: `/api/v1/...` or `/apis/GROUP/VERSION/...`,
/// optionally `namespaces/NS/`, then the plural, a name and a subresource.
#[derive(Debug, Clone)]
struct Route {
    resource: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return None,
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
            _ => (None, rest),
        };
        let (plural, name, subresource) = match rest {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some(name.to_string()), None),
            [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
            _ => return None,
        };
        let resource = RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)?;
        if resource.namespaced && name.is_some() && namespace.is_none() {
            return None;
        }
        Some(Route { resource, namespace, name, subresource })
    }
}

/// Status subresource semantics: a write to `status` changes only the
/// status; a write to the object changes everything but its status.
fn merge_subresource(route: &Route, old: &Value, mut new: Value) -> Value {
    if !route.resource.status {
        return new;
    }
    if route.subresource.as_deref() == Some("status") {
        let mut out = old.clone();
        out["status"] = new["status"].take();
        out
    } else {
        new["status"] = old["status"].clone();
        new
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let map = target.as_object_mut().unwrap();
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap();
    b.push(b'\n');
    Bytes::from(b)
}

fn json_response(code: StatusCode, v: &Value) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(serde_json::to_vec(v).unwrap())).boxed());
    *resp.status_mut() = code;
    resp.headers_mut().insert("content-type", "application/json".parse().unwrap());
    resp
}

fn stream_response(lines: Vec<Bytes>) -> Response<Body> {
    let frames = lines.into_iter().map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed());
    resp.headers_mut().insert("content-type", "application/json".parse().unwrap());
    resp
}

/// A `Status` object, as the API server answers errors.
fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()
    });
    json_response(code, &body)
}

fn not_found(route: &Route) -> Response<Body> {
    let name = route.name.as_deref().unwrap_or_default();
    status(StatusCode::NOT_FOUND, "NotFound", &format!("{} \"{name}\" not found", route.resource.plural))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
