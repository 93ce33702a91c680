//! A raw HTTP/2 peer for abuse tests: writes frames no well-behaved client
//! library would (floods, rapid resets, oversized header blocks) and reads
//! back what the server sent, frame by frame.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

/// One frame on the wire.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("frame payload fits");
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A header block as HEADERS and CONTINUATION frames within the default
/// 16 KiB frame size, ending the stream.
pub fn header_frames(stream: u32, block: &[u8]) -> Vec<u8> {
    let mut chunks = block.chunks(16 << 10).peekable();
    let mut out = Vec::new();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let flags = if last { END_HEADERS } else { 0 };
        let (kind, flags) = if first { (HEADERS, flags | END_STREAM) } else { (CONTINUATION, flags) };
        out.extend(frame(kind, flags, stream, chunk));
        first = false;
    }
    out
}

/// An HPACK block for `GET path` on `authority`, plus `extra` headers, all
/// as literals without Huffman coding.
pub fn get_block(authority: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    // Static table: 2 = :method GET, 6 = :scheme http; 1 = :authority, 4 = :path.
    let mut out = vec![0x82, 0x86];
    literal_indexed_name(&mut out, 1, authority.as_bytes());
    literal_indexed_name(&mut out, 4, path.as_bytes());
    for (name, value) in extra {
        out.push(0x00);
        length(&mut out, name.len());
        out.extend_from_slice(name.as_bytes());
        length(&mut out, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn literal_indexed_name(out: &mut Vec<u8>, index: u8, value: &[u8]) {
    // "Literal without indexing", name from the static table (4-bit prefix).
    out.push(index);
    length(out, value.len());
    out.extend_from_slice(value);
}

/// An HPACK integer with a 7-bit prefix and the Huffman bit clear.
fn length(out: &mut Vec<u8>, mut n: usize) {
    if n < 127 {
        out.push(n as u8);
        return;
    }
    out.push(127);
    n -= 127;
    while n >= 128 {
        out.push((n % 128) as u8 | 0x80);
        n /= 128;
    }
    out.push(n as u8);
}

/// What the server sent on one connection until it closed it.
#[derive(Debug, Default)]
pub struct ServerSide {
    /// The GOAWAY error code, if one came.
    pub goaway: Option<u32>,
    /// HEADERS frames received (answers begun).
    pub headers: usize,
    pub rst_streams: usize,
    pub pings: usize,
    /// The server closed the connection (EOF or reset) before the deadline.
    pub closed: bool,
}

/// Connects and sends the client preface with an empty SETTINGS frame.
pub async fn connect(addr: SocketAddr) -> (OwnedReadHalf, OwnedWriteHalf) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (read, mut write) = stream.into_split();
    write.write_all(PREFACE).await.expect("preface");
    write.write_all(&frame(SETTINGS, 0, 0, &[])).await.expect("settings");
    (read, write)
}

/// Reads frames until the server closes the connection or `within` passes.
pub async fn read_until_closed(mut read: OwnedReadHalf, within: Duration) -> ServerSide {
    let mut seen = ServerSide::default();
    let reading = async {
        let mut head = [0u8; 9];
        loop {
            if read.read_exact(&mut head).await.is_err() {
                return true;
            }
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0; len];
            if read.read_exact(&mut payload).await.is_err() {
                return true;
            }
            match head[3] {
                HEADERS => seen.headers += 1,
                RST_STREAM => seen.rst_streams += 1,
                PING => seen.pings += 1,
                GOAWAY if payload.len() >= 8 => {
                    seen.goaway = Some(u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]));
                }
                _ => {}
            }
        }
    };
    let closed = tokio::time::timeout(within, reading).await.unwrap_or(false);
    seen.closed = closed;
    seen
}
