#!/usr/bin/env bash
# Seeds each fuzz target's corpus from the repository's own files (copied here, not committed:
# fuzz/seeds/ is ignored). Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
root=..
seeds=seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{flow,model,script,scenario,webhook,token,wav,fit_csv}
copy() { # copy DIR FILES...: each file under its path-derived name
  local dir=$1; shift
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$seeds/$dir/$(echo "${f#$root/}" | tr '/' '_')"; done
}
shopt -s nullglob globstar
copy flow $root/flows/*.toml $root/tests/fixtures/*.toml $root/docs/**/*.toml
copy model $root/flows/*.model.toml $root/tests/fixtures/*.model.toml
copy scenario $root/flows/*.test.toml $root/tests/fixtures/*.test.toml
copy wav $root/sounds/*.wav $root/tests/fixtures/**/*.wav
copy fit_csv $root/**/*.csv
# Call logs as `fit` reads them: per call, and interval volumes.
printf 'start,queue,wait,handle_time,abandoned\n2026-03-16 09:15,first_line,12,180,no\n2026-03-16 09:20,first_line,95,,yes\n2026-03-17 10:02:30,second_line,01:35,3:10,0\n' >"$seeds/fit_csv/calls.csv"
printf 'interval,queue,calls\n2026-03-16 09:00,main,12\n2026-03-16 09:30,main,15\n2026-03-23 09:00,main,11\n' >"$seeds/fit_csv/volumes.csv"
printf 'Call Start;Status\r\n16.03.2026 09:15,"Abandoned, in queue"\r\n1773652500,answered\r\n' >"$seeds/fit_csv/odd.csv"
# Caller scripts as the docs and tests write them.
printf '1' >"$seeds/script/keys"
printf '1 2 wait 5s 0#' >"$seeds/script/keys_wait"
printf 'say "оператор"\n1\nsilence\nhangup\n' >"$seeds/script/lines"
# A flow followed by a script, as the flow target reads them.
for f in $root/flows/support.toml $root/flows/hello.toml; do
  { cat "$f"; printf '\n#---\n1 0\n'; } >"$seeds/flow/$(basename "$f").with_script"
done
# Webhook requests of each provider: selector byte, path line, body (see fuzz_targets/webhook.rs).
w() { printf "$1" >"$seeds/webhook/$2"; }
w '\x00support\nCallSid=CA1&From=%%2B79990001122&To=%%2B74950000000' twilio_start
w '\x00support/gather?t=AAAA\nCallSid=CA1&Digits=1' twilio_gather
w '\x00fallback\nCallSid=CA1&ErrorCode=11200&ErrorUrl=https%%3A%%2F%%2Fivr.example.com%%2Ftwilio%%2Fsupport' twilio_fallback
w '\x00status?flow=support\nCallSid=CA1&CallStatus=completed&CallDuration=30' twilio_status
w '\x01support\nCallSid=CA1&From=%%2B7999' signalwire_start
w '\x22support\n{"data":{"event_type":"call.initiated","payload":{"call_control_id":"c1","from":"+7999"}}}' telnyx_start
w '\x03support\nCallUUID=u1&From=7999&Direction=inbound' plivo_start
w '\x34support\n{"uuid":"u1","from":"7999","to":"7495"}' vonage_answer
w '\x24support/gather?t=AAAA\n{"uuid":"u1","dtmf":{"digits":"1","timed_out":false}}' vonage_input
w '\x24support/recorded?t=AAAA\n{"event":"recorded","uuid":"u1"}' vonage_notify
w '\x25support\n{"call_sid":"c1","from":"+7999","direction":"inbound"}' jambonz_start
w '\x2dsupport\nJambonz-Signature: t=1778065200,v1=00\n\n{"call_sid":"c1"}' jambonz_signed
w '\x08support\nX-Twilio-Signature: bm90IGl0\n\nCallSid=CA1' twilio_signed
w '\x2csupport\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA\n\n{"uuid":"u1"}' vonage_signed
# Tokens: a real one's shape and some near misses.
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' >"$seeds/token/zeros"
printf '%%%%%%' >"$seeds/token/not_base64"
echo "seeded: $(for d in "$seeds"/*; do printf '%s=%s ' "$(basename "$d")" "$(ls "$d" | wc -l)"; done)"
