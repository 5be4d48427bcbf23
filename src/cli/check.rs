//! `switchboard check [PATH...] [--report]`: diagnostics for every flow, like a compiler.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use switchboard::engine::{Millis, report};
use switchboard::files;

#[derive(clap::Args)]
pub struct Args {
    /// Flow files or folders of flows (default: flows/).
    paths: Vec<PathBuf>,
    /// Also print, for every menu, the worst-case time to reach a person.
    #[arg(long)]
    report: bool,
    /// Folder of sound files (default: sounds/ beside the flows' folder).
    #[arg(long)]
    sounds: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let default = args.paths.is_empty();
    let paths = if default { vec![super::default_flows()] } else { args.paths };
    // Run elsewhere than the project folder, the default folder is simply not there: say what
    // was looked for instead of failing to read it.
    let files = if default && !paths[0].is_dir() {
        Vec::new()
    } else {
        files::flow_files(&paths).context("cannot list flows")?
    };
    if files.is_empty() {
        let folder = |p: &PathBuf| format!("{}/", p.display().to_string().trim_end_matches('/'));
        let looked_in = paths.iter().map(folder).collect::<Vec<_>>().join(", ");
        let hint = if default { ": give a flow file or a folder, or run from the project folder" } else { "" };
        anyhow::bail!("no flow files (*.toml) in {looked_in}{hint}");
    }
    let (mut errors, mut warnings) = (0, 0);
    // Sound files each sounds folder's flows play, to list the ones nobody plays; `None` once
    // a flow there cannot be parsed, since then nobody knows what it plays.
    let mut played: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    // The queue models the flows name, each checked once: every command that runs a flow
    // refuses it when its model has errors, so `check` reports them too.
    let mut models = BTreeSet::new();
    for file in &files {
        let sounds = args.sounds.clone().unwrap_or_else(|| super::sounds_dir_for(file));
        let mut loaded = files::read_flow(file, &sounds).with_context(|| format!("cannot read {}", file.display()))?;
        // What a provider cannot honour or speak is a warning naming it, beside the engine's own.
        if let Some(flow) = &loaded.flow {
            loaded.diagnostics.extend(switchboard::providers::limit_warnings(flow));
            loaded.diagnostics.extend(switchboard::providers::languages::language_warnings(flow));
            switchboard::engine::diagnostic::sort(&mut loaded.diagnostics);
        }
        let names = played.entry(sounds).or_insert_with(|| Some(BTreeSet::new()));
        // Parsed again: `loaded.flow` is gone when a sound is missing, but its names are known.
        let parsed = switchboard::engine::parse::parse(&loaded.source).flow;
        match (names.as_mut(), &parsed) {
            (Some(names), Some(flow)) => names.extend(flow.sounds.iter().map(|(name, _)| name.to_string())),
            _ => *names = None,
        }
        eprint!("{}", loaded.render());
        errors += loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        if let Some(flow) = &parsed
            && let Some(model) = files::model_path_for(file, flow, None).filter(|p| p.exists())
            && models.insert(model.clone())
            && let Err(e) = files::read_model(&model)
        {
            eprintln!("{}", e.details().trim_end());
            errors += match e {
                files::FileError::Invalid { errors, .. } => errors,
                _ => 1,
            };
        }
        warnings += loaded.diagnostics.iter().filter(|d| !d.is_error()).count();
        if args.report
            && let Some(flow) = &loaded.flow
        {
            print_report(&file.display().to_string(), &report::report(flow));
        }
    }
    // Only a whole folder of flows says what is unused; one flow file plays only some sounds.
    if paths.iter().all(|p| p.is_dir()) {
        for (dir, names) in played.iter().filter_map(|(dir, names)| Some((dir, names.as_ref()?))) {
            let unused = files::unused_sounds(dir, names).with_context(|| format!("cannot list {}", dir.display()))?;
            if !unused.is_empty() {
                eprintln!(
                    "note: no flow plays {} in {}: {}",
                    plural_files(unused.len()),
                    dir.display(),
                    unused.join(", ")
                );
            }
        }
    }
    eprintln!(
        "checked {} flow{}: {errors} error{}, {warnings} warning{}",
        files.len(),
        plural(files.len()),
        plural(errors),
        plural(warnings)
    );
    Ok(super::exit(errors > 0))
}

fn plural_files(n: usize) -> String {
    if n == 1 { "1 file".to_owned() } else { format!("{n} files") }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn secs(ms: Option<Millis>) -> String {
    ms.map_or_else(|| "never".to_owned(), |ms| ms.to_string())
}

fn print_report(name: &str, r: &report::Report) {
    println!("{name}: worst-case time to reach a person");
    println!("  {:<24} {:>12} {:>12}", "from", "pressing 0", "silent");
    println!("  {:<24} {:>12} {:>12}", "(call start)", secs(r.start.escape_ms), secs(r.start.silence_ms));
    for m in &r.menus {
        println!("  {:<24} {:>12} {:>12}", m.node, secs(m.escape_ms), secs(m.silence_ms));
    }
    println!("  longest way to a person: {} via {}", secs(r.longest_ms), r.longest_path.join(" → "));
}
