//! The flows a server runs, by name, with every version a call in progress may still need.
//!
//! A flow is reloaded when its file changes ([`Flows::reload`], called by a poller and on
//! SIGHUP). New calls get the newest version; a call carries the version it started on in its
//! token and finishes on it, because old versions stay in memory keyed by their hash. Each
//! version's source is also archived in the data directory, so a restart between two steps of
//! a call still finds the version it runs on. An edit that fails the checks never replaces a
//! working flow: its diagnostics are logged and the old version keeps serving.
//!
//! A flow that names a queue model (`model = "…"`) gets it attached exactly as `switchboard
//! call` does ([`files::attach_model`]), so queues announce computed waits. The model file is
//! watched too (by a hash of its text): an edit replaces the estimator of the current version
//! without changing the flow's version, so calls in progress keep their tokens valid; an edit
//! that fails to parse is refused like a broken flow edit, and the old flow and model keep
//! serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::engine::Flow;
use crate::files;
use crate::queue::estimate::ModelEstimator;

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
    /// What the flow file and its model looked like when last read, to notice edits.
    stamp: Stamp,
    /// The model file the flow names, whether or not it exists.
    model_path: Option<PathBuf>,
    /// The hash of the model text behind the served estimator (`None`: no model attached).
    model_hash: Option<u64>,
    model: Option<Arc<ModelEstimator>>,
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
    /// The queue model attached to the current version, if any.
    pub model: Option<String>,
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

/// What a flow file and its model file look like: the flow's modification time and size, the
/// hash of the model's text (a model is small, and a hash notices an edit that keeps both).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Stamp {
    flow: Option<(SystemTime, u64)>,
    model: Option<u64>,
}

impl Stamp {
    fn read(flow: &Path, model: Option<&Path>) -> Stamp {
        let flow = std::fs::metadata(flow).ok().and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        let model = model.and_then(|p| std::fs::read(p).ok()).map(|text| xxhash_rust::xxh3::xxh3_64(&text));
        Stamp { flow, model }
    }
}

impl Flows {
    /// Reads the flows under `dirs`. Files with errors are reported in the returned
    /// [`Reload`] and skipped.
    pub fn open(dirs: Vec<PathBuf>, sounds: PathBuf, archive: Option<PathBuf>) -> (Flows, Reload) {
        let flows = Flows { dirs, sounds, archive, by_name: RwLock::new(HashMap::new()) };
        let report = flows.reload();
        (flows, report)
    }

    /// Re-reads every flow file that is new or changed since the last look.
    pub fn reload(&self) -> Reload {
        let mut report = Reload::default();
        let files = match files::flow_files(&self.dirs) {
            Ok(files) => files,
            Err(e) => {
                report.rejected.push((self.dirs.first().cloned().unwrap_or_default(), e.to_string()));
                return report;
            }
        };
        for path in files {
            let Some(name) = flow_name(&path) else { continue };
            let (known, model_path) = match self.read().get(&name) {
                Some(e) => (Some(e.stamp), e.model_path.clone()),
                None => (None, None),
            };
            let now = Stamp::read(&path, model_path.as_deref());
            if known == Some(now) {
                continue;
            }
            let mut loaded = match files::read_flow(&path, &self.sounds) {
                Ok(loaded) => loaded,
                Err(e) => {
                    report.rejected.push((path, e.to_string()));
                    continue;
                }
            };
            let attached = loaded.flow.take().ok_or_else(|| loaded.render()).and_then(|mut flow| {
                // The model is hashed before it is read: an edit in between is seen next time.
                let model_path = files::model_path_for(&path, &flow, None);
                let stamp = Stamp::read(&path, model_path.as_deref());
                let model = files::attach_model(&path, &mut flow, None).map_err(|e| e.details())?;
                Ok((flow, model, model_path, stamp))
            });
            let (flow, model, model_path, stamp) = match attached {
                Ok(attached) => attached,
                Err(errors) => {
                    // Remember the stamp so a broken file is reported once, not every second.
                    if let Some(entry) = self.write().get_mut(&name) {
                        entry.stamp = now;
                        entry.rejected = Some(errors.clone());
                    }
                    report.rejected.push((path.clone(), errors));
                    continue;
                }
            };
            self.archive_source(&name, flow.version, &loaded.source);
            let model_hash = model.as_ref().and(stamp.model);
            let flow = Arc::new(flow);
            let mut map = self.write();
            match map.get_mut(&name) {
                Some(entry) => {
                    entry.stamp = stamp;
                    entry.rejected = None;
                    entry.model_path = model_path;
                    if entry.current.version != flow.version || entry.model_hash != model_hash {
                        // Same version, new model: calls on this version hear the new estimates.
                        entry.versions.insert(flow.version, flow.clone());
                        entry.current = flow;
                        entry.model = model;
                        entry.model_hash = model_hash;
                        report.updated.push(name);
                    }
                }
                None => {
                    let versions = HashMap::from([(flow.version, flow.clone())]);
                    let entry =
                        Entry { path, stamp, model_path, model_hash, model, current: flow, versions, rejected: None };
                    map.insert(name.clone(), entry);
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
        let loaded = files::read_flow(&path, &self.sounds).ok()?;
        let mut flow = loaded.flow.filter(|f| f.version == version)?;
        // An archived version's model is the one served now: the model file is not archived.
        flow.estimator = self.current(name).and_then(|f| f.estimator.clone());
        let flow = Arc::new(flow);
        if let Some(entry) = self.write().get_mut(name) {
            entry.versions.insert(version, flow.clone());
        }
        Some(flow)
    }

    /// The queue model attached to a flow's current version, with that version.
    pub fn model(&self, name: &str) -> Option<(Arc<Flow>, Arc<ModelEstimator>)> {
        self.read().get(name).and_then(|e| Some((e.current.clone(), e.model.clone()?)))
    }

    /// The names of the flows with a queue model attached, sorted.
    pub fn with_models(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.read().iter().filter(|(_, e)| e.model.is_some()).map(|(n, _)| n.clone()).collect();
        names.sort();
        names
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
                model: e.model.as_ref().and(e.model_path.as_ref()).map(|p| p.display().to_string()),
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
