//! `switchboard test [PATH...]`: runs the scenario files (`*.test.toml`) beside flows and
//! reports each case, with a diff for failures, and what no case covered.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use switchboard::engine::Flow;
use switchboard::files;
use switchboard::script::scenario::{self, Coverage, Scenarios};

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
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let scenarios = match Scenarios::parse(&text) {
        Ok(s) => s,
        Err(d) => {
            eprint!("{}", d.render(&file.display().to_string(), &text));
            return Ok((0, 1));
        }
    };
    let flow_path = match &scenarios.flow {
        Some(f) => file.parent().unwrap_or(Path::new(".")).join(f),
        None => PathBuf::from(file.to_string_lossy().replace(".test.toml", ".toml")),
    };
    let mut loaded = files::read_flow(&flow_path, &super::sounds_dir_for(&flow_path))
        .with_context(|| format!("{}: cannot read the flow {}", file.display(), flow_path.display()))?;
    let rendered = loaded.render();
    let Some(flow) = &mut loaded.flow else {
        eprint!("{rendered}");
        println!("FAIL {}: the flow {} has errors", file.display(), flow_path.display());
        return Ok((0, 1));
    };
    if let Err(e) = files::attach_model(&flow_path, flow, None) {
        eprintln!("{}", e.details().trim_end());
        println!("FAIL {}: the queue model of {} has errors", file.display(), flow_path.display());
        return Ok((0, 1));
    }
    let flow = &*flow;
    // Checked before any case runs: a misspelt node would pass or fail for the wrong reason.
    let unknown = scenarios.validate(flow);
    if !unknown.is_empty() {
        for problem in &unknown {
            eprintln!("{}: error: {problem}", file.display());
        }
        println!("FAIL {}: the scenarios name nodes the flow does not have", file.display());
        return Ok((0, 1));
    }
    println!("{} ({} cases on {})", file.display(), scenarios.cases.len(), flow_path.display());
    let (mut passed, mut failed) = (0, 0);
    let mut coverage = Coverage::default();
    for case in &scenarios.cases {
        let with_model;
        let flow = match &case.model {
            Some(model) => {
                let mut f = flow.clone();
                let path = file.parent().unwrap_or(Path::new(".")).join(model);
                if let Err(e) = files::attach_model(&flow_path, &mut f, Some(&path)) {
                    eprintln!("{}", e.details().trim_end());
                    failed += 1;
                    println!("  FAIL {}: the queue model {} has errors", case.name, path.display());
                    continue;
                }
                with_model = f;
                &with_model
            }
            None => flow,
        };
        match scenario::play(flow, case) {
            Ok(t) => {
                let problems = scenario::compare(case, &t);
                coverage.add(&t);
                if problems.is_empty() {
                    passed += 1;
                    println!("  ok   {}", case.name);
                } else {
                    failed += 1;
                    println!("  FAIL {}", case.name);
                    for p in problems {
                        println!("       {}", p.replace('\n', "\n       "));
                    }
                }
            }
            Err(e) => {
                failed += 1;
                println!("  FAIL {}: {e}", case.name);
            }
        }
    }
    print_coverage(flow, &coverage);
    Ok((passed, failed))
}

fn print_coverage(flow: &Flow, coverage: &Coverage) {
    let u = coverage.uncovered(flow);
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
