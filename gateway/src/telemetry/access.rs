//! The access log: one JSON line per request on stdout, written by a
//! thread of its own so a slow stdout never holds up a worker.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use serde::Serialize;

/// One finished request, as logged.
#[derive(Serialize)]
pub struct Entry<'a> {
    /// RFC 3339, UTC, when the request arrived.
    pub time: String,
    pub client: SocketAddr,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub protocol: &'a str,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub plugins: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<&'a str>,
    /// `continue`, or who answered instead of the upstream: `plugin`
    /// (a plugin answered or failed closed), `gateway` (no route, 5xx...).
    pub decision: &'a str,
    /// The response ended before its last byte (the client went away).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub aborted: bool,
}

pub fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// Where access log lines go.
#[derive(Clone, Default)]
pub enum Sink {
    #[default]
    Off,
    /// Standard output, through a writer thread.
    Stdout,
    /// Each line to a channel (for embedding the gateway, and tests).
    Lines(Sender<String>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Off => "Off",
            Sink::Stdout => "Stdout",
            Sink::Lines(_) => "Lines",
        })
    }
}

impl Sink {
    pub fn is_on(&self) -> bool {
        !matches!(self, Sink::Off)
    }

    /// Queues one line.
    pub fn log(&self, entry: &Entry<'_>) {
        let tx = match self {
            Sink::Off => return,
            Sink::Stdout => stdout_writer(),
            Sink::Lines(tx) => tx,
        };
        let Ok(mut line) = serde_json::to_string(entry) else { return };
        line.push('\n');
        let _ = tx.send(line);
    }
}

fn stdout_writer() -> &'static Sender<String> {
    static TX: OnceLock<Sender<String>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new().name("wasmgress-access-log".into()).spawn(move || write_lines(rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the access log writer");
        }
        tx
    })
}

/// Writes lines as they come, flushing whenever none is waiting.
fn write_lines(rx: Receiver<String>) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(line.as_bytes());
        while let Ok(line) = rx.try_recv() {
            let _ = out.write_all(line.as_bytes());
        }
        let _ = out.flush();
    }
}
