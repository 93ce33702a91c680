//! Measures the WAF plugin through the gateway: replays the attack corpus
//! (CRS regression tests, kept outside the repository) and the project's
//! benign corpus as raw HTTP/1.1 requests over loopback, one route per
//! paranoia level, and counts what was blocked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Backend, TempDir, annotated_ingress, plugin_dir, plugins_annotation, service, start_with_plugins};

/// One attack request and what it is.
#[derive(Debug, Clone)]
pub struct Attack {
    pub rule: u32,
    pub paranoia: u8,
    pub test: String,
    head: Head,
}

/// A request before it is given a Host.
#[derive(Debug, Clone)]
struct Head {
    method: String,
    uri: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// A whole request as the corpus gives it (rare), sent as it is.
    raw: Option<Vec<u8>>,
    /// Keep the corpus's own framing headers (protocol tests).
    keep_framing: bool,
}

impl Attack {
    pub fn family(&self) -> u32 {
        self.rule / 1000
    }
}

/// Where the attack corpus is: `WAF_CORPUS`, or `shared/waf-corpus`
/// beside the repository.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("WAF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/waf-corpus"))
}

/// The benign corpus kept in the repository.
pub fn benign_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/waf/corpus/benign.jsonl")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn base64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Every request of the corpus that CRS expects to be flagged.
pub fn attacks(corpus: &Path) -> Vec<Attack> {
    let levels: BTreeMap<u32, u8> = std::fs::read_to_string(corpus.join("paranoia-levels.tsv"))
        .unwrap_or_else(|e| panic!("reading {}: {e}", corpus.display()))
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (id, pl) = l.split_once('\t')?;
            Some((id.trim().parse().ok()?, pl.trim().parse().ok()?))
        })
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join("crs-regression"))
        .expect("corpus directory")
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten().map(|f| f.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("corpus file");
        let doc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let Some(rule) = doc["rule_id"].as_u64().map(|r| r as u32) else { continue };
        let protocol = matches!(rule / 1000, 920 | 921);
        for test in doc["tests"].as_array().into_iter().flatten() {
            for stage in test["stages"].as_array().into_iter().flatten() {
                let stage = if stage.get("stage").is_some() { &stage["stage"] } else { stage };
                let (input, output) = (&stage["input"], &stage["output"]);
                let expected = output["log"]["expect_ids"].as_array().is_some_and(|a| !a.is_empty())
                    || output.get("log_contains").is_some()
                    || output.get("status").is_some_and(|s| s.as_u64() == Some(403));
                if !expected {
                    continue;
                }
                let body = match &input["data"] {
                    Value::Array(lines) => lines.iter().map(scalar).collect::<Vec<_>>().join("\r\n").into_bytes(),
                    v => scalar(v).into_bytes(),
                };
                let headers = input["headers"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
                    .unwrap_or_default();
                let head = Head {
                    method: input["method"].as_str().unwrap_or("GET").to_string(),
                    uri: input["uri"].as_str().unwrap_or("/").to_string(),
                    version: input["version"].as_str().unwrap_or("HTTP/1.1").to_string(),
                    headers,
                    body,
                    raw: input["encoded_request"].as_str().map(base64),
                    keep_framing: protocol,
                };
                out.push(Attack {
                    rule,
                    paranoia: levels.get(&rule).copied().unwrap_or(1),
                    test: format!("{rule}-{}", scalar(&test["test_id"])),
                    head,
                });
            }
        }
    }
    out
}

/// The benign corpus: one JSON object per line with `method`, `uri`,
/// `headers` and an optional `body`.
pub fn benign(file: &Path) -> Vec<(String, Vec<u8>)> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("benign corpus line {l:?}: {e}"));
            let head = Head {
                method: v["method"].as_str().unwrap_or("GET").to_string(),
                uri: v["uri"].as_str().unwrap_or("/").to_string(),
                version: "HTTP/1.1".into(),
                headers: v["headers"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar(v))).collect())
                    .unwrap_or_default(),
                body: v["body"].as_str().unwrap_or("").as_bytes().to_vec(),
                raw: None,
                keep_framing: false,
            };
            (format!("{} {}", head.method, head.uri), head.bytes("HOST"))
        })
        .collect()
}

impl Head {
    /// The request on the wire, for `host` (`HOST` stands for it in
    /// prepared requests).
    fn bytes(&self, host: &str) -> Vec<u8> {
        if let Some(raw) = &self.raw {
            return replace_host(raw, host);
        }
        let mut out = format!("{} {} {}\r\n", self.method, self.uri, self.version).into_bytes();
        let framing = |n: &str| n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding");
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("connection") {
                continue;
            }
            if framing(name) && !self.keep_framing {
                continue;
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Host: {host}\r\nConnection: close\r\n").as_bytes());
        let framed = self.keep_framing && self.headers.iter().any(|(n, _)| framing(n));
        if !framed && !self.body.is_empty() {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

fn replace_host(raw: &[u8], host: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.to_ascii_lowercase().starts_with("host:") {
            out.push_str(&format!("Host: {host}\r\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

/// Sends `request` and returns the status the gateway answered with
/// (`None`: no answer within the deadline, or not HTTP).
pub async fn send(addr: SocketAddr, request: &[u8]) -> Option<u16> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(request).await.ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(2).any(|w| w == b"\r\n") {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let line = String::from_utf8_lossy(&buf);
        line.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(10), exchange).await.ok().flatten()
}

/// A gateway with the WAF at each paranoia level on host `plN.waf.test`
/// (blocking, threshold 5), over one backend.
pub struct WafGateway {
    pub gateway: wasmgress::Gateway,
    _backend: Backend,
    _manifests: TempDir,
    _plugins: TempDir,
}

impl WafGateway {
    pub async fn start(levels: &[u8]) -> WafGateway {
        let backend = Backend::start("app").await;
        let plugins = plugin_dir(&[("waf", "waf")]);
        let manifests = TempDir::new();
        manifests.write("svc.yaml", &service("app", &[backend.addr]));
        for pl in levels {
            let list = format!("- name: waf\n  config: {{paranoia_level: {pl}}}");
            let ingress = annotated_ingress(&format!("pl{pl}"), &host(*pl), "app", &plugins_annotation(&list));
            manifests.write(&format!("pl{pl}.yaml"), &ingress);
        }
        // The defaults operators get, deadlines included.
        let runtime = wasmgress::wasm::RuntimeOptions::default();
        let gateway = start_with_plugins(manifests.path(), plugins.path(), runtime).await;
        let problems = gateway.status().borrow().diagnostics.clone();
        assert!(problems.is_empty(), "the WAF routes did not load: {problems:?}");
        WafGateway { gateway, _backend: backend, _manifests: manifests, _plugins: plugins }
    }
}

pub fn host(paranoia: u8) -> String {
    format!("pl{paranoia}.waf.test")
}

/// Statuses for `requests`, sent a few at a time.
async fn send_all(addr: SocketAddr, requests: Vec<Vec<u8>>) -> Vec<Option<u16>> {
    let limit = Arc::new(tokio::sync::Semaphore::new(8));
    let mut tasks = Vec::with_capacity(requests.len());
    for r in requests {
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            send(addr, &r).await
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap_or(None));
    }
    out
}

/// Detection counts for one paranoia level.
#[derive(Debug, Default, Clone)]
pub struct Level {
    /// family → (attacks of rules at this level or below, blocked)
    pub families: BTreeMap<u32, (usize, usize)>,
    /// Attacks refused by the HTTP parser before any plugin ran.
    pub refused: usize,
    /// Requests (either corpus) that got a 5xx: the plugin failed.
    pub failures: usize,
    pub benign: usize,
    pub false_positives: Vec<String>,
    /// Attacks of the measured families that passed, by test id.
    pub missed: Vec<String>,
}

impl Level {
    pub fn detection(&self, family: u32) -> f64 {
        let (n, hit) = self.families.get(&family).copied().unwrap_or((0, 0));
        if n == 0 { 1.0 } else { hit as f64 / n as f64 }
    }

    pub fn false_positive_rate(&self) -> f64 {
        if self.benign == 0 { 0.0 } else { self.false_positives.len() as f64 / self.benign as f64 }
    }
}

/// Replays both corpora at each of `levels`.
pub async fn evaluate(
    gw: &WafGateway,
    attacks: &[Attack],
    benign: &[(String, Vec<u8>)],
    levels: &[u8],
) -> BTreeMap<u8, Level> {
    let addr = gw.gateway.http_addr();
    let mut out = BTreeMap::new();
    for &pl in levels {
        let mut level = Level::default();
        let chosen: Vec<&Attack> = attacks.iter().filter(|a| a.paranoia <= pl).collect();
        let statuses = send_all(addr, chosen.iter().map(|a| a.head.bytes(&host(pl))).collect()).await;
        for (a, status) in chosen.iter().zip(statuses) {
            let entry = level.families.entry(a.family()).or_default();
            entry.0 += 1;
            match status {
                Some(403) => entry.1 += 1,
                Some(400 | 414 | 431 | 501 | 505) => level.refused += 1,
                status => {
                    level.failures += usize::from(status.is_none_or(|s| s >= 500));
                    level.missed.push(a.test.clone())
                }
            }
        }
        let requests = benign.iter().map(|(_, r)| replace_host_placeholder(r, &host(pl))).collect();
        let statuses = send_all(addr, requests).await;
        level.benign = benign.len();
        for ((name, _), status) in benign.iter().zip(statuses) {
            if status != Some(200) {
                level.failures += usize::from(status.is_none_or(|s| s >= 500));
                level.false_positives.push(format!("{name} → {status:?}"));
            }
        }
        out.insert(pl, level);
    }
    out
}

fn replace_host_placeholder(request: &[u8], host: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(request);
    text.replacen("Host: HOST\r\n", &format!("Host: {host}\r\n"), 1).into_bytes()
}

/// The report as a table: detection per family and level, false positives.
pub fn table(levels: &BTreeMap<u8, Level>) -> String {
    let mut families: Vec<u32> = levels.values().flat_map(|l| l.families.keys().copied()).collect();
    families.sort_unstable();
    families.dedup();
    let mut out = format!("{:<34}", "family");
    for pl in levels.keys() {
        out.push_str(&format!("{:>22}", format!("paranoia {pl}")));
    }
    out.push('\n');
    for f in families {
        out.push_str(&format!("{:<34}", format!("{f} {}", family_name(f))));
        for l in levels.values() {
            let (n, hit) = l.families.get(&f).copied().unwrap_or((0, 0));
            out.push_str(&format!("{:>22}", format!("{hit}/{n} ({:.1}%)", 100.0 * l.detection(f))));
        }
        out.push('\n');
    }
    out.push_str(&format!("{:<34}", "refused by the HTTP parser"));
    for l in levels.values() {
        out.push_str(&format!("{:>22}", l.refused));
    }
    out.push('\n');
    out.push_str(&format!("{:<34}", "5xx or no answer (plugin failed)"));
    for l in levels.values() {
        out.push_str(&format!("{:>22}", l.failures));
    }
    out.push('\n');
    out.push_str(&format!("{:<34}", "false positives (benign)"));
    for l in levels.values() {
        out.push_str(&format!(
            "{:>22}",
            format!("{}/{} ({:.2}%)", l.false_positives.len(), l.benign, 100.0 * l.false_positive_rate())
        ));
    }
    out.push('\n');
    out
}

fn family_name(f: u32) -> &'static str {
    match f {
        913 => "scanners",
        920 => "protocol enforcement",
        921 => "protocol attack",
        930 => "LFI / path traversal",
        931 => "RFI",
        932 => "RCE (shell)",
        933 => "PHP",
        934 => "generic (Node, SSRF)",
        941 => "XSS",
        942 => "SQLi",
        943 => "session fixation",
        944 => "Java",
        _ => "",
    }
}
