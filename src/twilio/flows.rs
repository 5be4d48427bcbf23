//! The flows a server runs, by name, with every version a call in progress may still need.
//!
//! A flow is reloaded when its file changes ([`Flows::reload`], called by a poller and on
//! SIGHUP). New calls get the newest version; a call carries the version it started on in its
//! token and finishes on it, because old versions stay in memory keyed by their hash. Each
//! version's source is also archived in the data directory, so a restart between two steps of
//! a call still finds the version it runs on. An edit that fails the checks never replaces a
//! working flow: its diagnostics are logged and the old version keeps serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::engine::Flow;
use crate::load;

/// Loaded flows, shared by every request.
#[derive(Debug)]
pub struct Flows {
    dirs: Vec<PathBuf>,
    sounds: PathBuf,
    /// Where every version's source is kept (`None`: memory only).
    archive: Option<PathBuf>,
    by_name: RwLock<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    /// What the file looked like when last read, to notice edits.
    stamp: Option<(SystemTime, u64)>,
    current: Arc<Flow>,
    versions: HashMap<u64, Arc<Flow>>,
    /// Why the file's latest edit was refused, while the current version keeps serving.
    rejected: Option<String>,
}

/// A flow as `/flows` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listing {
    pub name: String,
    pub file: String,
    pub version: String,
    pub versions_kept: usize,
    /// The diagnostics of an edit that was refused; `None` when the file is what is served.
    pub rejected_edit: Option<String>,
}

/// What one reload did.
#[derive(Debug, Default)]
pub struct Reload {
    /// Flows that got a new version.
    pub updated: Vec<String>,
    /// Files that failed to load, with their rendered diagnostics; the old version stays.
    pub rejected: Vec<(PathBuf, String)>,
}

/// The name a flow is served under: its file name without `.toml`.
pub fn flow_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str()?.strip_suffix(".toml").map(str::to_owned)
}

/// A version hash as the API shows it.
pub fn version_hex(version: u64) -> String {
    format!("{version:016x}")
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl Flows {
    /// Reads the flows under `dirs`. Files with errors are reported in the returned
    /// [`Reload`] and skipped.
    pub fn load(dirs: Vec<PathBuf>, sounds: PathBuf, archive: Option<PathBuf>) -> (Flows, Reload) {
        let flows = Flows { dirs, sounds, archive, by_name: RwLock::new(HashMap::new()) };
        let report = flows.reload();
        (flows, report)
    }

    /// Re-reads every flow file that is new or changed since the last look.
    pub fn reload(&self) -> Reload {
        let mut report = Reload::default();
        let files = match load::flow_files(&self.dirs) {
            Ok(files) => files,
            Err(e) => {
                report.rejected.push((self.dirs.first().cloned().unwrap_or_default(), e.to_string()));
                return report;
            }
        };
        for path in files {
            let Some(name) = flow_name(&path) else { continue };
            let now = stamp(&path);
            let known = self.read().get(&name).map(|e| e.stamp);
            if known.is_some_and(|s| s == now) {
                continue;
            }
            let loaded = match load::load_file(&path, &self.sounds) {
                Ok(loaded) => loaded,
                Err(e) => {
                    report.rejected.push((path, e.to_string()));
                    continue;
                }
            };
            let Some(flow) = loaded.flow else {
                let errors = loaded.render();
                // Remember the stamp so a broken file is reported once, not every second.
                if let Some(entry) = self.write().get_mut(&name) {
                    entry.stamp = now;
                    entry.rejected = Some(errors.clone());
                }
                report.rejected.push((path.clone(), errors));
                continue;
            };
            self.archive_source(&name, flow.version, &loaded.source);
            let flow = Arc::new(flow);
            let mut map = self.write();
            match map.get_mut(&name) {
                Some(entry) => {
                    entry.stamp = now;
                    entry.rejected = None;
                    if entry.current.version != flow.version {
                        entry.versions.insert(flow.version, flow.clone());
                        entry.current = flow;
                        report.updated.push(name);
                    }
                }
                None => {
                    let versions = HashMap::from([(flow.version, flow.clone())]);
                    map.insert(name.clone(), Entry { path, stamp: now, current: flow, versions, rejected: None });
                    report.updated.push(name);
                }
            }
        }
        report
    }

    /// The newest version of a flow: what a new call runs.
    pub fn current(&self, name: &str) -> Option<Arc<Flow>> {
        self.read().get(name).map(|e| e.current.clone())
    }

    /// A given version of a flow: from memory, else from the archive (after a restart).
    pub fn version(&self, name: &str, version: u64) -> Option<Arc<Flow>> {
        if let Some(flow) = self.read().get(name).and_then(|e| e.versions.get(&version)) {
            return Some(flow.clone());
        }
        let path = self.archive.as_ref()?.join(format!("{name}-{}.toml", version_hex(version)));
        let loaded = load::load_file(&path, &self.sounds).ok()?;
        let flow = Arc::new(loaded.flow.filter(|f| f.version == version)?);
        if let Some(entry) = self.write().get_mut(name) {
            entry.versions.insert(version, flow.clone());
        }
        Some(flow)
    }

    /// Every flow with its current version, sorted by name.
    pub fn list(&self) -> Vec<Listing> {
        let mut list: Vec<Listing> = self
            .read()
            .iter()
            .map(|(name, e)| Listing {
                name: name.clone(),
                file: e.path.display().to_string(),
                version: version_hex(e.current.version),
                versions_kept: e.versions.len(),
                rejected_edit: e.rejected.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    fn archive_source(&self, name: &str, version: u64, source: &str) {
        let Some(dir) = &self.archive else { return };
        let path = dir.join(format!("{name}-{}.toml", version_hex(version)));
        if path.exists() {
            return;
        }
        if let Err(e) = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, source)) {
            tracing::warn!(path = %path.display(), error = %e, "cannot archive a flow version; calls on it will not survive a restart");
        }
    }

    // A poisoned lock only means another request panicked mid-update of a map of Arcs; the
    // map itself is still consistent, so keep serving.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.by_name.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.by_name.write().unwrap_or_else(|e| e.into_inner())
    }
}
