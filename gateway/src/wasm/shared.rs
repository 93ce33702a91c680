//! Shared data: a key-value store every instance of a plugin sees, on every
//! worker, with compare-and-swap versions (Envoy's `proxy_get/set_shared_data`).
//! It is scoped by plugin name, as Envoy scopes it by VM id, and capped in
//! bytes so that a plugin cannot grow the gateway's memory without bound.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use super::abi::Status;

#[derive(Default)]
struct Scope {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    bytes: usize,
}

static SHARED: LazyLock<Mutex<HashMap<String, Scope>>> = LazyLock::new(Default::default);
static NEXT_CAS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

fn next_cas() -> u32 {
    loop {
        let cas = NEXT_CAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // 0 means "no CAS" to the guest: never hand it out.
        if cas != 0 {
            return cas;
        }
    }
}

/// The value under `key` and its version.
pub fn get(plugin: &str, key: &[u8]) -> Option<(Vec<u8>, u32)> {
    let shared = SHARED.lock().ok()?;
    shared.get(plugin)?.entries.get(key).cloned()
}

/// Stores `value` under `key`. A non-zero `cas` must match the current
/// version (CasMismatch otherwise); `limit` caps the plugin's total bytes.
pub fn set(plugin: &str, key: &[u8], value: Vec<u8>, cas: u32, limit: usize) -> Status {
    let Ok(mut shared) = SHARED.lock() else { return Status::InternalFailure };
    let scope = shared.entry(plugin.to_string()).or_default();
    let old = scope.entries.get(key);
    if cas != 0 && old.is_some_and(|(_, current)| *current != cas) {
        return Status::CasMismatch;
    }
    let old_size = old.map_or(0, |(v, _)| key.len() + v.len());
    let bytes = scope.bytes - old_size + key.len() + value.len();
    if bytes > limit {
        return Status::BadArgument;
    }
    scope.bytes = bytes;
    scope.entries.insert(key.to_vec(), (value, next_cas()));
    Status::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_guards_concurrent_updates() {
        assert_eq!(get("cas-test", b"k"), None);
        assert_eq!(set("cas-test", b"k", b"1".to_vec(), 0, 1024), Status::Ok);
        let (v, cas) = get("cas-test", b"k").unwrap();
        assert_eq!(v, b"1");
        assert_eq!(set("cas-test", b"k", b"2".to_vec(), cas, 1024), Status::Ok);
        // A writer holding the old version loses.
        assert_eq!(set("cas-test", b"k", b"3".to_vec(), cas, 1024), Status::CasMismatch);
        assert_eq!(get("cas-test", b"k").unwrap().0, b"2");
        assert_eq!(get("other-plugin", b"k"), None, "scoped by plugin");
    }

    #[test]
    fn a_plugin_cannot_store_more_than_its_limit() {
        assert_eq!(set("cap-test", b"a", vec![0; 60], 0, 100), Status::Ok);
        assert_eq!(set("cap-test", b"b", vec![0; 60], 0, 100), Status::BadArgument);
        // Replacing a value frees its old size first.
        assert_eq!(set("cap-test", b"a", vec![0; 90], 0, 100), Status::Ok);
    }
}
