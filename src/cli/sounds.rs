//! `switchboard sounds dtmf FILE.wav [--json]`: the touch-tone keys in a recording.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;

use switchboard::sounds::{dtmf, wav};

#[derive(clap::Subcommand)]
pub enum SoundsCommand {
    /// List the DTMF keys in a WAV file with their timestamps.
    Dtmf {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: SoundsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SoundsCommand::Dtmf { file, json } => {
            // Formatted here rather than chained: SoundError already includes its source's text.
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
