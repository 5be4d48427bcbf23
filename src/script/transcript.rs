//! Plays a caller against a flow on a simulated clock and writes down what happened: the
//! transcript behind `switchboard call`, scenario tests and rendered call audio. The clock
//! advances by each prompt's length, each key press, each timeout, so the transcript shows
//! when the caller hears what.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::caller::Turn;
use super::mock::Mocks;
use crate::engine::call::Fetched;
use crate::engine::{Action, Call, Event, Flow, Millis, Outcome, Output, Start, Trace};

/// How long one key press takes: a 100 ms tone and a 100 ms gap, well above the ITU Q.24
/// minimums, so rendered calls decode reliably.
pub const KEY_MS: u32 = 200;
/// Confidence given to scripted speech.
pub const SPEECH_CONFIDENCE: f32 = 0.9;
/// A script that never ends the call is cut off after this many gathers.
const MAX_GATHERS: usize = 200;

/// What happened at one moment of the call.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Node {
        id: String,
    },
    Prompt {
        text: Option<String>,
        file: Option<String>,
        /// The language it is spoken in, for synthesising a prompt that has no file.
        lang: String,
        duration_ms: Millis,
    },
    Pause {
        duration_ms: Millis,
    },
    /// The engine waits for input: `timeout_ms` of silence ends it.
    Gather {
        max_digits: u8,
        finish_key: Option<char>,
        timeout_ms: Millis,
        speech: bool,
    },
    Keys {
        keys: String,
    },
    Speech {
        text: String,
    },
    Silence {
        duration_ms: Millis,
    },
    Note {
        text: String,
    },
    Enqueue {
        queue: String,
    },
    Dial {
        number: String,
    },
    Record {
        mailbox: String,
    },
    /// A `callback` node's booking, as a driver would store it.
    Callback {
        queue: String,
        number: String,
        language: String,
        told_wait_s: Option<u32>,
        window: Option<String>,
    },
    /// A `fetch` node's request and its mocked answer (`status` `None`: it failed).
    Fetch {
        method: String,
        url: String,
        status: Option<u16>,
        duration_ms: Millis,
    },
    Hangup {
        by_caller: bool,
    },
}

/// One timed entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timed {
    pub at_ms: Millis,
    #[serde(flatten)]
    pub entry: Entry,
}

/// A whole scripted call.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Transcript {
    pub outcome: Option<Outcome>,
    /// Node ids in the order the call entered them.
    pub path: Vec<String>,
    /// Prompt texts in the order they were heard.
    pub heard: Vec<String>,
    pub duration_s: f64,
    pub entries: Vec<Timed>,
    /// Menu options chosen, as (node index, option index), for coverage.
    #[serde(skip)]
    pub choices: Vec<(usize, usize)>,
    #[serde(skip)]
    pub trace: Vec<Trace>,
}

/// Plays a script against a flow.
pub fn run(flow: &Flow, turns: &[Turn], start: &Start, at: NaiveDateTime, mocks: &Mocks) -> Transcript {
    let mut turns = turns.iter().cloned();
    drive(flow, start, at, mocks, |_, _| turns.next())
}

/// Runs a call, asking `caller` for each turn given the transcript so far and the gather
/// waiting; `None` means the caller has nothing more to do and stays silent.
pub fn drive(
    flow: &Flow,
    start: &Start,
    at: NaiveDateTime,
    mocks: &Mocks,
    caller: impl FnMut(&Transcript, &crate::engine::Gather) -> Option<Turn>,
) -> Transcript {
    drive_until(flow, start, at, mocks, caller, false).0
}

/// Plays `turns` and stops where the call waits for the next one: the transcript so far and
/// the gather it waits on (`None` once the call is over). The studio's phone replays a call
/// this way on every key, so it runs exactly as `switchboard call` does.
pub fn run_until_waiting(
    flow: &Flow,
    turns: &[Turn],
    start: &Start,
    at: NaiveDateTime,
    mocks: &Mocks,
) -> (Transcript, Option<crate::engine::Gather>) {
    let mut turns = turns.iter().cloned();
    drive_until(flow, start, at, mocks, |_, _| turns.next(), true)
}

/// [`drive`], or with `wait` stopping at the first gather the caller has no turn for.
fn drive_until(
    flow: &Flow,
    start: &Start,
    at: NaiveDateTime,
    mocks: &Mocks,
    mut caller: impl FnMut(&Transcript, &crate::engine::Gather) -> Option<Turn>,
    wait: bool,
) -> (Transcript, Option<crate::engine::Gather>) {
    let mut t = Transcript::default();
    let mut clock = Clock { start: at, ms: Millis::ZERO };
    let mut out = Output::default();
    let mut call = Call::start_into(flow, start, at, &mut out);
    let mut pending = String::new();
    let mut gathers = 0;
    let mut said_end = false;
    // A turn the caller chose while talking to a person, for the flow's `after` to hear.
    let mut after_talk: Option<Turn> = None;
    loop {
        let gather = perform(flow, &call, &out, &mut clock, &mut t);
        if let Some(request) = out.fetch.take() {
            let node = flow.node(call.node()).id.clone();
            let answer = mocks.answer(&node, &request);
            t.push(
                &clock,
                Entry::Fetch {
                    method: request.method.to_string(),
                    url: request.url.to_string(),
                    status: answer.status,
                    duration_ms: Millis::from(answer.ms),
                },
            );
            if let Some(why) = answer.why {
                t.push(&clock, Entry::Note { text: why });
            }
            clock.ms += Millis::from(answer.ms);
            let fetched = Fetched { status: answer.status, json: answer.json.as_ref(), ms: answer.ms };
            call.handle_into(flow, Event::Fetched(fetched), clock.now(), &mut out);
            continue;
        }
        if let Some(b) = out.book.take() {
            // A scripted call keeps every booking: stores are the server's concern.
            t.push(
                &clock,
                Entry::Callback {
                    queue: b.queue.to_string(),
                    number: b.number.to_string(),
                    language: b.language.to_string(),
                    told_wait_s: b.told_wait_s,
                    window: b.window.map(|w| w.to_string()),
                },
            );
            call.handle_into(flow, Event::Booked(true), clock.now(), &mut out);
            continue;
        }
        let Some(gather) = gather else {
            // Handed to a person with `after`: a caller with more to do (a turn left) stays on
            // the line when the person hangs up, and the flow goes on; otherwise the call ends.
            let Some(end) = call.conversation_end(flow) else { break };
            let Some(turn) = caller(&t, &talking(flow, &call)) else { break };
            if turn == Turn::Hangup {
                break;
            }
            t.push(&clock, Entry::Note { text: "the person hangs up; the caller stays on the line".into() });
            after_talk = Some(turn);
            call.handle_into(flow, end, clock.now(), &mut out);
            continue;
        };
        gathers += 1;
        if gathers > MAX_GATHERS {
            t.push(&clock, Entry::Note { text: format!("stopped after {MAX_GATHERS} prompts") });
            break;
        }
        let turn = if !pending.is_empty() {
            Turn::Keys(std::mem::take(&mut pending))
        } else if let Some(turn) = after_talk.take() {
            turn
        } else if let Some(turn) = caller(&t, &gather) {
            turn
        } else if wait {
            t.duration_s = clock.ms.as_secs_f64();
            return (t, Some(gather));
        } else {
            if !said_end {
                t.push(&clock, Entry::Note { text: "the script has ended: the caller stays silent".into() });
                said_end = true;
            }
            Turn::Silence
        };
        let now = clock.now();
        match turn {
            Turn::Keys(keys) => {
                // A one-key menu takes one key; the rest is typed ahead into the next gather.
                let take = if gather.finish_key.is_none() || gather.max_digits <= 1 {
                    keys.char_indices().nth(usize::from(gather.max_digits.max(1))).map_or(keys.len(), |(i, _)| i)
                } else {
                    keys.find(gather.finish_key.unwrap_or('#')).map_or(keys.len(), |i| i + 1)
                };
                let (now_keys, rest) = keys.split_at(take);
                pending = rest.to_owned();
                t.push(&clock, Entry::Keys { keys: now_keys.to_owned() });
                clock.ms += Millis::from(KEY_MS) * now_keys.chars().count() as u64;
                call.handle_into(flow, Event::Digits(now_keys), now, &mut out);
            }
            Turn::Silence => {
                t.push(&clock, Entry::Silence { duration_ms: gather.timeout_ms });
                clock.ms += gather.timeout_ms;
                call.handle_into(flow, Event::NoInput, clock.now(), &mut out);
            }
            Turn::Speech(text) => {
                t.push(&clock, Entry::Speech { text: text.clone() });
                clock.ms += crate::engine::flow::speech_ms(&text);
                let event = Event::Speech { text: &text, confidence: SPEECH_CONFIDENCE };
                call.handle_into(flow, event, clock.now(), &mut out);
            }
            Turn::Hangup => {
                t.push(&clock, Entry::Hangup { by_caller: true });
                call.handle_into(flow, Event::Hangup, now, &mut out);
                record_trace(flow, &out, &mut 0, None, &clock, &mut t);
                break;
            }
        }
    }
    t.outcome = call.outcome(flow);
    t.duration_s = clock.ms.as_secs_f64();
    (t, None)
}

/// What the caller is asked for while talking to a person: no keys, no speech for the flow.
fn talking(flow: &Flow, call: &Call) -> crate::engine::Gather {
    let lang = flow.languages.get(usize::from(call.language())).cloned().unwrap_or_else(|| "".into());
    crate::engine::Gather {
        min_digits: 0,
        max_digits: 0,
        finish_key: None,
        timeout_ms: Millis::ZERO,
        speech: false,
        hints: "".into(),
        lang,
    }
}

struct Clock {
    start: NaiveDateTime,
    ms: Millis,
}

impl Clock {
    fn now(&self) -> NaiveDateTime {
        let ms = i64::try_from(self.ms.0).unwrap_or(i64::MAX);
        chrono::TimeDelta::try_milliseconds(ms)
            .and_then(|d| self.start.checked_add_signed(d))
            .unwrap_or(NaiveDateTime::MAX)
    }
}

impl Transcript {
    fn push(&mut self, clock: &Clock, entry: Entry) {
        self.entries.push(Timed { at_ms: clock.ms, entry });
    }
}

/// Records the trace entries that happened before action number `upto` (all when `None`).
fn record_trace(flow: &Flow, out: &Output, from: &mut usize, upto: Option<usize>, clock: &Clock, t: &mut Transcript) {
    while let Some(&(at, trace)) = out.trace.get(*from) {
        if upto.is_some_and(|u| at > u) {
            return;
        }
        *from += 1;
        t.trace.push(trace);
        let note = match trace {
            Trace::Enter(id) => {
                let id_text = flow.node(id).id.to_string();
                t.path.push(id_text.clone());
                t.push(clock, Entry::Node { id: id_text });
                continue;
            }
            Trace::Choice(i) => {
                // The choice belongs to the menu entered last, which the call is leaving.
                if let Some(from) = t.path.last().and_then(|p| flow.find(p)) {
                    t.choices.push((from.index(), i));
                }
                continue;
            }
            Trace::Branch(_) | Trace::Stored => continue,
            Trace::Rated(score) => format!("rated {score}"),
            Trace::Fetched(result) => format!("fetch: {}", result.as_str()),
            Trace::Escape => "escape: to the operator".to_owned(),
            Trace::Repeat => "repeat".to_owned(),
            Trace::Back => "back".to_owned(),
            Trace::Retry(n) => format!("no input: re-prompt {n}"),
            Trace::Fallback => "no input after the last re-prompt: timeout fallback".to_owned(),
            Trace::Invalid(n) => format!("invalid entry {n}"),
            Trace::Escalate => "too many invalid entries: escalated".to_owned(),
            Trace::Unintelligible => "speech not understood".to_owned(),
            Trace::Loop => "the flow loops without asking: sent to the operator".to_owned(),
            Trace::StaleVersion => "the flow changed: sent to the operator".to_owned(),
            // The booking itself is the `Callback` entry before it.
            Trace::Callback => continue,
            Trace::CallbackFailed => "call-back not booked: the node's `failed` way".to_owned(),
        };
        t.push(clock, Entry::Note { text: note });
    }
}

/// Performs the actions of one engine output on the transcript; returns the gather the engine
/// now waits on, if any.
fn perform(
    flow: &Flow,
    call: &Call,
    out: &Output,
    clock: &mut Clock,
    t: &mut Transcript,
) -> Option<crate::engine::Gather> {
    let mut traced = 0;
    let mut gather = None;
    for (i, action) in out.actions.iter().enumerate() {
        record_trace(flow, out, &mut traced, Some(i), clock, t);
        match action {
            Action::Say { text, lang, duration_ms } => {
                t.heard.push(text.to_string());
                let entry = Entry::Prompt {
                    text: Some(text.to_string()),
                    file: None,
                    lang: lang.to_string(),
                    duration_ms: *duration_ms,
                };
                t.push(clock, entry);
                clock.ms += *duration_ms;
            }
            Action::Play { file, text, lang, duration_ms } => {
                if let Some(text) = text {
                    t.heard.push(text.to_string());
                }
                let text = text.as_ref().map(|s: &Arc<str>| s.to_string());
                let entry = Entry::Prompt {
                    text,
                    file: Some(file.to_string()),
                    lang: lang.to_string(),
                    duration_ms: *duration_ms,
                };
                t.push(clock, entry);
                clock.ms += *duration_ms;
            }
            Action::Pause { ms } => {
                t.push(clock, Entry::Pause { duration_ms: *ms });
                clock.ms += *ms;
            }
            Action::Gather(g) => {
                t.push(
                    clock,
                    Entry::Gather {
                        max_digits: g.max_digits,
                        finish_key: g.finish_key,
                        timeout_ms: g.timeout_ms,
                        speech: g.speech,
                    },
                );
                gather = Some(g.clone());
            }
            Action::Enqueue { queue, .. } => t.push(clock, Entry::Enqueue { queue: queue.to_string() }),
            Action::Dial { number, .. } => t.push(clock, Entry::Dial { number: number.to_string() }),
            Action::Record { mailbox, .. } => t.push(clock, Entry::Record { mailbox: mailbox.to_string() }),
            Action::Hangup => t.push(clock, Entry::Hangup { by_caller: false }),
        }
    }
    record_trace(flow, out, &mut traced, None, clock, t);
    gather.filter(|_| call.is_listening())
}
