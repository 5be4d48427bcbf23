//! `switchboard test [PATH...]`: runs the scenario files (`*.test.toml`) beside flows and
//! reports each case, with a diff for failures, and what no case covered.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use switchboard::files;
use switchboard::script::scenario::Uncovered;
use switchboard::script::suite::{self, SuiteError};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files or folders (default: flows/).
    paths: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let paths = if args.paths.is_empty() { vec![super::default_flows()] } else { args.paths };
    let files = files::files_under(&paths, files::is_scenario_file)?;
    if files.is_empty() {
        anyhow::bail!("no scenario files (*.test.toml) found");
    }
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let (p, f) = run_file(file)?;
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed");
    Ok(super::exit(failed > 0))
}

fn run_file(file: &Path) -> anyhow::Result<(usize, usize)> {
    let result = match suite::run_file(file, super::sounds_dir_for) {
        Ok(result) => result,
        Err(SuiteError::Read(e)) => return Err(anyhow::anyhow!(e)).context(format!("{}", file.display())),
        Err(SuiteError::Scenarios(rendered)) => {
            eprint!("{rendered}");
            return Ok((0, 1));
        }
        Err(SuiteError::Flow { path, rendered }) => {
            eprint!("{rendered}");
            println!("FAIL {}: the flow {} has errors", file.display(), path.display());
            return Ok((0, 1));
        }
        Err(SuiteError::Model { path, details }) => {
            eprintln!("{}", details.trim_end());
            println!("FAIL {}: the queue model of {} has errors", file.display(), path.display());
            return Ok((0, 1));
        }
        Err(SuiteError::Unknown(problems)) => {
            for problem in &problems {
                eprintln!("{}: error: {problem}", file.display());
            }
            println!("FAIL {}: the scenarios name nodes the flow does not have", file.display());
            return Ok((0, 1));
        }
    };
    println!("{} ({} cases on {})", file.display(), result.cases.len(), result.flow_path.display());
    let mut passed = 0;
    for case in &result.cases {
        if case.passed() {
            passed += 1;
            println!("  ok   {}", case.name);
        } else {
            println!("  FAIL {}", case.name);
            for p in &case.problems {
                println!("       {}", p.replace('\n', "\n       "));
            }
        }
    }
    print_coverage(&result.uncovered);
    Ok((passed, result.cases.len() - passed))
}

fn print_coverage(u: &Uncovered) {
    println!(
        "  coverage: {}/{} nodes, {}/{} options",
        u.total_nodes - u.nodes.len(),
        u.total_nodes,
        u.total_options - u.options.len(),
        u.total_options
    );
    if !u.nodes.is_empty() {
        println!("  nodes no case entered: {}", u.nodes.join(", "));
    }
    if !u.options.is_empty() {
        println!("  options no case chose: {}", u.options.join(", "));
    }
}
