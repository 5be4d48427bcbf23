//! `switchboard call FLOW`: one call through a flow, scripted (`--keys`) or typed at a
//! terminal, printed as a transcript on the simulated clock or as JSON.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail};
use chrono::NaiveDateTime;

use switchboard::engine::matching::is_phone_key;
use switchboard::engine::{Flow, Millis, Start};
use switchboard::files;
use switchboard::script::audio::{self, Clip};
use switchboard::script::{self, Entry, Timed, Transcript, Turn};
use switchboard::sounds::{convert, synth, wav};

#[derive(clap::Args)]
pub struct Args {
    /// The flow file.
    flow: PathBuf,
    /// Caller script: digits ("1", "12345#"), "-" for silence, say:текст, hangup.
    // A script may start with silence: `--keys "- 0"` is a value, not an option.
    #[arg(long, allow_hyphen_values = true)]
    keys: Option<String>,
    /// The call's local time: "mon 10:15" or "2026-05-04 10:15" (default: now in the flow's time zone).
    #[arg(long)]
    at: Option<String>,
    /// The call's language (default: the flow's first).
    #[arg(long)]
    lang: Option<String>,
    /// The caller's number.
    #[arg(long)]
    from: Option<String>,
    /// Print one JSON object instead of a transcript.
    #[arg(long)]
    json: bool,
    /// The queue model for announced waits and `wait_over` branches (default: the flow's `model`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Folder of sound files (default: sounds/ beside the flows' folder).
    #[arg(long)]
    sounds: Option<PathBuf>,
    /// Render the call as one WAV file (8 kHz mono): prompts, key tones, silence, hold music.
    #[arg(long, value_name = "FILE.wav")]
    record: Option<PathBuf>,
    /// Seconds of hold music after the caller is queued, in the recording.
    #[arg(long, value_name = "SECONDS", default_value_t = audio::DEFAULT_HOLD_MS / 1000)]
    hold: u32,
    /// Answers for the flow's `fetch` nodes (TOML: by URL or node name, `status`, `json`,
    /// `latency_ms`, `fail`); a fetch without one fails, as an unreachable backend would.
    #[arg(long, value_name = "FILE.toml")]
    mock: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sounds = args.sounds.clone().unwrap_or_else(|| super::sounds_dir_for(&args.flow));
    let mut flow = super::read_flow(&args.flow, &sounds)?;
    // The flow's queue model, when it names one, makes `queue` nodes announce computed waits.
    files::attach_model(&args.flow, &mut flow, args.model.as_deref()).map_err(super::shown)?;
    let flow = &flow;
    let at = match &args.at {
        Some(text) => switchboard::calendar::parse_at(text)?,
        None => local_now(flow),
    };
    if let Some(lang) = &args.lang
        && flow.language_index(lang).is_none()
    {
        bail!("`{lang}` is not a language of this flow ({})", flow.languages.join(", "));
    }
    let start = Start { caller: args.from.as_deref(), language: args.lang.as_deref() };
    let mocks = match &args.mock {
        Some(path) => read_mocks(path)?,
        None => script::Mocks::default(),
    };
    let transcript = match &args.keys {
        Some(keys) => script::run(flow, &script::parse_script(keys)?, &start, at, &mocks),
        None if std::io::stdin().is_terminal() && !args.json => {
            let transcript = interactive(flow, &start, at, &mocks);
            if let Some(path) = &args.record {
                record(&transcript, &sounds, path, args.hold.saturating_mul(1000))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            script::run(flow, &script::parse_script(&text)?, &start, at, &mocks)
        }
    };
    if let Some(path) = &args.record {
        record(&transcript, &sounds, path, args.hold.saturating_mul(1000))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else {
        print!("{}", render(&transcript, 0));
        print!("{}", summary(&transcript));
    }
    Ok(ExitCode::SUCCESS)
}

/// With no subcommand: a scripted call through the sample hotline, to show what a call is.
pub fn demo() -> anyhow::Result<ExitCode> {
    run(Args {
        flow: PathBuf::from("flows/support.toml"),
        keys: Some("1 - 2 0".into()),
        at: Some("wed 11:00".into()),
        lang: None,
        from: None,
        json: false,
        model: None,
        sounds: None,
        record: None,
        hold: audio::DEFAULT_HOLD_MS / 1000,
        mock: None,
    })
}

/// A mock file; a mistake in it is shown at its `path:line:column`.
fn read_mocks(path: &Path) -> anyhow::Result<script::Mocks> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("cannot read {}: {e}", path.display()))?;
    script::Mocks::parse(&text).map_err(|d| {
        // The diagnostic carries its own `error:`; the summary line gets main's.
        eprintln!("{}", d.render(&path.display().to_string(), &text).trim_end());
        anyhow!("{} is not a mock file", path.display())
    })
}

/// Renders the call to `path`: sound files from `sounds`, other prompts and the caller's
/// speech synthesised with espeak-ng when it is installed. Notes go to stderr.
fn record(transcript: &Transcript, sounds: &Path, path: &Path, hold_ms: u32) -> anyhow::Result<()> {
    let mut clips: HashMap<Clip, Vec<i16>> = HashMap::new();
    let mut speech = None;
    let mut unspoken = 0;
    for timed in &transcript.entries {
        let Some(clip) = Clip::of(&timed.entry) else { continue };
        if clips.contains_key(&clip) {
            continue;
        }
        let samples = match &clip {
            Clip::File(file) => wav::read_mono(&sounds.join(file))
                .and_then(|(samples, rate)| convert::resample(&samples, rate, audio::RATE))
                .map_err(|e| anyhow!("sound `{file}`: {e}"))?,
            Clip::Text { text, lang, caller } => {
                if !*speech.get_or_insert_with(synth::available) {
                    unspoken += 1;
                    continue;
                }
                match synth::speak(text, lang, *caller) {
                    Ok(samples) => samples,
                    Err(e) => {
                        eprintln!("note: «{text}»: {e}");
                        continue;
                    }
                }
            }
        };
        clips.insert(clip, samples);
    }
    if unspoken > 0 {
        eprintln!(
            "note: {} is not installed, so {unspoken} prompt{} without a sound file {} silence of {} estimated length \
             (apt-get install espeak-ng)",
            synth::PROGRAM,
            if unspoken == 1 { "" } else { "s" },
            if unspoken == 1 { "is" } else { "are" },
            if unspoken == 1 { "its" } else { "their" },
        );
    }
    let rendered = audio::render(transcript, &clips, hold_ms);
    for note in &rendered.notes {
        eprintln!("note: {note}");
    }
    wav::write_mono(path, &rendered.samples, audio::RATE)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    eprintln!(
        "wrote {}: {:.1} s, 8000 Hz mono 16-bit PCM",
        path.display(),
        rendered.samples.len() as f64 / f64::from(audio::RATE)
    );
    Ok(())
}

fn local_now(flow: &Flow) -> NaiveDateTime {
    switchboard::clock::local_time(flow, chrono::Utc::now())
}

fn interactive(flow: &Flow, start: &Start, at: NaiveDateTime, mocks: &script::Mocks) -> Transcript {
    eprintln!(
        "Calling {} at {at}. Type keys (1, 12345#), words to say, Enter alone for silence, or hangup.",
        flow.name
    );
    let stdin = std::io::stdin();
    let mut shown = 0;
    let transcript = script::drive(flow, start, at, mocks, |t, _gather| {
        print!("{}", render(t, shown));
        shown = t.entries.len();
        print!("> ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            return Some(Turn::Hangup);
        }
        let line = line.trim();
        Some(if line.is_empty() {
            Turn::Silence
        } else if line.eq_ignore_ascii_case("hangup") {
            Turn::Hangup
        } else if line.chars().all(is_phone_key) {
            Turn::Keys(line.to_owned())
        } else {
            Turn::Speech(line.to_owned())
        })
    });
    print!("{}", render(&transcript, shown));
    print!("{}", summary(&transcript));
    transcript
}

fn clock(ms: Millis) -> String {
    let tenths = ms.0.saturating_add(50) / 100;
    format!("{:02}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
}

/// The transcript from entry `from` on, one line an entry.
fn render(t: &Transcript, from: usize) -> String {
    let mut out = String::new();
    for Timed { at_ms, entry } in &t.entries[from.min(t.entries.len())..] {
        let line = match entry {
            Entry::Node { id } => format!("· {id}"),
            Entry::Prompt { text, file, duration_ms, .. } => {
                let file = file.as_ref().map(|f| format!(" [{f}]")).unwrap_or_default();
                format!("🔊 «{}»{file} ({:.1} s)", text.as_deref().unwrap_or("…"), duration_ms.as_secs_f64())
            }
            Entry::Pause { duration_ms } => format!("… pause {:.1} s", duration_ms.as_secs_f64()),
            Entry::Gather { max_digits, finish_key, timeout_ms, speech } => {
                let finish = finish_key.map(|k| format!(", ends with {k}")).unwrap_or_default();
                let speech = if *speech { ", or speech" } else { "" };
                format!(
                    "⌛ waiting for up to {max_digits} key(s){finish}{speech}, {:.0} s timeout",
                    timeout_ms.as_secs_f64()
                )
            }
            Entry::Keys { keys } => format!("☎ caller presses {keys}"),
            Entry::Speech { text } => format!("🗣 caller says «{text}»"),
            Entry::Silence { duration_ms } => format!("… silence for {:.0} s", duration_ms.as_secs_f64()),
            Entry::Note { text } => format!("  ({text})"),
            Entry::Enqueue { queue } => format!("→ queued for {queue}"),
            Entry::Dial { number } => format!("→ transferred to {number}"),
            Entry::Record { mailbox } => format!("→ recording voicemail for {mailbox}"),
            Entry::Fetch { method, url, status, duration_ms } => {
                let answer = status.map_or_else(|| "failed".to_owned(), |s| format!("HTTP {s}"));
                format!("⇄ {method} {url}: {answer} after {:.1} s", duration_ms.as_secs_f64())
            }
            Entry::Callback { queue, number, language, told_wait_s, window } => {
                let wait = told_wait_s.map_or_else(String::new, |w| {
                    format!(", told wait {}", switchboard::queue::estimate::wait_clock(f64::from(w)))
                });
                let window = window.as_ref().map_or_else(String::new, |w| format!(", between {w}"));
                format!("☏ call-back booked for {queue}: {number} ({language}{wait}{window})")
            }
            Entry::Hangup { by_caller: true } => "✆ caller hangs up".to_owned(),
            Entry::Hangup { by_caller: false } => "✆ call ends".to_owned(),
        };
        out.push_str(&format!("[{}] {line}\n", clock(*at_ms)));
    }
    out
}

fn summary(t: &Transcript) -> String {
    let outcome = t.outcome.as_ref().map_or_else(|| "still in the IVR".to_owned(), ToString::to_string);
    format!("outcome: {outcome} after {:.1} s\npath: {}\n", t.duration_s, t.path.join(" → "))
}
