//! `switchboard sounds`: work with the sound files flows play.
//!
//! - `sounds check [DIR]`: every WAV in the folder measured (format, length, peak, clipping,
//!   silence at the ends), the files flows name but the folder lacks, and the unused ones;
//! - `sounds convert IN... OUT`: any WAV to 8 kHz mono 16-bit PCM (several inputs are joined);
//! - `sounds dtmf FILE`: the touch-tone keys in a recording.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};

use switchboard::engine::flow::sound_matches;
use switchboard::files;
use switchboard::sounds::{check, convert, dtmf, wav};

#[derive(clap::Subcommand)]
pub enum SoundsCommand {
    /// Check every WAV file in a folder (default: sounds/) against the flows that play them.
    Check {
        /// The folder of sound files.
        dir: Option<PathBuf>,
        /// Flow files or folders whose sounds these are (default: flows/).
        #[arg(long = "flows", value_name = "PATH")]
        flows: Vec<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Convert WAV files (any rate, channels, PCM or float) to 8 kHz mono 16-bit PCM;
    /// several inputs are joined in order.
    Convert {
        /// Input WAV files.
        #[arg(required = true, value_name = "IN")]
        inputs: Vec<PathBuf>,
        /// The telephony WAV file to write.
        #[arg(value_name = "OUT")]
        output: PathBuf,
    },
    /// List the DTMF keys in a WAV file with their timestamps.
    Dtmf {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: SoundsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SoundsCommand::Check { dir, flows, json } => {
            check_dir(&dir.unwrap_or_else(|| PathBuf::from("sounds")), flows, json)
        }
        SoundsCommand::Convert { inputs, output } => {
            let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
            // Formatted here rather than chained: SoundError already includes its source's text.
            let ms = convert::convert_files(&inputs, &output)
                .map_err(|e| anyhow!("cannot convert to {}: {e}", output.display()))?;
            eprintln!("wrote {}: 8000 Hz mono 16-bit PCM, {:.1} s", output.display(), f64::from(ms) / 1000.0);
            Ok(ExitCode::SUCCESS)
        }
        SoundsCommand::Dtmf { file, json } => {
            let (samples, sample_rate) =
                wav::read_mono(&file).map_err(|e| anyhow!("cannot decode {}: {e}", file.display()))?;
            let found = dtmf::detect(&samples, sample_rate);
            if json {
                println!("{}", serde_json::to_string_pretty(&found)?);
            } else {
                for d in &found {
                    let (minutes, ms) = (d.start_ms / 60_000, d.start_ms % 60_000);
                    println!("{minutes:02}:{:02}.{:03}  {}  ({} ms)", ms / 1000, ms % 1000, d.key, d.duration_ms);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One file's result in `sounds check --json`.
#[derive(serde::Serialize)]
struct FileReport {
    file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspection: Option<check::Inspection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    findings: Vec<check::Finding>,
    /// The flows that play it.
    played_by: Vec<String>,
}

#[derive(serde::Serialize)]
struct Report {
    files: Vec<FileReport>,
    /// Named by a flow, absent from the folder: (file, flow).
    missing: Vec<(String, String)>,
    unused: Vec<String>,
    total_bytes: u64,
}

fn check_dir(dir: &Path, flows: Vec<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let flows = if flows.is_empty() { vec![super::default_flows()] } else { flows };
    // Which flows name which files; parsing is enough, the flows' own problems are `check`'s.
    let mut played_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in files::flow_files(&flows).context("cannot list flows")? {
        let source = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(flow) = switchboard::engine::parse::parse(&source).flow {
            let names: BTreeSet<String> = flow.sounds.iter().map(|(name, _)| name.to_string()).collect();
            for name in names {
                played_by.entry(name).or_default().push(path.display().to_string());
            }
        }
    }
    let names = files::sound_files(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut report = Report { files: Vec::new(), missing: Vec::new(), unused: Vec::new(), total_bytes: 0 };
    for name in &names {
        let path = dir.join(name);
        report.total_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let (inspection, error) = match check::inspect(&path) {
            Ok(i) => (Some(i), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let findings = inspection.as_ref().map(check::Inspection::findings).unwrap_or_default();
        let players: Vec<String> = played_by
            .iter()
            .filter(|(played, _)| sound_matches(played, name))
            .flat_map(|(_, flows)| flows.iter().cloned())
            .collect();
        if players.is_empty() {
            report.unused.push(name.clone());
        }
        report.files.push(FileReport { file: name.clone(), inspection, error, findings, played_by: players });
    }
    // A templated name (`wait_{wait_min}.ru.wav`) with no file at all is only a warning in
    // `check`: the engine speaks its text instead. Here it counts as missing too.
    for (name, players) in &played_by {
        if !names.iter().any(|file| sound_matches(name, file)) {
            report.missing.extend(players.iter().map(|flow| (name.clone(), flow.clone())));
        }
    }
    let errors = report.missing.len() + report.files.iter().filter(|f| f.error.is_some()).count();
    let warnings: usize = report.files.iter().map(|f| f.findings.len()).sum();

    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(dir, &report);
        eprintln!(
            "checked {} sound file{} ({:.0} KB): {errors} error{}, {warnings} warning{}, {} unused",
            names.len(),
            plural(names.len()),
            report.total_bytes as f64 / 1024.0,
            plural(errors),
            plural(warnings),
            report.unused.len()
        );
    }
    Ok(super::exit(errors > 0))
}

fn print_report(dir: &Path, report: &Report) {
    let width = report.files.iter().map(|f| f.file.chars().count()).max().unwrap_or(0);
    for f in &report.files {
        let path = dir.join(&f.file);
        match (&f.inspection, &f.error) {
            (Some(i), _) => {
                let peak = i.peak_dbfs.map_or_else(|| "silent".to_owned(), |db| format!("peak {db:.1} dBFS"));
                println!("{:<width$}  {:>6.1} s  {}  {peak}", f.file, f64::from(i.duration_ms) / 1000.0, i.format());
            }
            (None, Some(e)) => eprintln!("{}: error: {e}", path.display()),
            (None, None) => {}
        }
        for finding in &f.findings {
            eprintln!("{}: warning: {}\n  = help: {}", path.display(), finding.message(), finding.help());
        }
    }
    for (name, flow) in &report.missing {
        eprintln!("{}: error: {flow} plays it, but the file does not exist", dir.join(name).display());
    }
    if !report.unused.is_empty() {
        eprintln!("note: no flow plays {}", report.unused.join(", "));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
