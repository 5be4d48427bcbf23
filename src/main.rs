//! The `switchboard` command: parses arguments, runs one subcommand, maps the result to an
//! exit code (0 clean, 1 problems found, 2 usage or I/O failure).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
