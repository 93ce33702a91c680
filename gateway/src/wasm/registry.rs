//! The plugins the operator installed: every `NAME.wasm` in the plugin
//! directory, each compiled once per content digest, with precompiled
//! artifacts cached on disk so a restart does not recompile.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::{InstancePre, Module};

use super::PluginRuntime;
use super::host::HostState;
use crate::diagnostics::Diagnostic;

/// A compiled plugin module, ready to instantiate.
#[derive(Clone)]
pub struct Plugin {
    pub name: Arc<str>,
    /// Hex sha256 of the `.wasm` file.
    pub sha256: String,
    pub pre: InstancePre<HostState>,
    /// The file as it was when read, if it had settled by then.
    stamp: Option<FileStamp>,
}

/// What a plugin file looked like when it was read: a rescan that finds
/// the same reuses the module without reading and hashing the file again
/// (megabytes per plugin, every few seconds). The inode catches a file
/// renamed over it, the change time any write, even one that keeps the
/// modification time (`cp -p`): the kernel sets it at every change of the
/// file, the modification time's included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    ctime: (i64, i64),
}

impl FileStamp {
    /// How long a file must have been left alone for its stamp to be
    /// trusted: a write in the same clock tick as the look (file times
    /// come from a coarse clock) would otherwise leave the stamp unchanged.
    const SETTLED: Duration = Duration::from_secs(1);

    /// The stamp of `meta`, or `None` while the file changed less than
    /// [`Self::SETTLED`] before `now` (then it is read and hashed again).
    fn of(meta: &std::fs::Metadata, now: SystemTime) -> Option<Self> {
        now.duration_since(change_time(meta)?).ok().filter(|age| *age >= Self::SETTLED)?;
        Some(Self { dev: meta.dev(), ino: meta.ino(), len: meta.len(), ctime: (meta.ctime(), meta.ctime_nsec()) })
    }
}

/// When the file last changed (its inode's change time).
fn change_time(meta: &std::fs::Metadata) -> Option<SystemTime> {
    let since_epoch = Duration::new(u64::try_from(meta.ctime()).ok()?, u32::try_from(meta.ctime_nsec()).ok()?);
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Plugin({} sha256:{})", self.name, self.sha256)
    }
}

/// Plugins by name.
#[derive(Default)]
pub struct PluginRegistry {
    plugins: HashMap<String, Arc<Plugin>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl PluginRegistry {
    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.get(name)
    }

    /// Names whose module differs between `self` and `other` (changed,
    /// added or removed).
    pub fn changed_since(&self, other: &PluginRegistry) -> Vec<String> {
        let differs = |a: &Self, b: &Self| {
            a.plugins
                .iter()
                .filter(|(n, p)| b.get(n).is_none_or(|q| q.sha256 != p.sha256))
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>()
        };
        let mut names = differs(self, other);
        names.extend(differs(other, self));
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.plugins.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Loads every `*.wasm` in `dir`. A module that does not compile, or is
    /// not a Proxy-Wasm plugin, is left out with a diagnostic. Modules
    /// unchanged since `previous` (same name and digest, or the same file
    /// untouched since it was read) are reused as they are.
    pub fn load_dir(
        runtime: &PluginRuntime,
        dir: &Path,
        cache: Option<&Path>,
        previous: Option<&PluginRegistry>,
    ) -> (Self, Vec<Diagnostic>) {
        let mut registry = PluginRegistry::default();
        let mut diagnostics = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            diagnostics.push(Diagnostic::rejected("plugins", dir.display(), "the plugin directory cannot be read"));
            return (registry, diagnostics);
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "wasm")) {
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else { continue };
            // Looked at before reading: a write after the look changes the
            // stamp, so the next rescan reads the file again.
            let stamp = std::fs::metadata(&path).ok().and_then(|m| FileStamp::of(&m, SystemTime::now()));
            let prior = previous.and_then(|p| p.get(&name));
            if let Some(same) = prior.filter(|p| stamp.is_some() && p.stamp == stamp) {
                registry.plugins.insert(name, same.clone());
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    diagnostics.push(Diagnostic::rejected("plugin", path.display(), format!("cannot be read: {e}")));
                    continue;
                }
            };
            let sha256 = hex(&Sha256::digest(&bytes));
            if let Some(same) = prior.filter(|p| p.sha256 == sha256) {
                // The same module: kept, with the stamp that spares the next rescan.
                let same = match stamp {
                    Some(_) if same.stamp != stamp => Arc::new(Plugin { stamp, ..Plugin::clone(same) }),
                    _ => same.clone(),
                };
                registry.plugins.insert(name, same);
                continue;
            }
            match load(runtime, &name, &bytes, sha256, stamp, cache) {
                Ok(p) => {
                    tracing::info!(plugin = %name, sha256 = %p.sha256, "plugin loaded");
                    registry.plugins.insert(name, Arc::new(p));
                }
                // A module half-way through being copied in must not take
                // its plugin away: the last good version stays until it loads.
                Err(e) => match prior {
                    Some(old) => {
                        let kept = format!("{e}; still serving the version with sha256 {}", old.sha256);
                        diagnostics.push(Diagnostic::rejected("plugin", path.display(), kept));
                        registry.plugins.insert(name, old.clone());
                    }
                    None => diagnostics.push(Diagnostic::rejected("plugin", path.display(), e)),
                },
            }
        }
        (registry, diagnostics)
    }
}

fn load(
    runtime: &PluginRuntime,
    name: &str,
    bytes: &[u8],
    sha256: String,
    stamp: Option<FileStamp>,
    cache: Option<&Path>,
) -> Result<Plugin, String> {
    let engine = runtime.engine();
    let cached = cache.map(|dir| dir.join(format!("{sha256}-{:016x}.cwasm", runtime.engine_fingerprint())));
    // SAFETY: the cache directory is the operator's, written only by this
    // code from modules it compiled with an engine of the same fingerprint.
    let from_cache = cached.as_ref().and_then(|p| unsafe { Module::deserialize_file(engine, p) }.ok());
    let module = match from_cache {
        Some(m) => m,
        None => {
            let m = Module::new(engine, bytes).map_err(|e| format!("is not a valid WebAssembly module: {e:#}"))?;
            if let (Some(p), Ok(serialized)) = (&cached, m.serialize()) {
                let tmp = p.with_extension("tmp");
                if std::fs::write(&tmp, serialized).and_then(|()| std::fs::rename(&tmp, p)).is_err() {
                    tracing::warn!(path = %p.display(), "cannot write the plugin cache");
                }
            }
            m
        }
    };
    let abi_ok = module.exports().any(|e| matches!(e.name(), "proxy_abi_version_0_2_0" | "proxy_abi_version_0_2_1"));
    if !abi_ok {
        return Err("is not a Proxy-Wasm plugin: it exports neither proxy_abi_version_0_2_0 nor _0_2_1".into());
    }
    let pre = runtime.instance_pre(&module).map_err(|e| format!("cannot be linked: {e:#}"))?;
    Ok(Plugin { name: name.into(), sha256, pre, stamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed_at(meta: &std::fs::Metadata) -> SystemTime {
        change_time(meta).expect("a file changed after 1970")
    }

    #[test]
    fn a_file_stamp_is_trusted_once_the_file_has_settled_and_changes_with_it() {
        let path = std::env::temp_dir().join(format!("wasmgress-stamp-{}.wasm", std::process::id()));
        std::fs::write(&path, b"first").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let at = changed_at(&meta);
        // Just written: a write in the same clock tick would go unseen.
        assert_eq!(FileStamp::of(&meta, at), None);
        assert_eq!(FileStamp::of(&meta, at + Duration::from_millis(999)), None);
        let settled = FileStamp::of(&meta, at + FileStamp::SETTLED).expect("settled");
        assert_eq!(FileStamp::of(&std::fs::metadata(&path).unwrap(), at + Duration::from_secs(60)), Some(settled));

        // Rewritten in place (same inode), or replaced by a rename: a new stamp.
        std::fs::write(&path, b"second!").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let rewritten = FileStamp::of(&meta, changed_at(&meta) + FileStamp::SETTLED).expect("settled");
        assert_ne!(rewritten, settled);
        let other = path.with_extension("new");
        std::fs::write(&other, b"second!").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let renamed = FileStamp::of(&meta, changed_at(&meta) + FileStamp::SETTLED).expect("settled");
        assert_ne!(renamed.ino, rewritten.ino);
        assert_ne!(renamed, rewritten);
        std::fs::remove_file(&path).unwrap();
    }
}
