//! The Twilio webhook server on 127.0.0.1:0 in this process, its flows, sounds and data in a
//! folder of the test's own, on a fixed clock; and a call through it driven as Twilio drives
//! it (`super::twilio`), with assertions on what the caller hears.

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use switchboard::events::{self, CallerNumbers, DbUrl, Store, Writer, WriterConfig};
use switchboard::providers::Providers;
use switchboard::server::{self, AppState, Flows, TokenKey};

use super::twilio::{self, Act, Element, Reply, Twilio};

pub const AUTH_TOKEN: &str = "test-auth-token";
pub const SECRET: &[u8] = b"test-secret";
pub const PUBLIC: &str = "https://ivr.example.com";

/// Wednesday 6 May 2026, 11:00 in Moscow: the hotline is open.
pub fn open_hours() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 6, 8, 0, 0).single().expect("a valid time")
}

/// The same Wednesday at 23:00 in Moscow: closed.
pub fn after_hours() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 6, 20, 0, 0).single().expect("a valid time")
}

/// A flows folder, a sounds folder and a data folder of the test's own.
pub struct Dirs {
    _tmp: tempfile::TempDir,
    pub flows: PathBuf,
    pub sounds: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let root = tmp.path().to_owned();
        let (flows, sounds, data) = (root.join("flows"), root.join("sounds"), root.join("data"));
        for dir in [&flows, &sounds, &data] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for file in ["support.toml", "support.model.toml", "hello.toml"] {
            std::fs::copy(repo.join("flows").join(file), flows.join(file)).expect("copy a sample flow");
        }
        for entry in std::fs::read_dir(repo.join("sounds")).expect("the sample sounds") {
            let path = entry.expect("a sound").path();
            if path.extension().is_some_and(|ext| ext == "wav") {
                std::fs::copy(&path, sounds.join(path.file_name().expect("a name"))).expect("copy a sample sound");
            }
        }
        Dirs { _tmp: tmp, flows, sounds, data }
    }

    /// The event log of the test: an SQLite file in its data folder.
    pub fn db(&self) -> DbUrl {
        DbUrl::Sqlite(self.data.join("calls.db"))
    }

    /// A writer to the test's log; batches are cut every 20 ms so tests wait little.
    pub fn writer(&self) -> Writer {
        let config = WriterConfig { batch_window: Duration::from_millis(20), ..WriterConfig::default() };
        Writer::open(&self.db(), config).expect("the writer starts").expect("a database")
    }

    /// Every event of `call_id` in the test's log, as (seq, node, kind, details), in call order.
    pub fn events(&self, call_id: &str) -> Vec<(u32, Option<String>, &'static str, String)> {
        let mut store = Store::open(&self.db()).expect("the log opens").expect("a database");
        let events = store.call_events(call_id).expect("the log reads");
        events
            .into_iter()
            .map(|e| (e.seq, e.node.as_deref().map(str::to_owned), e.kind.word(), e.kind.details()))
            .collect()
    }

    pub fn support(&self) -> PathBuf {
        self.flows.join("support.toml")
    }

    /// Edits the main menu's text to "Новое меню." and drops its recording, which no longer matches.
    pub fn rename_main_menu(&self) {
        let source = std::fs::read_to_string(self.support()).expect("read the flow");
        let recording = "play = { ru = \"main_menu.ru.wav\", en = \"main_menu.en.wav\" }\n";
        assert!(source.contains(recording), "the main menu's recording moved");
        let edited = source.replace(recording, "").replace("Главное меню.", "Новое меню.");
        std::fs::write(self.support(), edited).expect("edit the flow");
    }
}

/// One running server.
pub struct Server {
    pub local: String,
    /// Twilio, calling it by `PUBLIC` (or its local address when started without one).
    pub twilio: Twilio,
    pub client: reqwest::Client,
    state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(dirs: &Dirs, at: DateTime<Utc>) -> Server {
        Server::start_with(dirs, at, Some(PUBLIC)).await
    }

    pub async fn start_with(dirs: &Dirs, at: DateTime<Utc>, public: Option<&str>) -> Server {
        Server::launch(dirs, at, public, None, None).await
    }

    /// A server whose state `tweak` changes before it serves (a call-back desk, say).
    pub async fn start_tweaked(dirs: &Dirs, at: DateTime<Utc>, tweak: impl FnOnce(AppState) -> AppState) -> Server {
        Server::launch_tweaked(dirs, at, Some(PUBLIC), None, None, tweak).await
    }

    /// A server resolving `fetch` nodes' `{env.NAME}` from `env` instead of its environment.
    pub async fn start_env(dirs: &Dirs, at: DateTime<Utc>, env: switchboard::server::fetch::Env) -> Server {
        Server::launch(dirs, at, Some(PUBLIC), None, Some(env)).await
    }

    /// A server logging calls to `events`, callers' numbers kept in plain.
    pub async fn start_logged(dirs: &Dirs, at: DateTime<Utc>, events: Writer) -> Server {
        Server::launch(dirs, at, Some(PUBLIC), Some(events), None).await
    }

    async fn launch(
        dirs: &Dirs,
        at: DateTime<Utc>,
        public: Option<&str>,
        events: Option<Writer>,
        env: Option<switchboard::server::fetch::Env>,
    ) -> Server {
        Server::launch_tweaked(dirs, at, public, events, env, |state| state).await
    }

    async fn launch_tweaked(
        dirs: &Dirs,
        at: DateTime<Utc>,
        public: Option<&str>,
        events: Option<Writer>,
        env: Option<switchboard::server::fetch::Env>,
        tweak: impl FnOnce(AppState) -> AppState,
    ) -> Server {
        let (flows, report) = Flows::open(vec![dirs.flows.clone()], dirs.sounds.clone(), Some(dirs.data.clone()));
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let mut state = AppState::new(
            flows,
            TokenKey::new(SECRET),
            Providers::configure(&[("twilio", AUTH_TOKEN)], true).expect("valid credentials"),
            public.map(str::to_owned),
            dirs.sounds.clone(),
        )
        .with_clock(Arc::new(move || at));
        state.reload_every = Duration::from_millis(200);
        if let Some(events) = events {
            state = state.with_events(events, CallerNumbers::Plain);
        }
        if let Some(env) = env {
            state = state.with_env(env);
        }
        let state = Arc::new(tweak(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let local = format!("http://{}", listener.local_addr().expect("an address"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        let twilio = Twilio::new(client.clone(), AUTH_TOKEN, public.unwrap_or(&local), &local);
        Server { local, twilio, client, state, stop: Some(stop), task }
    }

    /// Stops the server; with an event log, writes what is queued and returns the writer's
    /// final counters.
    pub async fn stop(mut self) -> Option<events::Stats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await.expect("the server task ends");
        result.expect("the server ends cleanly");
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || state.events.as_ref().map(|w| w.shutdown(Duration::from_secs(5))))
            .await
            .expect("the writer shuts down")
    }

    /// The server's state, for driving its background work (the call-back dialler) in a test.
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The URL Twilio would use for `path` (what it signs).
    pub fn public_url(&self, path: &str) -> String {
        self.twilio.url(path)
    }

    pub fn local_url(&self, url: &str) -> String {
        self.twilio.local_url(url)
    }

    /// POSTs `params` to `url` (public or local), signed as Twilio signs it.
    pub async fn post(&self, url: &str, params: &[(&str, &str)]) -> Reply {
        self.twilio.post(url, params).await.expect("the server answers")
    }

    pub async fn post_raw(&self, url: &str, sig: &str, body: Vec<u8>) -> Reply {
        self.twilio.post_signed(url, sig, body).await.expect("the server answers")
    }

    pub async fn get(&self, path: &str) -> Reply {
        let response = self.client.get(format!("{}{path}", self.local)).send().await.expect("the server answers");
        Reply::read(response).await.expect("a readable answer")
    }

    /// A new call to `flow`.
    pub async fn call(&self, flow: &str) -> Call<'_> {
        self.call_as(flow, "CA0001").await
    }

    /// A new call to `flow` whose `CallSid` is `sid`.
    pub async fn call_as(&self, flow: &str, sid: &str) -> Call<'_> {
        let mut call = Call {
            server: self,
            call: twilio::Call::new(sid, &self.public_url(&format!("/twilio/{flow}"))),
            body: String::new(),
        };
        call.act(Act::Ring).await;
        call
    }
}

impl Reply {
    /// The TwiML of a 200 answer, checked to be well-formed and to follow Twilio's nesting rules.
    #[track_caller]
    pub fn twiml(&self) -> Element {
        assert_eq!(self.status, 200, "{}", self.body);
        assert!(self.content_type.starts_with("text/xml"), "{}", self.content_type);
        let doc = twilio::parse(&self.body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.name, "Response", "{}", self.body);
        for (i, verb) in doc.children.iter().enumerate() {
            if verb.name == "Gather" {
                for child in &verb.children {
                    assert!(["Say", "Play", "Pause"].contains(&child.name.as_str()), "<{}> in <Gather>", child.name);
                }
                let next = doc.children.get(i + 1).map(|e| e.name.as_str());
                assert_eq!(next, Some("Redirect"), "a <Gather> without a no-input <Redirect>:\n{}", self.body);
            }
        }
        doc
    }
}

impl Element {
    /// Everything said, nested or not.
    pub fn said(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            if c.name == "Say" {
                out.push_str(&c.text);
                out.push('\n');
            }
            if c.name == "Play"
                && let Some(text) = c.text.rsplit('/').next().and_then(sound_text)
            {
                out.push_str(&text);
                out.push('\n');
            }
            out.push_str(&c.said());
        }
        out
    }
}

/// What each recorded prompt of flows/support.toml says: the text written beside its `play`.
static SOUND_TEXTS: std::sync::LazyLock<HashMap<String, (String, String)>> = std::sync::LazyLock::new(|| {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/support.toml");
    let flow: toml::Table = std::fs::read_to_string(path).expect("the sample flow").parse().expect("valid TOML");
    let mut texts = HashMap::new();
    collect_sound_texts(&flow, &mut texts);
    texts
});

/// The text of a played file; for a templated name (`wait_{wait_min}.ru.wav`) with the value
/// the file name carries spoken in the text as the engine speaks it (`wait_4.ru.wav` says
/// "около 4 минут").
fn sound_text(file: &str) -> Option<String> {
    use switchboard::engine::spoken;
    let (name, (text, lang)) =
        SOUND_TEXTS.iter().find(|(name, _)| switchboard::engine::flow::sound_matches(name, file))?;
    let (Some(open), Some(close)) = (name.find('{'), name.rfind('}')) else { return Some(text.clone()) };
    let value = &file[open..file.len() - (name.len() - close - 1)];
    let var = &name[open + 1..close];
    let mut said = String::new();
    let mut rest = text.as_str();
    while let (Some(a), Some(b)) = (rest.find('{'), rest.find('}')) {
        said.push_str(&rest[..a]);
        match spoken::parse(&rest[a + 1..b]) {
            Ok(p) if p.name == var => said.push_str(&spoken::render(value, &p.form, lang)),
            _ => said.push_str(&rest[a..=b]),
        }
        rest = &rest[b + 1..];
    }
    said.push_str(rest);
    Some(said)
}

fn collect_sound_texts(table: &toml::Table, texts: &mut HashMap<String, (String, String)>) {
    let text = table.get("text").or_else(|| table.get("prompt"));
    let in_language = |lang: Option<&str>| match (text, lang) {
        (Some(toml::Value::String(s)), _) => s.clone(),
        (Some(toml::Value::Table(t)), Some(lang)) => t.get(lang).and_then(|v| v.as_str()).unwrap_or("").to_owned(),
        _ => String::new(),
    };
    match table.get("play") {
        Some(toml::Value::String(file)) => {
            texts.insert(file.clone(), (in_language(None), "ru".to_owned()));
        }
        Some(toml::Value::Table(files)) => {
            for (lang, file) in files {
                texts.insert(file.as_str().expect("a file name").to_owned(), (in_language(Some(lang)), lang.clone()));
            }
        }
        _ => {}
    }
    for value in table.values() {
        if let toml::Value::Table(inner) = value {
            collect_sound_texts(inner, texts);
        }
    }
}

/// A call in progress: the last TwiML Twilio got (`doc`, `body`), and the way to answer it.
pub struct Call<'s> {
    server: &'s Server,
    call: twilio::Call,
    pub body: String,
}

impl Deref for Call<'_> {
    type Target = twilio::Call;

    fn deref(&self) -> &twilio::Call {
        &self.call
    }
}

impl<'s> Call<'s> {
    /// The call that `reply` answered, e.g. a request to another server after a restart.
    pub fn new(server: &'s Server, reply: Reply) -> Call<'s> {
        let mut call = twilio::Call::new("CA0001", &server.public_url("/twilio/unused"));
        reply.twiml();
        call.answered(&reply.body).expect("checked TwiML");
        Call { server, call, body: reply.body }
    }

    async fn act(&mut self, act: Act<'_>) -> &mut Self {
        let reply =
            self.server.twilio.act(&mut self.call, act).await.unwrap_or_else(|e| panic!("{e}\nafter\n{}", self.body));
        reply.twiml();
        self.body = reply.body;
        self
    }

    #[track_caller]
    pub fn gather_action(&self) -> String {
        let gather = self.doc.find("Gather").unwrap_or_else(|| panic!("no <Gather> in\n{}", self.body));
        gather.attr("action").expect("a Gather action").to_owned()
    }

    /// The caller presses keys (Twilio posts them without the finish key).
    pub async fn press(&mut self, digits: &str) -> &mut Self {
        self.act(Act::Press(digits)).await
    }

    pub async fn speak(&mut self, text: &str) -> &mut Self {
        self.act(Act::Speak(text)).await
    }

    /// The caller says nothing: the gather times out and Twilio follows the <Redirect>.
    pub async fn silence(&mut self) -> &mut Self {
        self.act(Act::Silence).await
    }

    #[track_caller]
    pub fn says(&self, text: &str) -> &Self {
        assert!(self.doc.said().contains(text), "expected {text:?} said in\n{}", self.body);
        self
    }

    #[track_caller]
    pub fn queued(&self, queue: &str) -> &Self {
        let enqueue = self.doc.find("Enqueue").unwrap_or_else(|| panic!("no <Enqueue> in\n{}", self.body));
        assert_eq!(enqueue.text, queue, "{}", self.body);
        self
    }

    #[track_caller]
    pub fn listening(&self) -> &Self {
        self.gather_action();
        self
    }
}
