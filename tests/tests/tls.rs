//! TLS termination end to end: certificates from Secrets chosen by SNI,
//! the default certificate, rotation under an open connection, the HTTPS
//! redirect and HSTS, a bad Secret, HTTP/2 through ALPN — with rustls and
//! curl clients on real sockets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use wasmgress_tests::*;

/// A test certificate authority issuing leaf certificates.
struct Ca {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    der: Vec<u8>,
}

/// A leaf certificate: PEM chain and key for a Secret, and its DER to
/// recognise it in a handshake.
struct Leaf {
    crt: String,
    key: String,
    der: Vec<u8>,
}

impl Ca {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, "wasmgress test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (pem, der) = (cert.pem(), cert.der().to_vec());
        Self { issuer: rcgen::Issuer::new(params, key), pem, der }
    }

    fn issue(&self, names: &[&str]) -> Leaf {
        self.issue_until(names, 2040)
    }

    /// A leaf valid until the start of `year`.
    fn issue_until(&self, names: &[&str], year: i32) -> Leaf {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        // The chain: leaf, then the CA (as a Secret's tls.crt usually holds it).
        Leaf { crt: format!("{}{}", cert.pem(), self.pem), key: key.serialize_pem(), der: cert.der().to_vec() }
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn tls_secret(name: &str, crt: &str, key: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: default}}\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(crt),
        indent(key)
    )
}

/// An Ingress of our class for `host` → `svc`, with `host` in `spec.tls`
/// served from `secret`.
fn tls_ingress(name: &str, host: &str, svc: &str, secret: &str, annotations: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations: {{{annotations}}}\nspec:\n  ingressClassName: wasmgress\n  tls:\n  - hosts: [\"{host}\"]\n    secretName: {secret}\n  rules:\n  - host: \"{host}\"\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: {svc}, port: {{number: 80}}}}}}}}\n"
    )
}

/// Accepts any certificate and keeps the leaf it was shown, so a test can
/// tell which certificate the gateway chose.
#[derive(Debug, Default)]
struct Recorder(Mutex<Option<Vec<u8>>>);

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.0.lock().unwrap() = Some(end_entity.to_vec());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS connection to the gateway with `sni`, offering `alpn`; returns the
/// stream and the leaf certificate the gateway presented.
async fn connect(addr: SocketAddr, sni: &str, alpn: &[&[u8]]) -> (TlsStream<TcpStream>, Vec<u8>) {
    let recorder = Arc::new(Recorder::default());
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let stream = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.expect("TLS handshake");
    let leaf = recorder.0.lock().unwrap().clone().expect("a certificate was presented");
    (stream, leaf)
}

/// Which certificate the gateway presents for `sni`.
async fn presented(addr: SocketAddr, sni: &str) -> Vec<u8> {
    connect(addr, sni, &[b"http/1.1"]).await.1
}

type H1 = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn http1(stream: TlsStream<TcpStream>) -> H1 {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

async fn get_on(sender: &mut H1, host: &str, path: &str) -> (StatusCode, String) {
    sender.ready().await.unwrap();
    let req = Request::get(path).header("host", host).body(Empty::new()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

struct Setup {
    ca: Ca,
    dir: TempDir,
    backend: Backend,
    gw: wasmgress::Gateway,
    secure: Leaf,
    wild: Leaf,
}

impl Setup {
    fn https(&self) -> SocketAddr {
        self.gw.https_addr().expect("an HTTPS listener")
    }
}

async fn setup() -> Setup {
    let ca = Ca::new();
    let backend = Backend::start("web").await;
    let dir = TempDir::new();
    let secure = ca.issue(&["secure.example.com"]);
    let wild = ca.issue(&["*.wild.example.com"]);
    dir.write("svc.yaml", &service("web", &[backend.addr]));
    dir.write("secure-secret.yaml", &tls_secret("secure", &secure.crt, &secure.key));
    dir.write("wild-secret.yaml", &tls_secret("wild", &wild.crt, &wild.key));
    dir.write(
        "secure.yaml",
        &tls_ingress("secure", "secure.example.com", "web", "secure", "wasmgress.io/hsts: \"true\""),
    );
    dir.write("wild.yaml", &tls_ingress("wild", "*.wild.example.com", "web", "wild", ""));
    dir.write("plain.yaml", &ingress("plain", "plain.example.com", "/", "web"));
    let gw = start(dir.path()).await;
    Setup { ca, dir, backend, gw, secure, wild }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_certificate_of_each_host_and_the_default_for_others() {
    let s = setup().await;
    assert!(s.gw.status().borrow().diagnostics.is_empty(), "{:?}", s.gw.status().borrow().diagnostics);
    assert_eq!(presented(s.https(), "secure.example.com").await, s.secure.der);
    assert_eq!(presented(s.https(), "SECURE.example.com").await, s.secure.der, "SNI is case-insensitive");
    assert_eq!(presented(s.https(), "a.wild.example.com").await, s.wild.der);
    let default = presented(s.https(), "unknown.example.com").await;
    assert_ne!(default, s.secure.der);
    assert_ne!(default, s.wild.der);
    assert_eq!(presented(s.https(), "a.b.wild.example.com").await, default, "a wildcard covers one label");

    // The request goes through, over HTTP/1.1.
    let (stream, _) = connect(s.https(), "secure.example.com", &[b"http/1.1"]).await;
    let mut h1 = http1(stream).await;
    let (status, body) = get_on(&mut h1, "secure.example.com", "/hello").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "web"));
    let seen = s.backend.last();
    assert_eq!(seen.headers.get("x-forwarded-proto").unwrap(), "https");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_through_alpn() {
    let s = setup().await;
    let (stream, _) = connect(s.https(), "secure.example.com", &[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let req = Request::get("https://secure.example.com/h2").body(Empty::<Bytes>::new()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"web");
    assert_eq!(s.backend.last().uri, "/h2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_redirected_for_tls_hosts_and_hsts_is_sent_over_https() {
    let s = setup().await;
    let a = get(s.gw.http_addr(), "secure.example.com", "/a/b?c=d").await;
    assert_eq!(a.status, 308);
    assert_eq!(a.headers.get("location").unwrap(), "https://secure.example.com/a/b?c=d");
    assert!(a.headers.get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    // A host without TLS is served over plain HTTP.
    assert_eq!(get(s.gw.http_addr(), "plain.example.com", "/").await.status, 200);

    let (stream, _) = connect(s.https(), "secure.example.com", &[b"http/1.1"]).await;
    let mut h1 = http1(stream).await;
    h1.ready().await.unwrap();
    let req = Request::get("/").header("host", "secure.example.com").body(Empty::new()).unwrap();
    let resp = h1.send_request(req).await.unwrap();
    assert_eq!(resp.headers().get("strict-transport-security").unwrap(), "max-age=31536000");

    // ssl-redirect "false" serves plain HTTP for the same host.
    let gen_before = generation(&s.gw);
    s.dir.write(
        "secure.yaml",
        &tls_ingress("secure", "secure.example.com", "web", "secure", "wasmgress.io/ssl-redirect: \"false\""),
    );
    wait_past(&s.gw, gen_before).await;
    assert_eq!(get(s.gw.http_addr(), "secure.example.com", "/").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_serves_new_handshakes_and_open_connections_live_on() {
    let s = setup().await;
    let (stream, leaf) = connect(s.https(), "secure.example.com", &[b"http/1.1"]).await;
    assert_eq!(leaf, s.secure.der);
    let mut open = http1(stream).await;
    assert_eq!(get_on(&mut open, "secure.example.com", "/").await.0, StatusCode::OK);

    let rotated = s.ca.issue(&["secure.example.com"]);
    let before = generation(&s.gw);
    s.dir.write("secure-secret.yaml", &tls_secret("secure", &rotated.crt, &rotated.key));
    wait_past(&s.gw, before).await;
    assert_eq!(presented(s.https(), "secure.example.com").await, rotated.der, "new handshakes get the new one");
    assert_eq!(
        get_on(&mut open, "secure.example.com", "/still").await,
        (StatusCode::OK, "web".to_string()),
        "the connection opened before the rotation still serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_is_reported_and_its_host_gets_the_default_certificate() {
    let s = setup().await;
    let default = presented(s.https(), "unknown.example.com").await;
    let other = s.ca.issue(&["other.example.com"]);
    let before = generation(&s.gw);
    // The key of another certificate.
    s.dir.write("secure-secret.yaml", &tls_secret("secure", &s.secure.crt, &other.key));
    wait_past(&s.gw, before).await;
    let problems = problems(&s.gw, "default/secure");
    assert!(
        problems.iter().any(|p| p.contains("TLS secret default/secure tls.key does not match the certificate")
            && p.contains("secure.example.com get the default certificate")),
        "{problems:?}"
    );
    assert_eq!(presented(s.https(), "secure.example.com").await, default);
    assert_eq!(presented(s.https(), "a.wild.example.com").await, s.wild.der, "other hosts are unaffected");

    // Not PEM at all, and a missing Secret.
    let before = generation(&s.gw);
    s.dir.write("secure-secret.yaml", &tls_secret("secure", "garbage", "garbage"));
    s.dir.remove("wild-secret.yaml");
    wait_past(&s.gw, before).await;
    eventually("both problems reported", || async {
        problems_of(&s.gw, "default/secure", "holds no certificate") && problems_of(&s.gw, "default/wild", "not found")
    })
    .await;
    assert_eq!(presented(s.https(), "a.wild.example.com").await, default);
    // Routing itself is unaffected.
    let (stream, _) = connect(s.https(), "secure.example.com", &[b"http/1.1"]).await;
    assert_eq!(get_on(&mut http1(stream).await, "secure.example.com", "/").await.0, StatusCode::OK);
}

fn problems_of(gw: &wasmgress::Gateway, object: &str, text: &str) -> bool {
    problems(gw, object).iter().any(|p| p.contains(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_verifies_the_chain_over_http1_and_http2_and_metrics_show_expiry() {
    let s = setup().await;
    let ca = s.dir.path().join("ca.pem");
    std::fs::write(&ca, &s.ca.pem).unwrap();
    let port = s.https().port();
    for version in ["--http1.1", "--http2"] {
        let mut curl = std::process::Command::new("curl");
        curl.args(["-sS", "--fail", "--max-time", "10", version, "--cacert"])
            .arg(&ca)
            .arg("--resolve")
            .arg(format!("secure.example.com:{port}:127.0.0.1"))
            .args(["-w", "\n%{http_version}", &format!("https://secure.example.com:{port}/curl")]);
        let out = tokio::task::spawn_blocking(move || curl.output())
            .await
            .unwrap()
            .expect("curl runs (install the curl package)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "curl {version}: {}", String::from_utf8_lossy(&out.stderr));
        let expected = if version == "--http2" { "2" } else { "1.1" };
        assert_eq!(stdout, format!("web\n{expected}"), "curl {version}");
    }
    let url = format!("http://{}/metrics", s.gw.admin_addr());
    let resp = client().get(url.parse().unwrap()).await.unwrap();
    let text = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    for host in ["secure.example.com", "*.wild.example.com"] {
        let series = format!("wasmgress_tls_certificate_expiry_timestamp_seconds{{host=\"{host}\"}}");
        let at = metric(&text, &series).unwrap_or_else(|| panic!("{series} in {text}"));
        assert!(at > 1_700_000_000, "{series} = {at}");
    }
}

/// A rustls server configuration serving `leaf`, for HTTPS backends.
fn backend_tls(leaf: &Leaf) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(leaf.crt.as_bytes()).collect::<Result<_, _>>().unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// An Ingress with `annotations` given as `key: value, key: value`.
fn annotated(name: &str, host: &str, svc: &str, annotations: &str) -> String {
    let block: String = annotations.split(", ").map(|a| format!("    {a}\n")).collect();
    annotated_ingress(name, host, svc, &block)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstreams_are_verified_by_service_name_unless_told_not_to() {
    let ca = Ca::new();
    let good = Backend::start_tls("secure-pod", backend_tls(&ca.issue(&["web.default.svc"]))).await;
    let wrong = Backend::start_tls("wrong-pod", backend_tls(&ca.issue(&["someone-else.default.svc"]))).await;
    let dir = TempDir::new();
    dir.write("web.yaml", &service("web", &[good.addr]));
    dir.write("wrong.yaml", &service("wrong", &[wrong.addr]));
    let https = "wasmgress.io/backend-protocol: HTTPS";
    dir.write("a.yaml", &annotated("a", "a.example.com", "web", https));
    dir.write("b.yaml", &annotated("b", "b.example.com", "wrong", https));
    let insecure = format!("{https}, wasmgress.io/backend-tls-verify: \"false\"");
    dir.write("c.yaml", &annotated("c", "c.example.com", "wrong", &insecure));
    dir.write("d.yaml", &ingress("d", "d.example.com", "/", "web"));
    let mut cfg = config(dir.path());
    cfg.proxy.upstream.extra_roots = vec![CertificateDer::from(ca.der.clone())];
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    assert!(gw.status().borrow().diagnostics.is_empty(), "{:?}", gw.status().borrow().diagnostics);

    let a = get(gw.http_addr(), "a.example.com", "/over-tls").await;
    assert_eq!((a.status.as_u16(), a.body.as_str()), (200, "secure-pod"));
    assert_eq!(good.last().uri, "/over-tls");
    // A certificate for another name is refused: 502, the upstream never sees the request.
    assert_eq!(get(gw.http_addr(), "b.example.com", "/").await.status, 502);
    assert!(wrong.seen().is_empty());
    // Unless verification is off for that Ingress.
    let c = get(gw.http_addr(), "c.example.com", "/").await;
    assert_eq!((c.status.as_u16(), c.body.as_str()), (200, "wrong-pod"));
    // Plain HTTP to a TLS port fails rather than leaking anything.
    assert_eq!(get(gw.http_addr(), "d.example.com", "/").await.status, 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_upstreams_get_http2_and_trailers_come_back_intact() {
    let backend = Backend::start("grpc-pod").await;
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("grpc", &[backend.addr]));
    dir.write("g.yaml", &annotated("g", "grpc.example.com", "grpc", "wasmgress.io/backend-protocol: GRPC"));
    let gw = start(dir.path()).await;

    // A gRPC client: HTTP/2 with prior knowledge on the plain port.
    let tcp = TcpStream::connect(gw.http_addr()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    for i in 0..3 {
        let req = Request::post("http://grpc.example.com/trailers")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(http_body_util::Full::new(Bytes::from_static(b"\0\0\0\0\0")))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let collected = resp.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().expect("trailers reach the client");
        assert_eq!(trailers.get("grpc-status").unwrap(), "0");
        assert_eq!(trailers.get("grpc-message").unwrap(), "served-by-backend");
        assert_eq!(&collected.to_bytes()[..], b"grpc-pod", "request {i}");
    }
    let seen = backend.last();
    assert_eq!(seen.version, http::Version::HTTP_2, "the upstream is spoken to over HTTP/2");
    assert_eq!(seen.headers.get("te").unwrap(), "trailers");
    assert_eq!(seen.uri, "http://grpc.example.com/trailers");
    assert_eq!(backend.connections(), 1, "one multiplexed upstream connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_certificate_secret_and_an_expired_certificate() {
    let ca = Ca::new();
    let backend = Backend::start("web").await;
    let fallback = ca.issue(&["fallback.example.com"]);
    let expired = ca.issue_until(&["old.example.com"], 2021);
    let dir = TempDir::new();
    dir.write("svc.yaml", &service("web", &[backend.addr]));
    dir.write("fallback.yaml", &tls_secret("fallback", &fallback.crt, &fallback.key));
    dir.write("old-secret.yaml", &tls_secret("old", &expired.crt, &expired.key));
    dir.write("old.yaml", &tls_ingress("old", "old.example.com", "web", "old", ""));
    let mut cfg = config(dir.path());
    cfg.default_ssl_certificate = Some(wasmgress::routing::ObjectKey::new("default", "fallback"));
    let gw = wasmgress::Gateway::start(cfg).await.unwrap();
    let https = gw.https_addr().unwrap();
    assert_eq!(presented(https, "nobody.example.com").await, fallback.der, "--default-ssl-certificate");
    assert_eq!(presented(https, "old.example.com").await, expired.der, "an expired certificate is still served");
    let problems = problems(&gw, "default/old");
    assert!(
        problems.iter().any(|p| p.contains("TLS secret default/old: the certificate expired at 2021-01-01T00:00:00Z")),
        "{problems:?}"
    );
}
