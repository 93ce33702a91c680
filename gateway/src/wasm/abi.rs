//! Constants and encodings of the Proxy-Wasm ABI v0.2.x, as its SDKs
//! (e.g. the `proxy-wasm` crate's `types.rs`) define them.

/// A header map as plugins see it: lower-case names, pseudo-headers first.
pub type HeaderPairs = Vec<(String, Vec<u8>)>;

/// Host call results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    BadArgument = 2,
    SerializationFailure = 3,
    InvalidMemoryAccess = 6,
    Empty = 7,
    CasMismatch = 8,
    InternalFailure = 10,
    Unimplemented = 12,
}

/// What a stream callback asks for.
pub const ACTION_CONTINUE: i32 = 0;
pub const ACTION_PAUSE: i32 = 1;

/// Streams `proxy_continue_stream` and `proxy_close_stream` name.
pub const STREAM_REQUEST: i32 = 0;
pub const STREAM_RESPONSE: i32 = 1;

/// Header maps.
pub const MAP_REQUEST_HEADERS: i32 = 0;
pub const MAP_REQUEST_TRAILERS: i32 = 1;
pub const MAP_RESPONSE_HEADERS: i32 = 2;
pub const MAP_RESPONSE_TRAILERS: i32 = 3;
pub const MAP_HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
pub const MAP_HTTP_CALL_RESPONSE_TRAILERS: i32 = 7;

/// Buffers.
pub const BUFFER_REQUEST_BODY: i32 = 0;
pub const BUFFER_RESPONSE_BODY: i32 = 1;
pub const BUFFER_HTTP_CALL_RESPONSE_BODY: i32 = 4;
pub const BUFFER_VM_CONFIGURATION: i32 = 6;
pub const BUFFER_PLUGIN_CONFIGURATION: i32 = 7;

/// `proxy_log` levels: trace, debug, info, warn, error, critical.
pub const LOG_TRACE: i32 = 0;

/// The foreign function a plugin calls to say it does nothing with
/// responses (`wasmgress_sdk::REQUEST_ONLY`): its response callbacks are
/// then skipped, and a response no plugin of the route wants streams past
/// them untouched.
pub const FOREIGN_REQUEST_ONLY: &[u8] = b"wasmgress_request_only";

/// How many bytes `encode_map` makes of `pairs`.
pub fn encoded_len<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> usize {
    4 + pairs.iter().map(|(k, v)| 8 + k.as_ref().len() + v.as_ref().len() + 2).sum::<usize>()
}

/// Serialises header pairs the ABI way: a little-endian count, then each
/// key and value length, then every key and value followed by a NUL.
pub fn encode_map<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(pairs));
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// Parses a serialised header map; `None` when it is malformed.
pub fn decode_map(bytes: &[u8]) -> Option<HeaderPairs> {
    let u32_at = |at: usize| -> Option<usize> {
        bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let count = u32_at(0)?;
    let mut sizes = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        sizes.push((u32_at(4 + i * 8)?, u32_at(8 + i * 8)?));
    }
    let mut at = 4usize.checked_add(count.checked_mul(8)?)?;
    let mut out = Vec::with_capacity(sizes.len());
    for (klen, vlen) in sizes {
        let key = bytes.get(at..at.checked_add(klen)?)?;
        at = at.checked_add(klen + 1)?;
        let value = bytes.get(at..at.checked_add(vlen)?)?;
        at = at.checked_add(vlen + 1)?;
        out.push((String::from_utf8_lossy(key).to_ascii_lowercase(), value.to_vec()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_round_trip() {
        let pairs = vec![(":path".to_string(), b"/a".to_vec()), ("x-a".to_string(), b"".to_vec())];
        assert_eq!(encoded_len(&pairs), encode_map(&pairs).len());
        assert_eq!(decode_map(&encode_map(&pairs)), Some(pairs));
        assert_eq!(decode_map(&[]), Some(vec![]));
    }

    #[test]
    fn malformed_maps_are_rejected_not_trusted() {
        assert_eq!(decode_map(&[1, 0, 0, 0]), None);
        assert_eq!(decode_map(&[255, 255, 255, 255, 0, 0]), None);
        let mut big = encode_map(&[("k".to_string(), b"v".to_vec())]);
        big[4] = 200;
        assert_eq!(decode_map(&big), None);
    }
}
