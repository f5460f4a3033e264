#!/usr/bin/env bash
# Instructions a callback costs, counted by valgrind's callgrind rather than timed (see
# BENCHMARKS.md, callback, twentieth round). Counts are repeatable for the same binary and
# load whatever else the machine does, so a change of a few percent in the callback's own
# work shows here when throughput pairs (±10% on these machines) cannot tell. What they do
# not show: the kernel's work (system calls, TCP), SHA-NI (valgrind runs SHA-1 in software,
# so safe mode's signatures look ~10x dearer than they are), and how background passes
# amortise: the server runs ~40x slower under valgrind, so a pass every 250 ms covers ~40x
# fewer rows and its fixed costs weigh ~40x more a callback. Read the runtime's thread.
#
#   bash bench/callgrind.sh                        # builds, then the plaintext default reply
#   ZG_BIN=/tmp/other MODE=safe bash bench/callgrind.sh
#   RULES=10 bash bench/callgrind.sh               # a keyword rule's hit per request instead
#
# The server runs under callgrind on core 1 (SQLite file, sandbox mode), wrk with 64
# connections on core 0: a warm-up uninstrumented, then SECS seconds counted. Every request
# is a text message with its own MsgId and signature (crates/zhanggui/examples/
# bench_requests.rs, as bench/callback.sh). Writes OUT/callgrind.out-NN, one file a thread,
# and prints instructions a callback for the runtime's thread and for all threads, then the
# callback handler's biggest parts. Loopback only; every step is bounded in time.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODE="${MODE:-plaintext}"
SECS="${SECS:-20}"
RULES="${RULES:-}"
OUT="${OUT:-$ROOT/target/bench/callgrind-$(date +%Y%m%d-%H%M%S)}"
DEFAULT_REPLY='收到，我们会尽快回复您。营业时间 9:00–21:00，急事请拨打客服电话。'

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'callgrind: %s\n' "$*" >&2; exit 1; }

case "$MODE" in plaintext | safe) ;; *) die "MODE must be plaintext or safe" ;; esac
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 5 ] && [ "$SECS" -le 300 ] || die "SECS: 5 to 300"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores"
[ -z "$RULES" ] || [[ "$RULES" =~ ^[1-9][0-9]*$ ]] || die "RULES must be a count"

need_apt=()
command -v valgrind >/dev/null 2>&1 || need_apt+=(valgrind)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ -z "${ZG_BIN:-}" ]; then
  log "building (release)"
  (cd "$ROOT" && timeout 2400 cargo build --release -q -p zhanggui --bin zhanggui \
    --example bench_requests --example bench_rules)
fi
ZG="${ZG_BIN:-$ROOT/target/release/zhanggui}"
GEN="$ROOT/target/release/examples/bench_requests"
[ -x "$GEN" ] || die "no $GEN: cargo build --release -p zhanggui --example bench_requests"

mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/zg-callgrind.XXXXXX)"
SERVER=""
cleanup() {
  [ -z "$SERVER" ] || kill -KILL "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

export ZG_DATABASE_URL="sqlite://$WORK/zhanggui.db"
timeout 60 "$ZG" merchant add --name callgrind >/dev/null
account="$(timeout 60 "$ZG" account add --merchant callgrind --name callgrind --type service \
  --verified --mode "$MODE" --sandbox)"
field() { awk -v k="$1" '$1 == k { print $2 }' <<<"$account"; }
ACCOUNT_ID="$(awk '/^account [0-9]+ created/ { print $2 }' <<<"$account")"
WX_PATH="$(field URL: | sed -E 's#^https?://[^/]+##')"
[ -n "$ACCOUNT_ID" ] && [ -n "$WX_PATH" ] || die "could not read the account from: $account"
timeout 60 sqlite3 "$WORK/zhanggui.db" \
  "UPDATE accounts SET default_reply_text = '$DEFAULT_REPLY' WHERE id = $ACCOUNT_ID"
# With RULES, keyword rules as bench/callback.sh seeds them, and every request a hit.
TEXT_FLAGS=()
if [ -n "$RULES" ]; then
  SEEDER="$ROOT/target/release/examples/bench_rules"
  [ -x "$SEEDER" ] || die "no $SEEDER: cargo build --release -p zhanggui --example bench_rules"
  timeout 900 "$SEEDER" --db "$ZG_DATABASE_URL" --account "$ACCOUNT_ID" --rules "$RULES" \
    --out "$WORK/texts.tsv" --max-bytes 48 >/dev/null || die "could not seed $RULES rules"
  TEXT_FLAGS=(--texts "$WORK/texts.tsv" --pad-to 48)
fi

# 100,000 requests for the warm-up, then more than the counted seconds send under callgrind
# (~1,500 a second on these machines; a run that wraps is refused).
WARM=100000
TOTAL=$((WARM + 5000 * SECS))
RECLEN="$(timeout 300 "$GEN" --mode "$MODE" --path "$WX_PATH" --token "$(field Token:)" \
  --aes-key "$(field EncodingAESKey:)" --app-id "$(field AppID:)" "${TEXT_FLAGS[@]}" \
  --first-msg-id 7000000000000000000 --count "$TOTAL" --out "$WORK/requests.bin")"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log "server under callgrind on core 1 ($MODE)"
ZG_LISTEN="127.0.0.1:$PORT" ZG_PUBLIC_URL="http://127.0.0.1:$PORT" ZG_MODE=sandbox \
  taskset -c 1 valgrind --tool=callgrind --instr-atstart=no \
  --separate-threads=yes --callgrind-out-file="$OUT/callgrind.out" \
  "$ZG" serve --no-demo >"$OUT/server.log" 2>&1 &
SERVER=$! # valgrind itself (taskset execs it): callgrind_control talks to this pid
curl -s -o /dev/null --retry 120 --retry-connrefused --retry-delay 1 --max-time 300 \
  "http://127.0.0.1:$PORT/healthz" || die "the server did not start (see $OUT/server.log)"

replay() { # seconds first count
  taskset -c 0 timeout $(($1 + 60)) wrk -t1 -c64 -d"$1s" --timeout 30s \
    -s "$ROOT/bench/replay.lua" "http://127.0.0.1:$PORT$WX_PATH" -- "$WORK/requests.bin" \
    "$RECLEN" "$2" "$3"
}
log "warm-up (not counted)"
replay 5 0 "$WARM" >"$OUT/warm.out"
timeout 60 callgrind_control -i on "$SERVER" >/dev/null 2>&1
log "counting for $SECS s"
replay "$SECS" "$WARM" $((TOTAL - WARM)) >"$OUT/run.out"
timeout 60 callgrind_control -i off "$SERVER" >/dev/null 2>&1
timeout 120 callgrind_control -d "$SERVER" >/dev/null 2>&1
kill -TERM "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
SERVER=""

result="$(grep '^RESULT ' "$OUT/run.out")" || die "wrk gave no result (see $OUT/run.out)"
grep -Eq ' wraps=0( |$)' <<<"$result" || die "requests were sent twice: $result"
requests="$(sed -E 's/.* requests=([0-9]+) .*/\1/' <<<"$result")"
[ "$requests" -gt 1000 ] || die "too few callbacks counted: $result"

total=0
runtime=0
for f in "$OUT"/callgrind.out.1-*; do
  n="$(awk '$1 == "totals:" { print $2; exit }' "$f")"
  total=$((total + n))
  # The first thread is the runtime's (one core: tokio's current-thread runtime).
  [ "${f##*-}" != 01 ] || runtime="$n"
done
{
  echo "$MODE: $requests callbacks counted"
  echo "instructions a callback, runtime's thread: $((runtime / requests))"
  echo "instructions a callback, all threads:      $((total / requests))"
  echo
  echo "The handler's parts (instructions a callback, inclusive):"
  callgrind_annotate --inclusive=yes --tree=calling "$OUT/callgrind.out.1-01" 2>/dev/null \
    | awk '/\*  .*answer_message::\{\{closure\}\}/ { on = 1; print; next } on && /^$/ { exit } on' \
    | sed 's/,//g' | sort -k1 -rn | head -16 \
    | awk -v n="$requests" '{ x = $1; $1 = ""; $2 = ""; sub(/^ +/, ""); sub(/ \[.*/, ""); sub(/.*\/src\//, ""); printf "%8.0f  %s\n", x / n, $0 }'
} | tee "$OUT/summary.txt"
