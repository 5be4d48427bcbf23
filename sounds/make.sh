#!/usr/bin/env bash
# Regenerates the sample hotline's recorded prompts (sounds/*.wav) with the espeak-ng speech
# synthesizer, converted to telephony audio (8 kHz mono 16-bit PCM) by `switchboard sounds
# convert`. The WAV files are committed, so nobody needs to run this to use the project.
#
#   apt-get install espeak-ng     # Debian/Ubuntu; the ru and en-us voices come with it
#   sounds/make.sh
#
# The texts are the prompts of flows/support.toml, where they stay as transcripts and as the
# fallback when a file is missing: change both together. Voice settings match
# src/sounds/synth.rs, which speaks prompts that have no file in `switchboard call --record`.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v espeak-ng >/dev/null || { echo "espeak-ng is not installed: apt-get install espeak-ng" >&2; exit 2; }
cargo build --release --quiet
switchboard=target/release/switchboard

# 170 words a minute; amplitude 60 (of 200) keeps peaks near -3 dBFS, clear of clipping.
WPM=170
AMPLITUDE=60
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# say LANG OUT.wav TEXT [LANG TEXT]...: synthesise each text in its language, join them in order.
say() {
  local out=$1; shift
  local parts=() n=0
  while [ $# -gt 0 ]; do
    local voice=$1 text=$2; shift 2
    [ "$voice" = en ] && voice=en-us
    n=$((n + 1))
    espeak-ng -v "$voice" -s "$WPM" -a "$AMPLITUDE" -w "$work/$n.wav" -- "$text"
    parts+=("$work/$n.wav")
  done
  "$switchboard" sounds convert "${parts[@]}" "sounds/$out" 2>/dev/null
  echo "sounds/$out"
}

say welcome.wav \
  ru "Здравствуйте! Вы позвонили в службу поддержки." \
  en "Hello! You have reached customer support."
say language.wav \
  ru "Для продолжения на русском языке нажмите 1." \
  en "For English, press 2."

say main_menu.ru.wav ru "Главное меню. Консультация по товарам и услугам — нажмите 1. Техническая помощь — 2. Статус заказа или заявки — 3. Жалобы — 4. Платежи, переводы и карты — 5. Оценить наше обслуживание — 6. Чтобы поговорить с оператором, нажмите 0. Повторить меню — звёздочка."
say main_menu.en.wav en "Main menu. For products and services, press 1. Technical help, 2. Order or request status, 3. Complaints, 4. Payments, transfers and cards, 5. To rate our service, 6. To talk to an operator, press 0. To hear this again, press star."

say no_input.ru.wav ru "Извините, я вас не слышу."
say no_input.en.wav en "Sorry, I didn't hear anything."
say invalid.ru.wav ru "Извините, такого варианта нет."
say invalid.en.wav en "Sorry, that is not one of the options."

say operator.ru.wav ru "Соединяю с оператором."
say operator.en.wav en "Connecting you to an operator."

# The wait in the first-line queue; the hold music itself is generated in code. Whether all
# operators are busy is the announcement's to say, when the model expects a wait.
say first_line.ru.wav ru "Пожалуйста, оставайтесь на линии, вам ответит первый освободившийся специалист."
say first_line.en.wav en "Please stay on the line; the next available specialist will answer."
say please_hold.ru.wav ru "Пожалуйста, оставайтесь на линии."
say please_hold.en.wav en "Please stay on the line."

# The queues' expected-wait announcement, one file per whole minute up to 20; the flow speaks
# the text for longer waits. Russian takes the genitive after «около»; espeak-ng does not inflect
# numerals, so the recordings spell them out.
ru_minutes=(одной двух трёх четырёх пяти шести семи восьми девяти десяти одиннадцати двенадцати
  тринадцати четырнадцати пятнадцати шестнадцати семнадцати восемнадцати девятнадцати двадцати)
for n in $(seq 1 20); do
  if [ "$n" = 1 ]; then ru_unit=минуты en_unit=minute; else ru_unit=минут en_unit=minutes; fi
  say "wait_$n.ru.wav" ru "Все операторы заняты. Примерное время ожидания — около ${ru_minutes[$((n - 1))]} $ru_unit."
  say "wait_$n.en.wav" en "All our operators are busy. The wait is about $n $en_unit."
done

say closed.ru.wav ru "Служба поддержки работает по будням с 9 до 21 часа и по субботам с 10 до 18 часов. Вы можете написать нам в чат на сайте или на почту: саппорт собака экзампл точка ком. Чтобы оставить голосовое сообщение, оставайтесь на линии."
say closed.en.wav en "Support is open on weekdays from 9 am to 9 pm and on Saturdays from 10 am to 6 pm. You can write to us in the chat on our website or to support@example.com. To leave a voice message, stay on the line."

say holiday.ru.wav ru "Сегодня праздничный день, и служба поддержки не работает. Мы ответим вам в первый рабочий день. Вы можете написать нам в чат на сайте или на почту: саппорт собака экзампл точка ком. Чтобы оставить голосовое сообщение, оставайтесь на линии."
say holiday.en.wav en "Today is a public holiday and support is closed. We will answer on the next working day. You can write to us in the chat on our website or to support@example.com. To leave a voice message, stay on the line."

say voicemail.ru.wav ru "Оставьте сообщение после сигнала. Чтобы закончить, нажмите решётку."
say voicemail.en.wav en "Please leave a message after the tone. Press hash when you are done."

say goodbye.ru.wav ru "Спасибо за звонок! До свидания."
say goodbye.en.wav en "Thank you for calling. Goodbye!"

"$switchboard" sounds check sounds
