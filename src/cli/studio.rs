//! `switchboard studio [--flows DIR] [--addr 127.0.0.1:8090] [--token T]`: the designers' page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use switchboard::studio::{self, Studio};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of flows the page shows and saves into.
    #[arg(long, default_value = "flows")]
    flows: PathBuf,
    /// Folder of sound files (default: sounds/ beside the flows' folder).
    #[arg(long)]
    sounds: Option<PathBuf>,
    /// Address to serve the page on. Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    /// Secret the page's URL carries when the studio is reachable from other machines.
    #[arg(long, env = "SWITCHBOARD_STUDIO_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.addr.ip().is_loopback() && args.token.as_deref().is_none_or(str::is_empty) {
        anyhow::bail!("the studio edits files: serving {} needs --token (or keep the default 127.0.0.1)", args.addr);
    }
    if !args.flows.is_dir() {
        anyhow::bail!("{} is not a folder of flows (give --flows DIR)", args.flows.display());
    }
    let sounds = args.sounds.unwrap_or_else(|| super::sounds_dir_for(&args.flows.join("x.toml")));
    let _ = tracing_subscriber::fmt().with_env_filter("info").with_writer(std::io::stderr).try_init();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        let token = args.token.filter(|t| !t.is_empty());
        let query = token.as_ref().map(|t| format!("?token={t}")).unwrap_or_default();
        println!("Switchboard Studio: http://{addr}/{query}");
        let studio = Arc::new(Studio { flows_dir: args.flows, sounds_dir: sounds, addr, token });
        studio::serve(listener, studio, super::serve::shutdown_signal()).await.context("studio failed")?;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}
