//! The cluster source, status writing, Events and leader election, end to
//! end through the real kube client against a stand-in API server that
//! speaks the Kubernetes wire protocol (no API server can run here).

use std::time::Duration;

use serde_json::{Value, json};
use wasmgress::gateway::{ClusterConfig, SourceConfig};
use wasmgress::status::election::ElectionConfig;
use wasmgress::status::publish::{PublishAddress, PublishConfig};
use wasmgress::{Gateway, GatewayConfig};
use wasmgress_tests::kube_api::{ApiCall, FakeApi};
use wasmgress_tests::rbac::Rules;
use wasmgress_tests::*;

const LEASE_NAMESPACE: &str = "wasmgress";

async fn cluster_config(api: &FakeApi, dir: &TempDir, replica: &str, publish: Option<&str>) -> GatewayConfig {
    cluster_config_in(api, dir, replica, publish, None).await
}

async fn cluster_config_in(
    api: &FakeApi,
    dir: &TempDir,
    replica: &str,
    publish: Option<&str>,
    watch_namespace: Option<&str>,
) -> GatewayConfig {
    let client = wasmgress::source::kube::client(Some(&api.kubeconfig(dir.path(), replica))).await.expect("client");
    let election = ElectionConfig {
        lease_duration: Duration::from_secs(1),
        retry_period: Duration::from_millis(100),
        ..ElectionConfig::new(LEASE_NAMESPACE, "wasmgress-leader", replica)
    };
    let publish = publish
        .map(|a| PublishConfig { address: PublishAddress::Fixed(vec![a.to_string()]), clear_on_shutdown: false });
    let cluster = ClusterConfig { client, watch_namespace: watch_namespace.map(String::from), election, publish };
    let mut cfg = config(dir.path());
    cfg.source = SourceConfig::Cluster(Box::new(cluster));
    cfg
}

async fn start_replica(api: &FakeApi, dir: &TempDir, replica: &str, publish: Option<&str>) -> Gateway {
    Gateway::start(cluster_config(api, dir, replica, publish).await).await.expect("gateway starts")
}

async fn answers(gw: &Gateway, host: &str, backend: &str) -> bool {
    let a = get(gw.http_addr(), host, "/").await;
    a.status == 200 && a.body == backend
}

async fn wait_answers(gw: &Gateway, host: &str, backend: &str) {
    eventually(&format!("{host} answered by {backend}"), || answers(gw, host, backend)).await;
}

async fn readyz(gw: &Gateway) -> u16 {
    let url = format!("http://{}/readyz", gw.admin_addr());
    client().get(url.parse().unwrap()).await.map(|r| r.status().as_u16()).unwrap_or(0)
}

/// An EndpointSlice of `svc` holding `addrs`, each with its ready condition.
fn slice(svc: &str, name: &str, port: u16, addrs: &[(&str, bool)]) -> Value {
    let endpoints: Vec<Value> =
        addrs.iter().map(|(a, ready)| json!({"addresses": [a], "conditions": {"ready": ready}})).collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": port}], "endpoints": endpoints,
    })
}

fn list_calls(api: &FakeApi, resource: &str) -> usize {
    api.calls().iter().filter(|c| c.verb == "list" && c.resource == resource).count()
}

/// Every call the gateway made is allowed by the RBAC rules in manifests/deploy.
fn assert_rbac_covers(calls: &[ApiCall]) {
    let rules = Rules::from_deploy_manifests();
    for call in calls {
        assert!(rules.allows(call, LEASE_NAMESPACE), "the RBAC rules in manifests/deploy do not allow {call:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_follows_the_cluster_and_ready_waits_for_the_first_list() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    api.apply_yaml(&service("web", &[a.addr]));
    api.apply_yaml(&ingress("web", "web.example.com", "/", "web"));

    api.pause_lists();
    let gw = start_replica(&api, &dir, "replica-a", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(readyz(&gw).await, 503, "not ready before the cluster is listed");
    assert_eq!(generation(&gw), 0);
    api.resume_lists();
    eventually("ready once listed", || async { readyz(&gw).await == 200 }).await;
    wait_answers(&gw, "web.example.com", "a").await;

    // Pods scale: a second ready endpoint, then the first becomes not ready.
    let (ip_a, ip_b) = (a.addr.ip().to_string(), b.addr.ip().to_string());
    assert_eq!(a.addr.ip(), b.addr.ip(), "both backends on loopback");
    // Only EndpointSlices change: the live table's backends take the new
    // endpoints in place; the table itself is not rebuilt.
    let table = gw.routes();
    api.apply(slice("web", "web-0", a.addr.port(), &[(&ip_a, false)]));
    api.apply(slice("web", "web-b", b.addr.port(), &[(&ip_b, true)]));
    wait_answers(&gw, "web.example.com", "b").await;
    for _ in 0..5 {
        assert!(answers(&gw, "web.example.com", "b").await, "a not-ready endpoint gets no traffic");
    }
    assert!(std::sync::Arc::ptr_eq(&table, &gw.routes()), "an endpoint change rebuilt the route table");
    // No ready endpoint at all: 503, and the Ingress says why until one is back.
    api.apply(slice("web", "web-b", b.addr.port(), &[(&ip_b, false)]));
    eventually("no ready endpoint answers 503", || async {
        get(gw.http_addr(), "web.example.com", "/").await.status == 503
    })
    .await;
    let why = "service default/web port 80 has no ready endpoints: its routes answer 503";
    eventually("the Ingress says why", || async { problems(&gw, "default/web").iter().any(|p| p == why) }).await;
    api.apply(slice("web", "web-b", b.addr.port(), &[(&ip_b, true)]));
    wait_answers(&gw, "web.example.com", "b").await;
    eventually("the problem clears", || async { problems(&gw, "default/web").is_empty() }).await;
    assert!(std::sync::Arc::ptr_eq(&table, &gw.routes()));

    // A new Ingress, a changed one, a deleted one.
    api.apply_yaml(&service("api", &[a.addr]));
    api.apply_yaml(&ingress("api", "api.example.com", "/", "api"));
    wait_answers(&gw, "api.example.com", "a").await;
    api.apply_yaml(&ingress("api", "api.example.com", "/", "web"));
    wait_answers(&gw, "api.example.com", "b").await;
    api.delete("Ingress", "default", "api");
    eventually("a deleted Ingress stops routing", || async {
        get(gw.http_addr(), "api.example.com", "/").await.status == 404
    })
    .await;
    // A deleted Service: its routes answer 503 and the Ingress says why.
    api.delete("Service", "default", "web");
    eventually("routes of a deleted Service answer 503", || async {
        get(gw.http_addr(), "web.example.com", "/").await.status == 503
    })
    .await;
    assert!(problems(&gw, "default/web").iter().any(|p| p.contains("service default/web not found")));

    let calls = api.calls();
    for resource in ["ingresses", "ingressclasses", "services", "endpointslices", "secrets"] {
        assert!(calls.iter().any(|c| c.verb == "watch" && c.resource == resource), "{resource} watched");
    }
    assert!(
        calls.iter().filter(|c| c.resource == "secrets").all(|c| c.verb != "get"),
        "Secrets are only listed and watched"
    );
    assert_rbac_covers(&calls);
    gw.shutdown();
    gw.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_update_is_lost_when_watches_drop_or_expire() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    api.apply_yaml(&service("a", &[a.addr]));
    api.apply_yaml(&service("b", &[b.addr]));
    api.apply_yaml(&ingress("web", "web.example.com", "/", "a"));
    let gw = start_replica(&api, &dir, "replica-a", None).await;
    wait_answers(&gw, "web.example.com", "a").await;
    eventually("every kind watched", || async { api.open_watches() == 5 }).await;

    // Dropped connections: the watches resume from their last version and
    // get what changed meanwhile.
    api.cut_watches();
    api.apply_yaml(&ingress("web", "web.example.com", "/", "b"));
    wait_answers(&gw, "web.example.com", "b").await;

    // Expired versions: history is gone, the resumed watches get 410 Gone,
    // list again and still see the change made while they were away.
    let lists_before = list_calls(&api, "ingresses");
    eventually("every kind watched again", || async { api.open_watches() == 5 }).await;
    api.compact();
    api.cut_watches();
    api.apply_yaml(&ingress("web", "web.example.com", "/", "a"));
    api.apply_yaml(&ingress("late", "late.example.com", "/", "b"));
    wait_answers(&gw, "web.example.com", "a").await;
    wait_answers(&gw, "late.example.com", "b").await;
    assert!(list_calls(&api, "ingresses") > lists_before, "the 410 made the gateway list Ingresses again");

    gw.shutdown();
    gw.wait().await;
}

#[tokio::test]
async fn an_unreachable_api_server_keeps_the_last_table_and_readyz_says_stale() {
    let a = Backend::start("a").await;
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    api.apply_yaml(&service("a", &[a.addr]));
    api.apply_yaml(&ingress("web", "web.example.com", "/", "a"));
    let gw = start_replica(&api, &dir, "replica-a", None).await;
    wait_answers(&gw, "web.example.com", "a").await;
    let admin = gw.admin_addr();

    api.go_down();
    eventually("readyz reports the stale configuration", || async {
        get(admin, "localhost", "/readyz").await.body.contains("stale: cluster")
    })
    .await;
    assert_eq!(readyz(&gw).await, 200, "serving the last good table, so still ready");
    assert!(answers(&gw, "web.example.com", "a").await, "the last good table serves");
    let metrics = get(admin, "localhost", "/metrics").await.body;
    assert_eq!(metric(&metrics, "wasmgress_config_stale"), Some(1));

    // Back up: what changed meanwhile arrives and the staleness clears.
    api.apply_yaml(&ingress("late", "late.example.com", "/", "a"));
    api.come_back();
    wait_answers(&gw, "late.example.com", "a").await;
    eventually("readyz no longer stale", || async { get(admin, "localhost", "/readyz").await.body == "ready\n" }).await;
    gw.shutdown();
    gw.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespace_limits_what_is_routed() {
    let a = Backend::start("a").await;
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    let in_team = |yaml: String| yaml.replace("namespace: default", "namespace: team-a");
    api.apply_yaml(&service("web", &[a.addr]));
    api.apply_yaml(&ingress("outside", "outside.example.com", "/", "web"));
    api.apply_yaml(&in_team(service("web", &[a.addr])));
    api.apply_yaml(&in_team(ingress("inside", "inside.example.com", "/", "web")));
    let cfg = cluster_config_in(&api, &dir, "replica-a", None, Some("team-a")).await;
    let gw = Gateway::start(cfg).await.expect("gateway starts");
    wait_answers(&gw, "inside.example.com", "a").await;
    assert_eq!(get(gw.http_addr(), "outside.example.com", "/").await.status, 404);
    let calls = api.calls();
    for c in calls.iter().filter(|c| c.verb == "list" || c.verb == "watch") {
        let expected = if c.resource == "ingressclasses" { None } else { Some("team-a") };
        assert_eq!(c.namespace.as_deref(), expected, "{c:?}");
    }
    gw.shutdown();
    gw.wait().await;
}

fn status_addresses(api: &FakeApi, name: &str) -> Vec<String> {
    let Some(ing) = api.get("Ingress", "default", name) else { return vec![] };
    ing["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["ip"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn lease_holder(api: &FakeApi) -> Option<String> {
    let lease = api.get("Lease", LEASE_NAMESPACE, "wasmgress-leader")?;
    lease["spec"]["holderIdentity"].as_str().map(String::from)
}

fn writers_of_status(api: &FakeApi) -> Vec<String> {
    let mut users: Vec<String> =
        api.calls().into_iter().filter(|c| c.resource == "ingresses/status").map(|c| c.user).collect();
    users.dedup();
    users
}

fn events_about(api: &FakeApi, name: &str) -> Vec<Value> {
    api.list("Event").into_iter().filter(|e| e["regarding"]["name"] == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_writes_status_and_events_and_leadership_moves() {
    let a = Backend::start("a").await;
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    api.apply_yaml(&service("web", &[a.addr]));
    api.apply_yaml(&ingress("web", "web.example.com", "/", "web"));
    // Someone else's Ingress: never written to.
    api.apply_yaml(
        &ingress("other", "other.example.com", "/", "web")
            .replace("ingressClassName: wasmgress", "ingressClassName: nginx"),
    );
    // An Ingress with a problem: an Event says so, once.
    api.apply_yaml(&ingress("broken", "broken.example.com", "/", "missing"));

    let one = start_replica(&api, &dir, "replica-one", Some("192.0.2.10")).await;
    let two = start_replica(&api, &dir, "replica-two", Some("192.0.2.10")).await;
    eventually("a leader is elected", || async { lease_holder(&api).is_some() }).await;
    eventually("the leader writes the status", || async { status_addresses(&api, "web") == ["192.0.2.10"] }).await;
    eventually("an Event on the broken Ingress", || async { !events_about(&api, "broken").is_empty() }).await;
    let leader = lease_holder(&api).unwrap();
    assert_eq!(writers_of_status(&api), vec![leader.clone()], "only the leader writes status");
    assert!(status_addresses(&api, "other").is_empty(), "another class's Ingress is left alone");
    let event = &events_about(&api, "broken")[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "Degraded");
    assert!(event["note"].as_str().unwrap().contains("service default/missing not found"), "{event}");
    assert_eq!(event["regarding"]["kind"], "Ingress");

    // Reloads with the same problem add no Event.
    for i in 0..3 {
        api.apply_yaml(&ingress(&format!("more-{i}"), &format!("m{i}.example.com"), "/", "web"));
        wait_answers(&one, &format!("m{i}.example.com"), "a").await;
        wait_answers(&two, &format!("m{i}.example.com"), "a").await;
    }
    eventually("statuses of new Ingresses written", || async { status_addresses(&api, "more-2") == ["192.0.2.10"] })
        .await;
    assert_eq!(events_about(&api, "broken").len(), 1, "a steady problem is one Event");
    // A problem that comes back is counted on the same Event (a series).
    api.apply_yaml(&service("missing", &[a.addr]));
    wait_answers(&one, "broken.example.com", "a").await;
    wait_answers(&two, "broken.example.com", "a").await;
    api.delete("Service", "default", "missing");
    api.delete("EndpointSlice", "default", "missing-0");
    eventually("the recurring problem is counted", || async {
        events_about(&api, "broken").first().is_some_and(|e| e["series"]["count"] == 2)
    })
    .await;
    assert_eq!(events_about(&api, "broken").len(), 1);

    // The leader stops: it hands the Lease over and the other replica
    // takes over status writing.
    let (stopping, staying, staying_name) =
        if leader == "replica-one" { (one, two, "replica-two") } else { (two, one, "replica-one") };
    stopping.shutdown();
    stopping.wait().await;
    eventually("leadership moves", || async { lease_holder(&api).as_deref() == Some(staying_name) }).await;
    api.apply_yaml(&ingress("after", "after.example.com", "/", "web"));
    eventually("the new leader writes the status", || async { status_addresses(&api, "after") == ["192.0.2.10"] })
        .await;
    let writers = writers_of_status(&api);
    assert_eq!(writers.last().map(String::as_str), Some(staying_name));
    let lease = api.get("Lease", LEASE_NAMESPACE, "wasmgress-leader").unwrap();
    assert!(lease["spec"]["leaseTransitions"].as_i64().unwrap() >= 1, "{lease}");

    assert_rbac_covers(&api.calls());
    staying.shutdown();
    staying.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_candidates_never_both_lead() {
    let api = FakeApi::start().await;
    let dir = TempDir::new();
    let replicas = ["r1", "r2", "r3"];
    let mut gateways = Vec::new();
    for r in replicas {
        gateways.push(start_replica(&api, &dir, r, Some("192.0.2.1")).await);
    }
    eventually("a leader is elected", || async { lease_holder(&api).is_some() }).await;
    // Over several renewal periods the holder never changes while it renews.
    let first = lease_holder(&api);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(lease_holder(&api), first, "leadership must not flap while the leader renews");
    }
    assert_eq!(writers_of_status(&api).len(), 0, "no Ingress, no status write");
    for gw in gateways {
        gw.shutdown();
        gw.wait().await;
    }
}

/// Parses every deployment manifest into its typed object, checks each
/// kustomization lists files that exist (and the base lists every file),
/// and checks the hardening the Deployment promises.
#[test]
fn deploy_manifests_are_typed_objects_and_kustomizations_are_complete() {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
    use k8s_openapi::api::core::v1::{Namespace, PodSpec, Service, ServiceAccount};
    use k8s_openapi::api::networking::v1::IngressClass;
    use k8s_openapi::api::policy::v1::PodDisruptionBudget;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use wasmgress_tests::rbac::{deploy_dir, documents};

    fn typed<T: serde::de::DeserializeOwned>(file: &std::path::Path, doc: &Value) -> T {
        serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }
    let mut pods: Vec<(String, PodSpec)> = Vec::new();
    for (file, doc) in documents(&deploy_dir()) {
        match doc["kind"].as_str().unwrap_or_default() {
            "Kustomization" => {
                let dir = file.parent().unwrap();
                for r in doc["resources"].as_array().unwrap() {
                    assert!(dir.join(r.as_str().unwrap()).is_file(), "{}: {r} missing", file.display());
                }
            }
            "Namespace" => drop(typed::<Namespace>(&file, &doc)),
            "ServiceAccount" => drop(typed::<ServiceAccount>(&file, &doc)),
            "ClusterRole" => drop(typed::<ClusterRole>(&file, &doc)),
            "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(&file, &doc)),
            "Role" => drop(typed::<Role>(&file, &doc)),
            "RoleBinding" => drop(typed::<RoleBinding>(&file, &doc)),
            "IngressClass" => {
                let class: IngressClass = typed(&file, &doc);
                assert_eq!(class.spec.unwrap().controller.as_deref(), Some("wasmgress.io/ingress-controller"));
            }
            "Service" => drop(typed::<Service>(&file, &doc)),
            "PodDisruptionBudget" => drop(typed::<PodDisruptionBudget>(&file, &doc)),
            "Deployment" => {
                let d: Deployment = typed(&file, &doc);
                let spec = d.spec;
                assert_eq!(spec.replicas, Some(2));
                let pod = spec.template.spec.unwrap();
                assert!(pod.affinity.as_ref().and_then(|a| a.pod_anti_affinity.as_ref()).is_some());
                pods.push(("Deployment".into(), pod));
            }
            "DaemonSet" => {
                let d: DaemonSet = typed(&file, &doc);
                let pod = d.spec.template.spec.unwrap();
                assert!(pod.node_selector.is_some() && pod.tolerations.is_some());
                pods.push(("DaemonSet".into(), pod));
            }
            other => panic!("{}: unexpected kind {other}", file.display()),
        }
    }
    assert_eq!(pods.len(), 2, "a Deployment and a DaemonSet");
    for (kind, pod) in pods {
        assert_eq!(pod.service_account_name.as_deref(), Some("wasmgress"), "{kind}");
        assert_eq!(pod.security_context.as_ref().and_then(|s| s.run_as_non_root), Some(true), "{kind}");
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{kind}");
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{kind}");
        assert_eq!(sc.capabilities.as_ref().and_then(|c| c.drop.clone()), Some(vec!["ALL".to_string()]), "{kind}");
        assert!(c.resources.as_ref().and_then(|r| r.limits.as_ref()).is_some(), "{kind}");
        for probe in [&c.liveness_probe, &c.readiness_probe] {
            let port = probe.as_ref().and_then(|p| p.http_get.as_ref()).map(|g| g.port.clone());
            assert_eq!(
                port,
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("admin".into())),
                "{kind}"
            );
        }
        // The admin port must be reachable by the kubelet's probes.
        assert!(c.args.iter().flatten().any(|a| a == "--admin-listen=0.0.0.0:9090"), "{kind}");
    }
    // The base lists every manifest beside it.
    let base = std::fs::read_to_string(deploy_dir().join("kustomization.yaml")).unwrap();
    for entry in std::fs::read_dir(deploy_dir()).unwrap().flatten() {
        let name = entry.file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(base.contains(&format!("- {name}")), "kustomization.yaml does not list {name}");
        }
    }
}
