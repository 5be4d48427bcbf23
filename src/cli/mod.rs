//! Subcommands, one file each. Every one returns the exit code it wants; errors become exit 2.

mod call;
mod callbacks;
mod check;
mod db;
mod erlang;
mod estimate;
mod fit;
mod graph;
mod import;
mod report;
mod serve;
mod simulate;
mod sounds;
mod staff;
mod studio;
mod test;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Parser, Subcommand};
use switchboard::engine::Flow;
use switchboard::files::{self, FileError};
use switchboard::queue::model::Model;

#[derive(Parser)]
#[command(name = "switchboard", version, about = "IVR flows: check, call, serve, estimate and simulate")]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

impl Cli {
    /// Whether this run is the long-lived server, which must survive clients that hang up.
    pub fn serves(&self) -> bool {
        matches!(self.command, Some(Command::Serve(_)))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Check flows for errors and warnings (default: flows/).
    Check(check::Args),
    /// Call a flow: scripted with --keys, or interactively at a terminal.
    Call(call::Args),
    /// Draw a flow as Graphviz dot, Mermaid or JSON.
    Graph(graph::Args),
    /// Run scenario tests (*.test.toml) and report coverage.
    Test(test::Args),
    /// Simulate call load (--stationary: one queue, constant rates, no IVR).
    Simulate(simulate::Args),
    /// Work with sound files: check them, convert them to telephony audio, find DTMF keys.
    Sounds {
        #[command(subcommand)]
        command: sounds::SoundsCommand,
    },
    /// Erlang C/A queue metrics for a staffing cell, or the agents needed for a service level.
    Erlang(erlang::Args),
    /// Serve flows to Twilio as a voice webhook.
    Serve(Box<serve::Args>),
    /// Expected waits from the queue model: weekday × hour table, one cell (--at), or --best.
    Estimate(estimate::Args),
    /// Agents needed per weekday × hour for the model's service-level target.
    Staff(staff::Args),
    /// Fit a queue model (arrivals, handle time, patience) from a call log or interval volumes.
    Fit(fit::Args),
    /// IVR analytics from the event log: outcomes, containment, drop-off per node, queues.
    Report(report::Args),
    /// The event log: delete old calls, export the per-call CSV `fit` reads.
    Db {
        #[command(subcommand)]
        command: db::DbCommand,
    },
    /// Booked call-backs waiting for an agent (from the event log's database).
    Callbacks {
        #[command(subcommand)]
        command: callbacks::CallbacksCommand,
    },
    /// The designers' page: graph, editor, phone and tests of the flows in a folder.
    Studio(studio::Args),
    /// Convert a flow from another tool (a Twilio Studio export) to our format.
    Import {
        #[command(subcommand)]
        command: import::ImportCommand,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Call(args)) => call::run(args),
        Some(Command::Graph(args)) => graph::run(args),
        Some(Command::Test(args)) => test::run(args),
        Some(Command::Simulate(args)) => simulate::run(args),
        Some(Command::Sounds { command }) => sounds::run(command),
        Some(Command::Erlang(args)) => erlang::run(args),
        Some(Command::Serve(args)) => serve::run(*args),
        Some(Command::Estimate(args)) => estimate::run(args),
        Some(Command::Staff(args)) => staff::run(args),
        Some(Command::Fit(args)) => fit::run(args),
        Some(Command::Report(args)) => report::run(args),
        Some(Command::Db { command }) => db::run(command),
        Some(Command::Callbacks { command }) => callbacks::run(command),
        Some(Command::Import { command }) => import::run(command),
        Some(Command::Studio(args)) => studio::run(args),
        None => call::demo(),
    }
}

/// Where the sample flows and their sounds live by default.
fn default_flows() -> PathBuf {
    PathBuf::from("flows")
}

/// The `sounds/` folder beside a flow's folder (`flows/x.toml` plays from `sounds/`).
fn sounds_dir_for(flow_path: &Path) -> PathBuf {
    let dir = flow_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).join("sounds")
}

/// The flow a command runs; if it has errors they are printed compiler-style and it is refused.
fn read_flow(path: &Path, sounds: &Path) -> anyhow::Result<Flow> {
    files::read_flow(path, sounds)?.into_flow().map_err(|e| match e {
        FileError::Invalid { .. } => {
            let e = shown(e);
            anyhow!("{e}: run `switchboard check {}`", path.display())
        }
        e => e.into(),
    })
}

/// A queue model; if it has errors they are printed compiler-style and it is refused.
fn read_model(path: &Path) -> anyhow::Result<Model> {
    files::read_model(path).map_err(|e| shown(e).into())
}

/// Prints the diagnostics an invalid file carries, so that the error itself is one line.
fn shown(e: FileError) -> FileError {
    if let FileError::Invalid { rendered, .. } = &e {
        eprint!("{rendered}");
    }
    e
}

fn exit(problems: bool) -> ExitCode {
    if problems { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
