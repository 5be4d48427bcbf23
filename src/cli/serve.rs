//! `switchboard serve`: the webhook server for every configured provider. Reads settings, sets up logging, the state
//! token secret and the flows, then serves until SIGTERM or Ctrl-C; SIGHUP reloads flows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tracing_subscriber::EnvFilter;

use switchboard::events::{CallerNumbers, DbUrl, Store, Writer, WriterConfig};
use switchboard::providers::{ADAPTERS, Providers, VoiceTable};
use switchboard::server::callbacks::Desk as CallbackDesk;
use switchboard::server::{self, AppState, Flows, TokenKey};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of flow files; each is served at /{provider}/{file name without .toml}.
    #[arg(long, env = "SWITCHBOARD_FLOWS", default_value = "flows")]
    flows: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SWITCHBOARD_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The URL providers reach this server at, when a proxy sits in between
    /// (e.g. https://ivr.example.com). Used for signatures and callback URLs.
    #[arg(long, env = "SWITCHBOARD_PUBLIC_URL")]
    public_url: Option<String>,
    /// Folder of prompt audio (default: sounds/ beside the flows' folder).
    #[arg(long, env = "SWITCHBOARD_SOUNDS")]
    sounds: Option<PathBuf>,
    /// Each provider's voices for spoken prompts by language, PROVIDER:LANG=VOICE separated by
    /// commas, e.g. "twilio:ru=Polly.Tatyana,vonage:ru=2,jambonz:ru=google/ru-RU-Wavenet-A"
    /// (a provider's default voice does not speak every language; names are the provider's own).
    #[arg(long, env = "SWITCHBOARD_VOICES", value_parser = VoiceTable::parse)]
    voices: Option<VoiceTable>,
    /// Where the token secret and old flow versions are kept.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = ".switchboard")]
    data_dir: PathBuf,
    /// A previous state token secret, after a rotation: it still opens the tokens of calls under
    /// way until they expire (--max-call-age), then it can go. Further previous secrets: lines
    /// after the first in <data-dir>/secret.
    #[arg(long, env = "SWITCHBOARD_PREVIOUS_SECRET", hide_env_values = true)]
    previous_secret: Option<String>,
    /// How long a state token opens after it was issued: longer than any call.
    #[arg(long, env = "SWITCHBOARD_MAX_CALL_AGE", default_value = "4h", value_parser = humantime::parse_duration)]
    max_call_age: Duration,
    /// Keep at most this many connections open per listener; at the cap an idle one is closed,
    /// first those that never sent a request (default: 10,000, or 3/4 of the open-file limit
    /// when lower).
    #[arg(long, env = "SWITCHBOARD_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// Require this bearer token on /flows, /metrics and /estimate (`Authorization: Bearer T`).
    #[arg(long, env = "SWITCHBOARD_OPS_TOKEN", hide_env_values = true)]
    ops_token: Option<String>,
    /// Serve /flows, /metrics and /estimate only on this address, not beside the webhooks
    /// (e.g. 127.0.0.1:9090 for a local Prometheus).
    #[arg(long, env = "SWITCHBOARD_OPS_ADDR")]
    ops_addr: Option<SocketAddr>,
    /// Twilio account auth token, to check X-Twilio-Signature (enables /twilio/…).
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    twilio_auth_token: Option<String>,
    /// SignalWire project signing key, to check X-SignalWire-Signature (enables /signalwire/…).
    #[arg(long, env = "SIGNALWIRE_SIGNING_KEY", hide_env_values = true)]
    signalwire_signing_key: Option<String>,
    /// Telnyx account public key (base64), to check telnyx-signature-ed25519 (enables /telnyx/…).
    #[arg(long, env = "TELNYX_PUBLIC_KEY", hide_env_values = true)]
    telnyx_public_key: Option<String>,
    /// Plivo account auth token, to check X-Plivo-Signature-V3 (enables /plivo/…).
    #[arg(long, env = "PLIVO_AUTH_TOKEN", hide_env_values = true)]
    plivo_auth_token: Option<String>,
    /// Vonage account signature secret, to check the signed-webhook JWT (enables /vonage/…).
    #[arg(long, env = "VONAGE_SIGNATURE_SECRET", hide_env_values = true)]
    vonage_signature_secret: Option<String>,
    /// jambonz webhook secret(s), comma-separated, to check Jambonz-Signature (enables /jambonz/…).
    #[arg(long, env = "JAMBONZ_WEBHOOK_SECRET", hide_env_values = true)]
    jambonz_webhook_secret: Option<String>,
    /// Accept requests without a valid provider signature, from every provider. Never in
    /// production. A flag only,
    /// deliberately not an environment variable, so it cannot be switched on unseen.
    #[arg(long)]
    insecure_no_signature: bool,
    /// The call-event log: sqlite://PATH, postgres://…, or none
    /// (default: sqlite://<data-dir>/calls.db).
    #[arg(long, env = "SWITCHBOARD_DB")]
    db: Option<String>,
    /// What the event log keeps of callers' numbers: a keyed hash, the number, or nothing.
    #[arg(long, default_value = "hash", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<CallerNumbers>()))]
    caller_numbers: CallerNumbers,
    /// Require this bearer token on the call-back API (GET /callbacks, POST
    /// /callbacks/{id}/claim and /done); without it the API is off.
    #[arg(long, env = "SWITCHBOARD_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Place pending call-backs through Twilio's REST API when the queue model expects their
    /// queue's wait to be short (below the flow's call-back threshold); the call starts at the
    /// callback node's `returns`. Needs --public-url, --callback-from, TWILIO_ACCOUNT_SID and
    /// TWILIO_AUTH_TOKEN. Off by default.
    #[arg(long)]
    callback_dial: bool,
    /// The number call-backs come from (one of the Twilio account's), for --callback-dial.
    #[arg(long, env = "SWITCHBOARD_CALLBACK_FROM")]
    callback_from: Option<String>,
    /// Twilio account SID, for --callback-dial (the REST API's user name).
    #[arg(long, env = "TWILIO_ACCOUNT_SID")]
    twilio_account_sid: Option<String>,
    /// Twilio's REST API, for --callback-dial.
    #[arg(long, env = "TWILIO_API_BASE", default_value = "https://api.twilio.com")]
    twilio_api_base: String,
    /// Log JSON lines instead of human-readable text.
    #[arg(long, env = "SWITCHBOARD_LOG_JSON")]
    log_json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    init_logging(args.log_json);
    let providers = providers(&args)?;
    let tokens = token_key(&args)?;
    let sounds = args.sounds.clone().unwrap_or_else(|| sounds_beside(&args.flows));
    let (flows, report) = Flows::open(vec![args.flows.clone()], sounds.clone(), Some(args.data_dir.join("versions")));
    for (path, errors) in &report.rejected {
        tracing::error!(file = %path.display(), "flow not loaded:\n{errors}");
    }
    if flows.list().is_empty() {
        bail!("no valid flow in {}: run `switchboard check {}`", args.flows.display(), args.flows.display());
    }
    let voices = args.voices.clone().unwrap_or_default();
    for flow in flows.list() {
        let languages: Vec<String> =
            flows.current(&flow.name).map(|f| f.languages.iter().map(|l| l.to_string()).collect()).unwrap_or_default();
        let languages: Vec<&str> = languages.iter().map(String::as_str).collect();
        for provider in providers.enabled() {
            tracing::info!(flow = %flow.name, version = %flow.version, "serving /{provider}/{}", flow.name);
            let unspoken = switchboard::providers::languages::needs_voice(provider, &languages, &voices);
            if !unspoken.is_empty() {
                tracing::warn!(
                    flow = %flow.name,
                    "{provider}'s default voice speaks en-US only: prompts in {} would be read in English; \
                     name a voice for each, e.g. --voices {provider}:{}=VOICE",
                    unspoken.join(", "),
                    unspoken[0]
                );
            }
        }
    }
    let mut state = AppState::new(flows, tokens, providers, args.public_url.clone(), sounds);
    state.voices = voices;
    if let Some(max) = args.max_connections {
        state.max_connections = max as usize;
    }
    state.ops = server::Ops { token: args.ops_token.clone().filter(|t| !t.is_empty()), apart: args.ops_addr.is_some() };
    let db = db_url(&args)?;
    if let Some(writer) = event_log(&args, &db)? {
        state = state.with_events(writer, args.caller_numbers);
    }
    let desk = call_backs(&args, &db, &state.flows);
    state = state.with_callbacks(desk);
    let dialer = dialer(&args)?;
    let state = Arc::new(state);
    let logged = state.clone();

    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr().unwrap_or(args.addr);
        tracing::info!(%addr, public_url = ?args.public_url, "listening");
        tokio::spawn(reload_on_sighup(state.clone()));
        if let Some(dialer) = dialer {
            tracing::info!(api = %dialer.api_base, from = %dialer.from, "call-back dialler: placing due call-backs through Twilio");
            tokio::spawn(server::callbacks::run_dialer(state.clone(), dialer));
        }
        if let Some(ops_addr) = args.ops_addr {
            let ops = tokio::net::TcpListener::bind(ops_addr)
                .await
                .with_context(|| format!("cannot listen on {ops_addr} (--ops-addr)"))?;
            tracing::info!(addr = %ops.local_addr().unwrap_or(ops_addr), "operational endpoints listening");
            let state = state.clone();
            tokio::spawn(async move {
                if let Err(error) = server::serve_ops(ops, state, shutdown_signal()).await {
                    tracing::error!(%error, "the operational endpoints' listener failed");
                }
            });
        }
        server::serve(listener, state, shutdown_signal()).await.context("server failed")?;
        anyhow::Ok(())
    })?;
    if let Some(writer) = &logged.events {
        let stats = writer.shutdown(SHUTDOWN_GRACE);
        tracing::info!(written = stats.written, lost = stats.dropped, "event log closed");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `--callback-dial`'s dialler, refusing to start without what it needs.
fn dialer(args: &Args) -> anyhow::Result<Option<server::callbacks::Dialer>> {
    if !args.callback_dial {
        return Ok(None);
    }
    let need = |value: &Option<String>, what: &str| {
        value.clone().filter(|v| !v.is_empty()).with_context(|| format!("--callback-dial needs {what}"))
    };
    let public_url = need(&args.public_url, "--public-url (Twilio fetches the call-back's webhook there)")?;
    Ok(Some(server::callbacks::Dialer {
        api_base: args.twilio_api_base.trim_end_matches('/').to_owned(),
        account_sid: need(&args.twilio_account_sid, "TWILIO_ACCOUNT_SID")?,
        auth_token: need(&args.twilio_auth_token, "TWILIO_AUTH_TOKEN")?,
        from: need(&args.callback_from, "--callback-from (the number call-backs come from)")?,
        public_url: public_url.trim_end_matches('/').to_owned(),
        every: Duration::from_secs(30),
        client: reqwest::Client::new(),
    }))
}

/// The adapters with the credentials given: at least one, unless signatures are off.
fn providers(args: &Args) -> anyhow::Result<Providers> {
    let secrets: Vec<(&str, &str)> = [
        ("twilio", &args.twilio_auth_token),
        ("signalwire", &args.signalwire_signing_key),
        ("telnyx", &args.telnyx_public_key),
        ("plivo", &args.plivo_auth_token),
        ("vonage", &args.vonage_signature_secret),
        ("jambonz", &args.jambonz_webhook_secret),
    ]
    .into_iter()
    .filter_map(|(name, secret)| Some((name, secret.as_deref()?)))
    .collect();
    let providers = Providers::configure(&secrets, !args.insecure_no_signature).map_err(anyhow::Error::msg)?;
    if args.insecure_no_signature {
        tracing::warn!(
            "!!! --insecure-no-signature: provider signatures are NOT checked; anyone who can reach \
             this server can drive calls. Never run like this in production. !!!"
        );
    } else if providers.enabled().is_empty() {
        let vars: Vec<&str> = ADAPTERS.iter().map(|a| a.env).collect();
        bail!("set one provider's credentials ({}) so its requests can be checked", vars.join(", "));
    }
    tracing::info!(enabled = ?providers.enabled(), "providers");
    Ok(providers)
}

/// How long shutdown keeps trying to write the events still queued.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The event log's writer, after opening the log once to run its migrations and to show a
/// wrong path or URL at start-up. A database that is down is logged and not fatal: calls are
/// answered all the same, and events are written once it is back (or dropped and counted).
fn event_log(args: &Args, url: &DbUrl) -> anyhow::Result<Option<Writer>> {
    if *url == DbUrl::None {
        tracing::info!("event log: none; calls are not recorded");
        return Ok(None);
    }
    match Store::open(url) {
        Ok(_) => tracing::info!(db = %url, caller_numbers = ?args.caller_numbers, "event log: recording calls"),
        Err(error) => tracing::error!(
            db = %url,
            %error,
            "event log unavailable; serving calls anyway, and writing their events once it is back"
        ),
    }
    Ok(Writer::open(url, WriterConfig::default())?)
}

/// `--db`, else the SQLite file in the data directory (made if need be).
fn db_url(args: &Args) -> anyhow::Result<DbUrl> {
    Ok(match &args.db {
        Some(url) => DbUrl::parse(url)?,
        None => {
            std::fs::create_dir_all(&args.data_dir)
                .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
            DbUrl::Sqlite(args.data_dir.join("calls.db"))
        }
    })
}

/// Where call-backs are booked, saying at start what cannot work: without a database every
/// booking is lost (the caller goes the node's `failed` way), without a token nobody can read them.
fn call_backs(args: &Args, db: &DbUrl, flows: &Flows) -> CallbackDesk {
    let booking: Vec<String> = flows
        .list()
        .into_iter()
        .filter(|f| {
            flows.current(&f.name).is_some_and(|flow| {
                flow.nodes.iter().any(|n| matches!(n.kind, switchboard::engine::NodeKind::Callback(_)))
            })
        })
        .map(|f| f.name)
        .collect();
    if *db == DbUrl::None && !booking.is_empty() {
        tracing::warn!(
            flows = ?booking,
            "--db none: call-backs cannot be stored; callers who ask for one go the callback node's failed way \
             (counted as lost in switchboard_callbacks_total)"
        );
    }
    let desk = CallbackDesk::new(db.clone(), args.api_token.clone());
    match &desk.api_token {
        Some(_) => {
            tracing::info!("call-back API: GET /callbacks, POST /callbacks/{{id}}/claim and /done (bearer token)")
        }
        None => tracing::info!("call-back API: off (set SWITCHBOARD_API_TOKEN to serve /callbacks)"),
    }
    desk
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json { builder.json().init() } else { builder.init() }
}

/// The state token keys: the current secret, the previous ones, the tokens' lifetime.
fn token_key(args: &Args) -> anyhow::Result<TokenKey> {
    let mut secrets = secrets(&args.data_dir)?;
    secrets.extend(args.previous_secret.iter().filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()));
    let mut key = TokenKey::new(&secrets[0]).with_max_age(args.max_call_age);
    for previous in &secrets[1..] {
        key = key.with_previous(previous);
    }
    tracing::info!(previous = secrets.len() - 1, max_call_age = %humantime::format_duration(args.max_call_age), "state token keys");
    Ok(key)
}

/// The state token secrets, current first: `SWITCHBOARD_SECRET`, else the lines of the file
/// kept in the data directory (the first is current, the others previous ones), made once.
/// Never a fresh one per start: tokens in calls under way must stay valid, and every instance
/// behind a load balancer must share it.
fn secrets(data_dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    if let Ok(secret) = std::env::var("SWITCHBOARD_SECRET")
        && !secret.is_empty()
    {
        return Ok(vec![secret.into_bytes()]);
    }
    let path = data_dir.join("secret");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_shared(&path);
            let lines: Vec<Vec<u8>> =
                text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| l.as_bytes().to_vec()).collect();
            if !lines.is_empty() {
                return Ok(lines);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)
        .context("cannot draw a random secret")?;
    let hex = hex::encode(bytes);
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    write_private(&path, &hex).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "made a new state token secret");
    Ok(vec![hex.into_bytes()])
}

/// A secret file others can read is worth a warning: whoever reads it can forge and read tokens.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777), "the state token secret is readable by others; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

fn sounds_beside(flows: &Path) -> PathBuf {
    flows.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("sounds")
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn reload_on_sighup(state: Arc<AppState>) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            tracing::error!("cannot listen for SIGHUP; flows still reload when their files change");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading flows");
            let state = state.clone();
            let _ = tokio::task::spawn_blocking(move || server::reload(&state)).await;
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}
