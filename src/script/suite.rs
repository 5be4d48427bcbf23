//! One scenario file run against its flow: each case played and compared, and what no case
//! covered. `switchboard test` prints it; the studio shows it on the page.

use std::path::{Path, PathBuf};

use super::scenario::{self, Coverage, Scenarios, Uncovered};
use crate::files::{self, FileError};

/// A case and what differed from its expectations (nothing: it passed).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub name: String,
    pub problems: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A scenario file's cases, run.
#[derive(Debug)]
pub struct FileResult {
    pub flow_path: PathBuf,
    pub cases: Vec<CaseResult>,
    pub uncovered: Uncovered,
}

/// Why no case of a file could run; each renders as the command line prints it.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{0}")]
    Read(#[from] FileError),
    /// The scenario file itself is wrong: its rendered diagnostic.
    #[error("{0}")]
    Scenarios(String),
    /// The flow has errors: its rendered diagnostics.
    #[error("the flow {} has errors\n{rendered}", path.display())]
    Flow { path: PathBuf, rendered: String },
    #[error("the queue model of {} has errors\n{details}", path.display())]
    Model { path: PathBuf, details: String },
    #[error("the scenarios name nodes the flow does not have:\n{}", .0.join("\n"))]
    Unknown(Vec<String>),
}

/// The flow a scenario file is about: its `flow`, else its own name without `.test`.
pub fn flow_path(file: &Path, scenarios: &Scenarios) -> PathBuf {
    match &scenarios.flow {
        Some(f) => file.parent().unwrap_or(Path::new(".")).join(f),
        None => PathBuf::from(file.to_string_lossy().replace(".test.toml", ".toml")),
    }
}

/// Runs every case of `file` against its flow, whose sounds are in `sounds_for(flow path)`.
pub fn run_file(file: &Path, sounds_for: impl Fn(&Path) -> PathBuf) -> Result<FileResult, SuiteError> {
    let text = files::read_text(file)?;
    let scenarios =
        Scenarios::parse(&text).map_err(|d| SuiteError::Scenarios(d.render(&file.display().to_string(), &text)))?;
    let flow_path = flow_path(file, &scenarios);
    let loaded = files::read_flow(&flow_path, &sounds_for(&flow_path))?;
    let rendered = loaded.render();
    let Some(mut flow) = loaded.flow else { return Err(SuiteError::Flow { path: flow_path, rendered }) };
    files::attach_model(&flow_path, &mut flow, None)
        .map_err(|e| SuiteError::Model { path: flow_path.clone(), details: e.details() })?;
    // Checked before any case runs: a misspelt node would pass or fail for the wrong reason.
    let unknown = scenarios.validate(&flow);
    if !unknown.is_empty() {
        return Err(SuiteError::Unknown(unknown));
    }
    let mut coverage = Coverage::default();
    let mut cases = Vec::new();
    for case in &scenarios.cases {
        let mut result = CaseResult { name: case.name.clone(), problems: Vec::new() };
        let with_model;
        let flow = match &case.model {
            Some(model) => {
                let mut f = flow.clone();
                let path = file.parent().unwrap_or(Path::new(".")).join(model);
                if let Err(e) = files::attach_model(&flow_path, &mut f, Some(&path)) {
                    result.problems.push(format!("the queue model {} has errors\n{}", path.display(), e.details()));
                    cases.push(result);
                    continue;
                }
                with_model = f;
                &with_model
            }
            None => &flow,
        };
        match scenario::play(flow, case) {
            Ok(t) => {
                result.problems = scenario::compare(case, &t);
                coverage.add(&t);
            }
            Err(e) => result.problems.push(e.to_string()),
        }
        cases.push(result);
    }
    let uncovered = coverage.uncovered(&flow);
    Ok(FileResult { flow_path, cases, uncovered })
}
