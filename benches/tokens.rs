//! State tokens sealed and opened per second: the encrypted token (AES-256-GCM-SIV, bound to
//! the call, expiring) beside the signed-only token it replaced (HMAC-SHA256, the state in
//! clear), in the same run, harness-less: `cargo bench --bench tokens`.
//!
//! Each webhook request opens one token and seals one, so the pair's time is what the server
//! adds per request. Each figure is the median over `SWITCHBOARD_BENCH_RUNS` runs (default 15)
//! of `SWITCHBOARD_BENCH_OPS` operations (default 20,000), the two kinds alternating run by
//! run so that other load on the machine falls on both alike. The state is a call of
//! `flows/support.toml` a few steps in: its number and the digits typed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchboard::engine::{Call, Event, Start, parse_and_check};
use switchboard::server::TokenKey;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The token before encryption, as `src/server/token.rs` made it:
/// `base64url(postcard(Call) ‖ varint(seq) ‖ HMAC-SHA256(secret, context ‖ flow ‖ payload)[..16])`.
struct SignedToken {
    secret: Vec<u8>,
}

impl SignedToken {
    fn mac(&self, flow: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("any length");
        mac.update(b"switchboard state token v1\0");
        mac.update(flow.as_bytes());
        mac.update(b"\0");
        mac.update(payload);
        mac
    }

    fn seal(&self, flow: &str, call: &Call, seq: u32) -> String {
        let mut bytes = postcard::to_stdvec(call).expect("serializes");
        bytes = postcard::to_extend(&seq, bytes).expect("serializes");
        let tag = self.mac(flow, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..16]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn open(&self, flow: &str, token: &str) -> Option<(Call, u32)> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (payload, tag) = bytes.split_at(bytes.len().checked_sub(16)?);
        self.mac(flow, payload).verify_truncated_left(tag).ok()?;
        let (call, rest) = postcard::take_from_bytes::<Call>(payload).ok()?;
        let (seq, _) = postcard::take_from_bytes::<u32>(rest).ok()?;
        Some((call, seq))
    }
}

fn time(ops: u64, mut op: impl FnMut()) -> Duration {
    let began = Instant::now();
    for _ in 0..ops {
        op();
    }
    began.elapsed() / ops as u32
}

fn main() {
    let runs = env_or("SWITCHBOARD_BENCH_RUNS", 15);
    let ops = env_or("SWITCHBOARD_BENCH_OPS", 20_000);
    let (flow, _) = parse_and_check(include_str!("../flows/support.toml"));
    let flow = flow.expect("the sample flow is valid");
    let at = chrono::NaiveDate::from_ymd_opt(2026, 5, 6).and_then(|d| d.and_hms_opt(11, 0, 0)).expect("valid");
    let (mut call, _) = Call::start(&flow, &Start { caller: Some("+79990001122"), language: None }, at);
    for keys in ["1", "2", "1234567"] {
        let _ = call.handle(&flow, Event::Digits(keys), at);
    }
    let now: DateTime<Utc> = DateTime::from_timestamp(1_778_065_200, 0).expect("valid");
    let call_id = "CA0123456789abcdef0123456789abcdef";
    let sealed = TokenKey::new(b"bench secret").with_previous(b"previous bench secret");
    let signed = SignedToken { secret: b"bench secret".to_vec() };
    let new_token = sealed.seal("support", call_id, &call, 42, now);
    let old_token = signed.seal("support", &call, 42);
    assert_eq!(sealed.open("support", call_id, &new_token, now).map(|s| s.seq), Ok(42));
    assert_eq!(signed.open("support", &old_token).map(|(_, seq)| seq), Some(42));

    let mut times: [Vec<Duration>; 4] = Default::default();
    for run in 0..runs {
        // Old first on odd runs, new first on even ones.
        let order: [usize; 4] = if run % 2 == 0 { [0, 1, 2, 3] } else { [2, 3, 0, 1] };
        for i in order {
            times[i].push(match i {
                0 => time(ops, || drop(black_box(sealed.seal("support", call_id, black_box(&call), 42, now)))),
                1 => time(ops, || drop(black_box(sealed.open("support", call_id, black_box(&new_token), now)))),
                2 => time(ops, || drop(black_box(signed.seal("support", black_box(&call), 42)))),
                _ => time(ops, || drop(black_box(signed.open("support", black_box(&old_token))))),
            });
        }
    }
    let [seal_new, open_new, seal_old, open_old] = times.map(median);
    let ns = |d: Duration| d.as_nanos() as f64;
    println!("state tokens, median of {runs} runs of {ops} operations (ns per operation):");
    println!("{:<34} {:>8} {:>8} {:>10} {:>7}", "", "seal", "open", "seal+open", "chars");
    let row = |name: &str, seal: Duration, open: Duration, chars: usize| {
        println!("{name:<34} {:>8.0} {:>8.0} {:>10.0} {chars:>7}", ns(seal), ns(open), ns(seal) + ns(open));
    };
    row("sealed (AES-256-GCM-SIV, 2 keys)", seal_new, open_new, new_token.len());
    row("signed only (HMAC-SHA256, before)", seal_old, open_old, old_token.len());
    println!(
        "ratio sealed/signed: seal {:.2}, open {:.2}, seal+open {:.2}",
        ns(seal_new) / ns(seal_old),
        ns(open_new) / ns(open_old),
        (ns(seal_new) + ns(open_new)) / (ns(seal_old) + ns(open_old))
    );
}
