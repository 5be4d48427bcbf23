//! The flows a server runs, by name, with every version a call in progress may still need.
//!
//! A flow is reloaded when its file changes ([`Flows::reload`], called by a poller and on
//! SIGHUP). New calls get the newest version; a call carries the version it started on in its
//! token and finishes on it. Each version's source is archived in the data directory, so a
//! restart between two steps of a call still finds the version it runs on, and memory keeps
//! only the current version and the [`KEEP_VERSIONS`] − 1 most recently used others: a flow
//! rewritten ten times a second for days would otherwise grow without bound. An evicted
//! version is read back from the archive when a call asks for it. A version whose archive
//! write failed (a full disk) is never evicted, and its write is retried on every reload pass.
//! An edit that fails the checks never replaces a working flow: its diagnostics are logged and
//! the old version keeps serving.
//!
//! A flow that names a queue model (`model = "…"`) gets it attached exactly as `switchboard
//! call` does ([`files::attach_model`]), so queues announce computed waits. The model file is
//! watched too (by a hash of its text): an edit replaces the estimator of the current version
//! without changing the flow's version, so calls in progress keep their tokens valid; an edit
//! that fails to parse is refused like a broken flow edit, and the old flow and model keep
//! serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::engine::Flow;
use crate::files;
use crate::queue::estimate::ModelEstimator;

/// How many versions of one flow memory keeps, the current one included, when the others
/// are archived. Calls last minutes, so even at ten edits a second most calls in progress find
/// theirs here; the rest cost one read of a small file.
pub const KEEP_VERSIONS: usize = 32;

/// Loaded flows, shared by every request.
#[derive(Debug)]
pub struct Flows {
    dirs: Vec<PathBuf>,
    sounds: PathBuf,
    /// Where every version's source is kept (`None`: memory only, nothing is evicted).
    archive: Option<PathBuf>,
    by_name: RwLock<HashMap<String, Entry>>,
    /// Ticks once per use of a version, to find the least recently used one.
    clock: AtomicU64,
}

/// A version in memory.
#[derive(Debug)]
struct Kept {
    flow: Arc<Flow>,
    /// The [`Flows::clock`] tick of its last use; updated under the read lock.
    used: AtomicU64,
    /// Its source while the archive write has not succeeded (`None`: archived, or no archive).
    unarchived: Option<String>,
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
    /// The current version and the most recently used others (see [`KEEP_VERSIONS`]).
    versions: HashMap<u64, Kept>,
    /// Why the file's latest edit was refused, while the current version keeps serving.
    rejected: Option<String>,
}

impl Entry {
    /// Drops the least recently used versions past [`KEEP_VERSIONS`]; never the current one, nor
    /// one that exists only here (unarchived: a call on it could not get it back).
    fn evict(&mut self) {
        while self.versions.len() > KEEP_VERSIONS {
            let current = self.current.version;
            let oldest = self
                .versions
                .iter()
                .filter(|(v, k)| **v != current && k.unarchived.is_none())
                .min_by_key(|(_, k)| k.used.load(Ordering::Relaxed))
                .map(|(v, _)| *v);
            let Some(oldest) = oldest else { return };
            self.versions.remove(&oldest);
        }
    }
}

/// A flow as `/flows` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listing {
    pub name: String,
    pub file: String,
    pub version: String,
    /// Versions in memory, the current one included: at most [`KEEP_VERSIONS`], unless some
    /// could not be archived.
    pub versions_kept: usize,
    /// Versions whose archive write failed so far (retried on every reload pass).
    pub versions_unarchived: usize,
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
        let flows = Flows { dirs, sounds, archive, by_name: RwLock::new(HashMap::new()), clock: AtomicU64::new(0) };
        let report = flows.reload();
        (flows, report)
    }

    /// Re-reads every flow file that is new or changed since the last look.
    pub fn reload(&self) -> Reload {
        self.retry_archive();
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
            let unarchived = (!self.archive_source(&name, flow.version, &loaded.source)).then_some(loaded.source);
            let model_hash = model.as_ref().and(stamp.model);
            let flow = Arc::new(flow);
            let kept = self.kept(flow.clone(), unarchived);
            let mut map = self.write();
            match map.get_mut(&name) {
                Some(entry) => {
                    entry.stamp = stamp;
                    entry.rejected = None;
                    entry.model_path = model_path;
                    if entry.current.version != flow.version || entry.model_hash != model_hash {
                        // Same version, new model: calls on this version hear the new estimates.
                        entry.versions.insert(flow.version, kept);
                        entry.current = flow;
                        entry.model = model;
                        entry.model_hash = model_hash;
                        if self.archive.is_some() {
                            entry.evict();
                        }
                        report.updated.push(name);
                    }
                }
                None => {
                    let versions = HashMap::from([(flow.version, kept)]);
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
        if let Some(kept) = self.read().get(name).and_then(|e| e.versions.get(&version)) {
            kept.used.store(self.tick(), Ordering::Relaxed);
            return Some(kept.flow.clone());
        }
        let path = self.archived(name, version)?;
        let loaded = files::read_flow(&path, &self.sounds).ok()?;
        let mut flow = loaded.flow.filter(|f| f.version == version)?;
        // An archived version's model is the one served now: the model file is not archived.
        flow.estimator = self.current(name).and_then(|f| f.estimator.clone());
        let flow = Arc::new(flow);
        let kept = self.kept(flow.clone(), None);
        if let Some(entry) = self.write().get_mut(name) {
            entry.versions.insert(version, kept);
            entry.evict(); // Read from the archive: there is one.
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
                versions_unarchived: e.versions.values().filter(|k| k.unarchived.is_some()).count(),
                model: e.model.as_ref().and(e.model_path.as_ref()).map(|p| p.display().to_string()),
                rejected_edit: e.rejected.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Writes a version's source to the archive; false when that failed (true without one).
    fn archive_source(&self, name: &str, version: u64, source: &str) -> bool {
        let (Some(dir), Some(path)) = (&self.archive, self.archived(name, version)) else { return true };
        if path.exists() {
            return true;
        }
        // Written aside then renamed: a disk that fills mid-write leaves no torn version behind.
        let aside = path.with_extension("toml.new");
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&aside, source))
            .and_then(|()| std::fs::rename(&aside, &path));
        match written {
            Ok(()) => true,
            Err(e) => {
                let _ = std::fs::remove_file(&aside);
                tracing::warn!(path = %path.display(), error = %e, "cannot archive a flow version yet; it stays in memory and is retried");
                false
            }
        }
    }

    /// Where a version's source is archived (`None`: no archive).
    fn archived(&self, name: &str, version: u64) -> Option<PathBuf> {
        Some(self.archive.as_ref()?.join(format!("{name}-{}.toml", version_hex(version))))
    }

    /// Archives the versions whose archive write failed before, then evicts what it can.
    fn retry_archive(&self) {
        let pending: Vec<(String, u64, String)> = self
            .read()
            .iter()
            .flat_map(|(name, e)| {
                e.versions.iter().filter_map(|(v, k)| Some((name.clone(), *v, k.unarchived.clone()?)))
            })
            .collect();
        for (name, version, source) in pending {
            if !self.archive_source(&name, version, &source) {
                continue;
            }
            if let Some(entry) = self.write().get_mut(&name) {
                if let Some(kept) = entry.versions.get_mut(&version) {
                    kept.unarchived = None;
                }
                entry.evict();
            }
        }
    }

    fn kept(&self, flow: Arc<Flow>, unarchived: Option<String>) -> Kept {
        Kept { flow, used: AtomicU64::new(self.tick()), unarchived }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A flows folder holding `line.toml`, edition by edition, and the flows read from it.
    struct Site {
        dir: tempfile::TempDir,
        edition: u64,
    }

    impl Site {
        fn new() -> Site {
            let dir = tempfile::tempdir().expect("a temp dir");
            std::fs::create_dir_all(dir.path().join("flows")).expect("mkdir");
            std::fs::create_dir_all(dir.path().join("sounds")).expect("mkdir");
            let mut site = Site { dir, edition: 0 };
            site.edit();
            site
        }

        fn open(&self, archive: &Path) -> Flows {
            let (flows, report) =
                Flows::open(vec![self.dir.path().join("flows")], self.dir.path().join("sounds"), Some(archive.into()));
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
            flows
        }

        /// Writes the next edition, with a modification time of its own so the edit is seen.
        fn edit(&mut self) {
            self.edition += 1;
            let path = self.dir.path().join("flows/line.toml");
            let source =
                include_str!("../../faults/line.toml").replace("edition 1.", &format!("edition {}.", self.edition));
            std::fs::write(&path, source).expect("write the flow");
            let file = std::fs::File::options().write(true).open(&path).expect("open the flow");
            file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + self.edition))
                .expect("set mtime");
        }
    }

    fn listing(flows: &Flows) -> Listing {
        flows.list().into_iter().next().expect("the line flow")
    }

    fn current(flows: &Flows) -> u64 {
        flows.current("line").expect("the line flow").version
    }

    #[test]
    fn memory_keeps_the_recently_used_versions_and_reads_the_others_back() {
        let mut site = Site::new();
        let archive = site.dir.path().join("versions");
        let flows = site.open(&archive);
        let (first, second) = (current(&flows), {
            site.edit();
            flows.reload();
            current(&flows)
        });
        for _ in 0..100 {
            site.edit();
            assert_eq!(flows.reload().updated, ["line"]);
            // A call in progress on the second version keeps asking for it.
            assert_eq!(flows.version("line", second).map(|f| f.version), Some(second));
            assert!(listing(&flows).versions_kept <= KEEP_VERSIONS, "{:?}", listing(&flows));
        }
        assert_eq!(listing(&flows).versions_kept, KEEP_VERSIONS);
        let archived = |v: u64| archive.join(format!("line-{}.toml", version_hex(v)));
        // The second version is in memory (used all along), the first only in the archive.
        std::fs::remove_file(archived(second)).expect("the second version was archived");
        assert_eq!(flows.version("line", second).map(|f| f.version), Some(second));
        // The first version is gone from memory: without its archived copy it is not found...
        let aside = archive.join("first.aside");
        std::fs::rename(archived(first), &aside).expect("the first version was archived");
        assert_eq!(flows.version("line", first).map(|f| f.version), None);
        // ...and with it, a call on it finishes on it.
        std::fs::rename(&aside, archived(first)).expect("put it back");
        assert_eq!(flows.version("line", first).map(|f| f.version), Some(first), "read back from the archive");
        assert_eq!(listing(&flows).versions_kept, KEEP_VERSIONS);
    }

    #[test]
    fn a_version_that_cannot_be_archived_is_kept_until_it_is() {
        let mut site = Site::new();
        // A file where the archive folder should be: no folder can be made there, even by root.
        let archive = site.dir.path().join("versions");
        std::fs::write(&archive, "not a folder").expect("block the archive");
        let flows = site.open(&archive);
        let first = current(&flows);
        for _ in 0..KEEP_VERSIONS + 10 {
            site.edit();
            flows.reload();
        }
        let blocked = listing(&flows);
        assert_eq!((blocked.versions_kept, blocked.versions_unarchived), (KEEP_VERSIONS + 11, KEEP_VERSIONS + 11));
        assert_eq!(flows.version("line", first).map(|f| f.version), Some(first), "kept in memory");
        // The disk has room again: the next reload pass archives them all, then evicts.
        std::fs::remove_file(&archive).expect("unblock the archive");
        assert!(flows.reload().updated.is_empty(), "no edit, only the retry");
        let retried = listing(&flows);
        assert_eq!((retried.versions_kept, retried.versions_unarchived), (KEEP_VERSIONS, 0));
        assert!(archive.join(format!("line-{}.toml", version_hex(first))).exists());
        assert_eq!(flows.version("line", first).map(|f| f.version), Some(first));
    }
}
