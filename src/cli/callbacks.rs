//! `switchboard callbacks list`: the call-backs booked by `callback` nodes that wait for an
//! agent, from the event log's database.

use std::process::ExitCode;

use switchboard::events::callbacks::{Callback, Status};
use switchboard::queue::estimate::wait_clock;

use super::db::{DEFAULT_DB, open_existing};

#[derive(clap::Subcommand)]
pub enum CallbacksCommand {
    /// The pending call-backs, oldest first (the number is shown as the caller gave it).
    List {
        /// The event log: sqlite://PATH or postgres://….
        #[arg(long, env = "SWITCHBOARD_DB", default_value = DEFAULT_DB)]
        db: String,
        /// Only this queue's.
        #[arg(long)]
        queue: Option<String>,
        /// JSON, as `GET /callbacks` answers.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: CallbacksCommand) -> anyhow::Result<ExitCode> {
    match command {
        CallbacksCommand::List { db, queue, json } => {
            let mut store = open_existing(&db)?;
            let pending = store.callbacks(Status::Pending, queue.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&pending)?);
                return Ok(ExitCode::SUCCESS);
            }
            if pending.is_empty() {
                println!("no pending call-backs{}", queue.map_or_else(String::new, |q| format!(" for {q}")));
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:>6}  {:<17}  {:<14}  {:<16}  {:<4}  {:<14}  {:<11}",
                "id", "booked (UTC)", "queue", "number", "lang", "told wait", "window"
            );
            for Callback { id, booking: c, .. } in &pending {
                let wait = c.told_wait_s.map_or_else(|| "-".to_owned(), |w| wait_clock(f64::from(w)));
                let window = match (&c.window, &c.timezone) {
                    (Some(w), Some(tz)) => format!("{w} {tz}"),
                    (Some(w), None) => w.clone(),
                    _ => "any time".to_owned(),
                };
                println!(
                    "{:>6}  {:<17}  {:<14}  {:<16}  {:<4}  {:<14}  {window}",
                    id,
                    c.created.format("%Y-%m-%d %H:%M"),
                    c.queue,
                    c.number,
                    c.language,
                    wait
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
