//! The disk side of flows and models, for every driver: reading a flow file and measuring the
//! sound files it plays (their real lengths go into the flow's clock), reading the queue model
//! it names (and checking the queues the flow names against it), and finding flow, scenario
//! and sound files in folders.
//!
//! Parsing and checking are the engine's ([`engine::parse_and_check`] for text alone); this
//! module only adds what needs the disk, with its failures as [`FileError`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::engine::flow::Span;
use crate::engine::{self, Diagnostic, Flow};
use crate::queue::estimate::ModelEstimator;
use crate::queue::model::Model;
use crate::sounds;

/// Why a file could not be used. The I/O error is part of the sentence and deliberately not its
/// `source()`, so that `{:#}` (main's error line) does not print it twice.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("cannot list {}: {error}", path.display())]
    List { path: PathBuf, error: std::io::Error },
    #[error("cannot write {}: {error}", path.display())]
    Write { path: PathBuf, error: std::io::Error },
    /// The file was read and has `errors` errors; `rendered` holds every diagnostic
    /// compiler-style, to print first.
    #[error("{} has errors", path.display())]
    Invalid { path: PathBuf, rendered: String, errors: usize },
}

impl FileError {
    /// Everything to show a person: the rendered diagnostics of an invalid file, else the
    /// error's sentence.
    pub fn details(&self) -> String {
        match self {
            FileError::Invalid { rendered, .. } => rendered.clone(),
            e => e.to_string(),
        }
    }
}

/// One flow file, read and checked.
#[derive(Debug)]
pub struct FlowFile {
    pub path: PathBuf,
    pub source: String,
    /// The flow, unless the file has errors.
    pub flow: Option<Flow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl FlowFile {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics as a compiler prints them: `path:line:column: error: message`, then
    /// the source line with the span underlined.
    pub fn render(&self) -> String {
        let origin = self.path.display().to_string();
        self.diagnostics.iter().map(|d| d.render(&origin, &self.source)).collect()
    }

    /// The flow, or [`FileError::Invalid`] with the diagnostics rendered.
    pub fn into_flow(mut self) -> Result<Flow, FileError> {
        let rendered = self.render();
        let errors = self.diagnostics.iter().filter(|d| d.is_error()).count();
        self.flow.take().ok_or(FileError::Invalid { path: self.path, rendered, errors })
    }
}

/// A file's text; the error names the file.
pub fn read_text(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|error| FileError::Read { path: path.to_owned(), error })
}

/// Writes `contents` to `path` so that a reader (the server's reloader) sees the old file or
/// the new one, never half of it: a temporary file beside it, then a rename over it.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), FileError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path));
    write.map_err(|error| {
        let _ = std::fs::remove_file(&tmp);
        FileError::Write { path: path.to_owned(), error }
    })
}

/// Reads and checks a flow file, measuring the sounds it plays in `sounds_dir`.
pub fn read_flow(path: &Path, sounds_dir: &Path) -> Result<FlowFile, FileError> {
    Ok(flow_from_source(path, read_text(path)?, sounds_dir))
}

/// Like [`read_flow`] for text already read.
pub fn flow_from_source(path: &Path, source: String, sounds_dir: &Path) -> FlowFile {
    // Sounds are measured before the checks so that time-to-person uses their real lengths.
    let engine::parse::Parsed { mut flow, mut diagnostics } = engine::parse::parse(&source);
    if let Some(f) = &mut flow {
        diagnostics.extend(measure_sounds(f, sounds_dir));
        diagnostics.extend(engine::check::check(f));
        diagnostics.extend(check_queues(path, f));
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        flow = None;
    }
    engine::diagnostic::sort(&mut diagnostics);
    FlowFile { path: path.to_owned(), source, flow, diagnostics }
}

/// The queues `flow` names that the model it names (`model = "…"`) lacks, so that every driver
/// refuses such a flow as `check` does. A missing or broken model is [`attach_model`]'s to
/// report; a model given on the command line or in a scenario is a what-if for waits and may
/// cover fewer queues.
fn check_queues(flow_path: &Path, flow: &Flow) -> Vec<Diagnostic> {
    let Some(path) = model_path_for(flow_path, flow, None).filter(|p| p.exists()) else { return Vec::new() };
    match read_model(&path) {
        Ok(model) => {
            let names: Vec<&str> = model.queues.iter().map(|q| q.name.as_str()).collect();
            engine::check::check_queues(flow, &names)
        }
        Err(_) => Vec::new(),
    }
}

/// Puts the real length of every sound the flow plays into `flow.sound_ms`, and reports the
/// files that are missing, unreadable or truncated (errors) and those unfit for the telephone
/// line: wrong format, clipping, long silence at either end (warnings).
pub fn measure_sounds(flow: &mut Flow, sounds_dir: &Path) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    // The folder is listed once, and only if a templated name needs it.
    let mut listing: Option<Vec<String>> = None;
    for (name, span) in flow.sounds.clone() {
        // A templated name stands for every file that matches it; none is a warning, not an
        // error, since the engine speaks the text for a value without a recording.
        let files: Vec<Arc<str>> = if name.contains('{') {
            let files = listing.get_or_insert_with(|| sound_files(sounds_dir).unwrap_or_default());
            let found: Vec<Arc<str>> =
                files.iter().filter(|f| engine::flow::sound_matches(&name, f)).map(|f| Arc::from(f.as_str())).collect();
            if found.is_empty() {
                diags.push(
                    Diagnostic::warning(span.clone(), format!("no sound file matches `{name}`: the text is spoken"))
                        .with_help(format!("sound files are looked up in {}", sounds_dir.display())),
                );
            }
            found
        } else {
            vec![name]
        };
        for file in files {
            measure_one(flow, sounds_dir, file, &span, &mut diags);
        }
    }
    diags
}

/// Measures one file into `flow.sound_ms`, reporting format findings and read errors at `span`.
fn measure_one(flow: &mut Flow, sounds_dir: &Path, file: Arc<str>, span: &Span, diags: &mut Vec<Diagnostic>) {
    if flow.sound_ms.contains_key(&file) {
        return;
    }
    match inspect_cached(&sounds_dir.join(&*file)) {
        Ok(inspection) => {
            flow.sound_ms.insert(file.clone(), inspection.duration_ms.into());
            for finding in inspection.findings() {
                diags.push(
                    Diagnostic::warning(span.clone(), format!("sound `{file}` {}", finding.message()))
                        .with_help(finding.help()),
                );
            }
        }
        Err(e) => diags.push(
            Diagnostic::error(span.clone(), format!("sound `{file}`: {e}"))
                .with_help(format!("sound files are looked up in {}", sounds_dir.display())),
        ),
    }
}

/// [`sounds::check::inspect`], remembered for the life of the process while the file's size
/// and modification time stay the same: drivers and tests load the same flow many times, and
/// reading every sample of every prompt each time would dominate their run time.
fn inspect_cached(path: &Path) -> Result<sounds::check::Inspection, String> {
    type Key = (PathBuf, u64, Option<std::time::SystemTime>);
    static CACHE: Mutex<BTreeMap<Key, Result<sounds::check::Inspection, String>>> = Mutex::new(BTreeMap::new());
    let Ok(meta) = std::fs::metadata(path) else {
        return sounds::check::inspect(path).map_err(|e| e.to_string());
    };
    let key = (path.to_owned(), meta.len(), meta.modified().ok());
    // A poisoned lock only means another thread panicked mid-insert; the map is still usable.
    if let Some(found) = CACHE.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return found.clone();
    }
    let result = sounds::check::inspect(path).map_err(|e| e.to_string());
    CACHE.lock().unwrap_or_else(|e| e.into_inner()).insert(key, result.clone());
    result
}

/// The `*.wav` files in `sounds_dir` that no name in `played` refers to, sorted. A missing
/// folder has none.
pub fn unused_sounds(sounds_dir: &Path, played: &BTreeSet<String>) -> Result<Vec<String>, FileError> {
    let is_played = |file: &str| played.iter().any(|name| engine::flow::sound_matches(name, file));
    Ok(sound_files(sounds_dir)?.into_iter().filter(|file| !is_played(file)).collect())
}

/// The names of the `*.wav` files in `sounds_dir`, sorted; none if the folder does not exist.
pub fn sound_files(sounds_dir: &Path) -> Result<Vec<String>, FileError> {
    if !sounds_dir.is_dir() {
        return Ok(Vec::new());
    }
    Ok(list_dir(sounds_dir, is_wav_file)?.iter().map(|p| file_name(p).to_owned()).collect())
}

/// The files under `paths` that `keep` accepts, sorted: folders are searched (not recursively),
/// files named directly are taken as they are.
pub fn files_under(paths: &[PathBuf], keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>, FileError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(list_dir(path, keep)?);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    Ok(files)
}

/// The flow files under `paths` (folders are searched for `*.toml`, skipping scenario and
/// model files), sorted.
pub fn flow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileError> {
    files_under(paths, is_flow_file)
}

/// The entries of `dir` that `keep` accepts, sorted.
fn list_dir(dir: &Path, keep: fn(&Path) -> bool) -> Result<Vec<PathBuf>, FileError> {
    let list = |error| FileError::List { path: dir.to_owned(), error };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        if keep(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// Whether a path names a flow (not a `*.test.toml` scenario or a `*.model.toml` queue model).
pub fn is_flow_file(p: &Path) -> bool {
    let name = file_name(p);
    name.ends_with(".toml") && !is_scenario_file(p) && !name.ends_with(".model.toml")
}

/// Whether a path names a scenario file, `*.test.toml`.
pub fn is_scenario_file(p: &Path) -> bool {
    file_name(p).ends_with(".test.toml")
}

fn is_wav_file(p: &Path) -> bool {
    file_name(p).to_ascii_lowercase().ends_with(".wav")
}

/// Reads a queue model.
pub fn read_model(path: &Path) -> Result<Model, FileError> {
    let source = read_text(path)?;
    crate::queue::model::parse(&source).map_err(|diags| {
        let origin = path.display().to_string();
        FileError::Invalid {
            path: path.to_owned(),
            rendered: diags.iter().map(|d| d.render(&origin, &source)).collect(),
            errors: diags.iter().filter(|d| d.is_error()).count(),
        }
    })
}

/// The model a flow names (`model = "…"`, relative to the flow file), or `explicit`.
pub fn model_path_for(flow_path: &Path, flow: &Flow, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_owned());
    }
    let name = flow.model.as_ref()?;
    Some(flow_path.parent().unwrap_or(Path::new(".")).join(name))
}

/// Attaches the queue model the flow names (or `explicit`) as its wait estimator, so `queue`
/// announcements and `wait_over` branches use computed waits, and returns it. `Ok(None)`: the
/// flow names no model, or its file does not exist (the flow then runs without estimates);
/// `Err`: the model has errors, or an explicit model cannot be read.
pub fn attach_model(
    flow_path: &Path,
    flow: &mut Flow,
    explicit: Option<&Path>,
) -> Result<Option<Arc<ModelEstimator>>, FileError> {
    let Some(path) = model_path_for(flow_path, flow, explicit) else { return Ok(None) };
    if explicit.is_none() && !path.exists() {
        return Ok(None);
    }
    let estimator = Arc::new(ModelEstimator::new(read_model(&path)?));
    flow.estimator = Some(estimator.clone());
    Ok(Some(estimator))
}
