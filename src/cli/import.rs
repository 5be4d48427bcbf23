//! `switchboard import studio FLOW.json [-o flows/NAME.toml]`: a Twilio Studio flow in our
//! format. The result is checked as `check` would before it is written, and what could not be
//! kept is warned at its place in the JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use switchboard::engine::{self, diagnostic::line_column};
use switchboard::files;
use switchboard::import::studio::{self, ImportError};

#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// A Twilio Studio flow definition (Studio's JSON export or the Flows API's `definition`).
    Studio(StudioArgs),
}

#[derive(clap::Args)]
pub struct StudioArgs {
    /// The Studio flow's JSON.
    json: PathBuf,
    /// Where to write the flow (default: print it).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The flow's name (default: the output file's name, else the JSON file's).
    #[arg(long)]
    name: Option<String>,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(command: ImportCommand) -> anyhow::Result<ExitCode> {
    let ImportCommand::Studio(args) = command;
    let json = files::read_text(&args.json)?;
    let origin = args.json.display();
    let name = args.name.clone().unwrap_or_else(|| stem(args.output.as_deref().unwrap_or(&args.json)));
    let imported = match studio::convert(&json, &name) {
        Ok(imported) => imported,
        Err(ImportError::Json { line, column, message }) => {
            eprintln!("{origin}:{line}:{column}: error: not a Studio flow definition: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            eprintln!("{origin}: error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for note in &imported.warnings {
        match note.offset {
            Some(offset) => {
                let (line, column) = line_column(&json, offset);
                eprintln!("{origin}:{line}:{column}: warning: {}", note.message);
            }
            None => eprintln!("{origin}: warning: {}", note.message),
        }
    }
    if !imported.gained.is_empty() {
        eprintln!("menus that gained a way to a person (our defaults):");
        let mut by_menu: Vec<(&str, Vec<&str>)> = Vec::new();
        for (menu, what) in &imported.gained {
            match by_menu.iter_mut().find(|(m, _)| m == menu) {
                Some((_, list)) => list.push(what),
                None => by_menu.push((menu, vec![what])),
            }
        }
        for (menu, list) in by_menu {
            eprintln!("  {menu}: {}", list.join("; "));
        }
    }
    // The output must pass `check`; a flow that does not is our bug, never written.
    let out_origin = args.output.as_ref().map_or("(output)".to_owned(), |p| p.display().to_string());
    let (flow, diagnostics) = engine::parse_and_check(&imported.toml);
    for d in &diagnostics {
        eprint!("{}", d.render(&out_origin, &imported.toml));
    }
    if flow.is_none() {
        eprintln!("error: the converted flow does not pass check; nothing written");
        return Ok(ExitCode::FAILURE);
    }
    match &args.output {
        None => print!("{}", imported.toml),
        Some(path) => {
            if path.exists() && !args.force {
                anyhow::bail!("{} exists: pass --force to replace it", path.display());
            }
            files::write_atomic(path, &imported.toml)?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(|| "imported".to_owned(), |s| s.to_string_lossy().into_owned())
}
