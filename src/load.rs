//! Reading flows from disk for the drivers: the text, the parsed flow, the sound files it
//! plays (their real durations go into the flow's clock) and diagnostics ready to print.
//!
//! This is the I/O half of `engine::load`; the engine itself never touches a file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use annotate_snippets::{Level, Renderer, Snippet};

use crate::engine::flow::Span;
use crate::engine::{self, Diagnostic, Flow, Severity};
use crate::sounds;

/// One flow file as loaded.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub source: String,
    /// The flow, unless the file has errors.
    pub flow: Option<Flow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics as a compiler prints them: `path:line:column: error: message`, then
    /// the source line with the span underlined.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&render(&self.path, &self.source, d));
        }
        out
    }
}

/// Reads and checks a flow file, measuring the sounds it plays in `sounds_dir`.
pub fn load_file(path: &Path, sounds_dir: &Path) -> std::io::Result<Loaded> {
    let source = std::fs::read_to_string(path)?;
    Ok(load_source(path, source, sounds_dir))
}

/// Like [`load_file`] for text already read.
pub fn load_source(path: &Path, source: String, sounds_dir: &Path) -> Loaded {
    // Sounds are measured before the checks so that time-to-person uses their real lengths.
    let engine::parse::Parsed { mut flow, mut diagnostics } = engine::parse::parse(&source);
    if let Some(f) = &mut flow {
        diagnostics.extend(measure_sounds(f, sounds_dir));
        diagnostics.extend(engine::check::check(f));
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        flow = None;
    }
    diagnostics.sort_by_key(|d| (d.span.start, std::cmp::Reverse(d.severity)));
    Loaded { path: path.to_owned(), source, flow, diagnostics }
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
            flow.sound_ms.insert(file.clone(), inspection.duration_ms);
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
pub fn unused_sounds(sounds_dir: &Path, played: &BTreeSet<String>) -> std::io::Result<Vec<String>> {
    let is_played = |file: &str| played.iter().any(|name| engine::flow::sound_matches(name, file));
    Ok(sound_files(sounds_dir)?.into_iter().filter(|file| !is_played(file)).collect())
}

/// The names of the `*.wav` files in `sounds_dir`, sorted; none if the folder does not exist.
pub fn sound_files(sounds_dir: &Path) -> std::io::Result<Vec<String>> {
    if !sounds_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(sounds_dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.to_ascii_lowercase().ends_with(".wav") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// One diagnostic in compiler style.
pub fn render(path: &Path, source: &str, d: &Diagnostic) -> String {
    let (line, column) = engine::diagnostic::line_column(source, d.span.start);
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let origin = path.display().to_string();
    let mut out = format!("{origin}:{line}:{column}: {severity}: {}\n", d.message);
    let level = match d.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
    };
    let end = d.span.end.max(d.span.start).min(source.len());
    let start = d.span.start.min(end);
    let snippet = level
        .title(&d.message)
        .snippet(Snippet::source(source).line_start(1).origin(&origin).fold(true).annotation(level.span(start..end)));
    let rendered = Renderer::plain().render(snippet).to_string();
    // The renderer's own title line repeats the header above; keep only the snippet.
    if let Some((_, body)) = rendered.split_once('\n') {
        out.push_str(body);
        out.push('\n');
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out
}

/// The call's local wall time for the engine: `at` in the flow's time zone, or the server's
/// zone when the flow names none (or names one chrono-tz does not know; `check` reports that).
pub fn local_time(flow: &Flow, at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    match flow.timezone.as_deref().and_then(|tz| tz.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => at.with_timezone(&tz).naive_local(),
        None => at.with_timezone(&chrono::Local).naive_local(),
    }
}

/// The flow files under `paths` (directories are searched for `*.toml`, skipping scenario and
/// model files), sorted.
pub fn flow_files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in std::fs::read_dir(path)? {
                let p = entry?.path();
                if is_flow_file(&p) {
                    files.push(p);
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a path names a flow (not a `*.test.toml` scenario or a `*.model.toml` queue model).
pub fn is_flow_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".toml") && !name.ends_with(".test.toml") && !name.ends_with(".model.toml")
}

/// Reads a queue model; on problems, the error is every diagnostic rendered compiler-style.
pub fn load_model(path: &Path) -> Result<crate::queue::model::Model, String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::queue::model::parse(&source)
        .map_err(|diags| diags.iter().map(|d| render(path, &source, d)).collect::<String>())
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
/// `Err`: the model has errors, rendered, or an explicit model cannot be read.
pub fn attach_model(
    flow_path: &Path,
    flow: &mut Flow,
    explicit: Option<&Path>,
) -> Result<Option<std::sync::Arc<crate::queue::estimate::ModelEstimator>>, String> {
    let Some(path) = model_path_for(flow_path, flow, explicit) else { return Ok(None) };
    if explicit.is_none() && !path.exists() {
        return Ok(None);
    }
    let model = load_model(&path)?;
    let estimator = std::sync::Arc::new(crate::queue::estimate::ModelEstimator::new(model));
    flow.estimator = Some(estimator.clone());
    Ok(Some(estimator))
}
