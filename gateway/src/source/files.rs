//! The file source: every Kubernetes object in a directory of YAML/JSON
//! manifests, re-read when the directory changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

use super::Snapshot;
use super::watch::DirWatch;
use crate::cluster::{Accepted, ClusterState};
use crate::diagnostics::{self, Diagnostic};

/// A file as last read: what identified its version, and what it held.
struct CachedFile {
    modified: Option<SystemTime>,
    len: u64,
    /// The objects of its last version that parsed.
    state: ClusterState,
    diagnostics: Vec<Diagnostic>,
}

/// Reads a manifest directory, keeping each file's last good version so
/// that a broken edit of one file loses nothing it served before.
pub struct FileSource {
    dir: PathBuf,
    files: BTreeMap<PathBuf, CachedFile>,
}

const FILE: &str = "file";

impl FileSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), files: BTreeMap::new() }
    }

    /// Reads every `*.yaml`, `*.yml` and `*.json` below the directory (hidden
    /// entries excepted, such as a ConfigMap mount's `..data`). Fails only
    /// when the directory itself cannot be read.
    pub fn load(&mut self) -> std::io::Result<Snapshot> {
        let mut paths = Vec::new();
        collect(&self.dir, &mut paths)?;
        paths.sort();
        let mut next = BTreeMap::new();
        for path in paths {
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let modified = meta.modified().ok();
            let entry = match self.files.remove(&path) {
                Some(old) if old.modified == modified && old.len == meta.len() => old,
                old => read_file(&path, modified, meta.len(), old),
            };
            next.insert(path, entry);
        }
        self.files = next;
        let mut state = ClusterState::default();
        let mut diagnostics = Vec::new();
        for f in self.files.values() {
            state.extend(&f.state);
            diagnostics.extend(f.diagnostics.iter().cloned());
        }
        Ok(Snapshot { state, diagnostics })
    }

    /// Loads, then re-loads whenever the directory changes (filesystem
    /// events, coalesced; plus a periodic rescan in case events are lost,
    /// e.g. when the directory is replaced), publishing each new snapshot.
    pub async fn watch(mut self, tx: watch::Sender<Snapshot>, rescan: Duration) {
        let mut dir = DirWatch::new(&self.dir, "manifest", rescan);
        loop {
            tokio::select! {
                () = dir.changed() => {}
                _ = tx.closed() => return,
            }
            match self.load() {
                Ok(snapshot) => {
                    tx.send_if_modified(|current| {
                        let changed = *current != snapshot;
                        if changed {
                            *current = snapshot;
                        }
                        changed
                    });
                }
                Err(e) => {
                    tracing::error!(
                        dir = %self.dir.display(), error = %e,
                        "cannot read the manifest directory; serving the last good configuration"
                    );
                    let problem = Diagnostic::warning(
                        diagnostics::SOURCE,
                        self.dir.display(),
                        format!("cannot read the manifest directory ({e}); serving the last good configuration"),
                    );
                    // The objects stay as last read; only the problem is added.
                    tx.send_if_modified(|current| {
                        if current.diagnostics.contains(&problem) {
                            return false;
                        }
                        current.diagnostics.retain(|d| !d.is_source_problem());
                        current.diagnostics.push(problem);
                        true
                    });
                }
            }
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            // A sub-directory that vanishes mid-walk is not an error of the whole.
            let _ = collect(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
    Ok(())
}

fn read_file(path: &Path, modified: Option<SystemTime>, len: u64, previous: Option<CachedFile>) -> CachedFile {
    let shown = path.display().to_string();
    let parsed = std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|text| parse_documents(path, &text));
    match parsed {
        Ok(values) => {
            let mut state = ClusterState::default();
            let mut diagnostics = Vec::new();
            for value in values {
                match state.add_object(value) {
                    Ok(Accepted::Yes) => {}
                    Ok(Accepted::OtherKind(kind)) => {
                        tracing::debug!(file = %shown, %kind, "skipping an object of a kind the gateway does not read")
                    }
                    Err(e) => diagnostics.push(Diagnostic::rejected(FILE, &shown, format!("rejected: {e}"))),
                }
            }
            CachedFile { modified, len, state, diagnostics }
        }
        Err(e) => {
            let (state, note) = match previous {
                Some(p) => (p.state, "its last good version keeps serving"),
                None => (ClusterState::default(), "none of its objects are loaded"),
            };
            let diagnostics = vec![Diagnostic::rejected(FILE, &shown, format!("cannot be parsed: {e}; {note}"))];
            CachedFile { modified, len, state, diagnostics }
        }
    }
}

/// The objects in one manifest file's text: one JSON document, or YAML documents
/// separated by `---` (empty ones skipped).
pub fn parse_documents(path: &Path, text: &str) -> Result<Vec<Value>, String> {
    let values: Vec<Value> = if path.extension().is_some_and(|e| e == "json") {
        vec![serde_json::from_str(text).map_err(|e| e.to_string())?]
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?
    };
    Ok(values.into_iter().filter(|v| !v.is_null()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!("wasmgress-files-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n";

    #[test]
    fn multi_document_yaml_json_and_subdirectories_are_read() {
        let d = TempDir::new("multi");
        std::fs::write(
            d.0.join("a.yaml"),
            format!("{SVC}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n---\n"),
        )
        .unwrap();
        std::fs::create_dir(d.0.join("sub")).unwrap();
        std::fs::write(d.0.join("sub/b.json"), r#"{"kind":"Service","metadata":{"name":"b"}}"#).unwrap();
        std::fs::write(d.0.join("notes.txt"), "kind: Service").unwrap();
        std::fs::create_dir(d.0.join("..data")).unwrap();
        std::fs::write(d.0.join("..data/c.yaml"), SVC.replace("name: a", "name: hidden")).unwrap();
        let snap = FileSource::new(&d.0).load().unwrap();
        let names: Vec<_> = snap.state.services.iter().map(|s| s.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(snap.diagnostics.is_empty(), "{:?}", snap.diagnostics);
    }

    #[test]
    fn a_broken_edit_keeps_the_last_good_version_and_says_so() {
        let d = TempDir::new("broken");
        let f = d.0.join("a.yaml");
        std::fs::write(&f, SVC).unwrap();
        let mut src = FileSource::new(&d.0);
        assert_eq!(src.load().unwrap().state.services.len(), 1);
        std::fs::write(&f, "kind: Service\nmetadata: {name: [unclosed\n  more text here").unwrap();
        let snap = src.load().unwrap();
        assert_eq!(snap.state.services.len(), 1, "last good version still served");
        assert_eq!(snap.diagnostics.len(), 1);
        assert!(snap.diagnostics[0].message.contains("last good version keeps serving"), "{}", snap.diagnostics[0]);
        assert!(snap.diagnostics[0].object.ends_with("a.yaml"));
    }

    #[test]
    fn an_invalid_object_is_rejected_alone() {
        let d = TempDir::new("invalid");
        std::fs::write(
            d.0.join("a.yaml"),
            format!("{SVC}---\nkind: Ingress\nmetadata: {{name: bad}}\nspec: {{rules: 3}}\n"),
        )
        .unwrap();
        let snap = FileSource::new(&d.0).load().unwrap();
        assert_eq!(snap.state.services.len(), 1);
        assert!(snap.diagnostics[0].message.contains("Ingress bad"), "{}", snap.diagnostics[0]);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        assert!(FileSource::new("/nonexistent/wasmgress/manifests").load().is_err());
    }
}
