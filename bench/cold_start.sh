#!/usr/bin/env bash
# A cold start under load with many reply rules (see BENCHMARKS.md, "Reply rules"):
#
#   bash bench/cold_start.sh            # 10,000 rules, then 10
#   RULES="10000" bash bench/cold_start.sh
#
# For each rule count: a fresh SQLite database with one plaintext account seeded with the
# rules (crates/zhanggui/examples/bench_rules.rs), `zhanggui serve` pinned to core 1, and at
# once — no request before — wrk on core 0 with 64 connections for 8 s, every request a text
# hitting one of the rules (bench_requests --texts, replayed by bench/replay.lua). Prints
# wrk's result line, the server's peak resident memory (VmHWM) and how many reply indexes it
# compiled (the metric zhanggui_reply_index_compiles_total: 1 when the callbacks in flight
# wait for one compile). Loopback only; every step has a timeout; stops what it started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RULES="${RULES:-10000 10}"
command -v wrk >/dev/null 2>&1 && command -v taskset >/dev/null 2>&1 \
  || { echo "needs wrk and taskset (bench/callback.sh installs them)" >&2; exit 1; }
timeout 2400 cargo build --release -q --manifest-path "$ROOT/Cargo.toml" -p zhanggui \
  --bin zhanggui --example bench_rules --example bench_requests
B="$ROOT/target/release"
WORK="$(mktemp -d /tmp/zg-cold.XXXXXX)"
PID=""
cleanup() {
  [ -z "$PID" ] || kill -TERM "$PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK" # no zhanggui.toml here
for n in $RULES; do
  export ZG_DATABASE_URL="sqlite://$WORK/cold-$n.db"
  timeout 60 "$B/zhanggui" merchant add --name "cold$n" >/dev/null
  out="$(timeout 60 "$B/zhanggui" account add --merchant "cold$n" --name "cold$n" \
    --type service --verified --mode plaintext --sandbox)"
  field() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }
  account="$(awk '/^account [0-9]+ created/ { print $2 }' <<<"$out")"
  path="$(field URL: | sed -E 's#^https?://[^/]+##')"
  timeout 900 "$B/examples/bench_rules" --db "$ZG_DATABASE_URL" --account "$account" \
    --rules "$n" --out "$WORK/texts-$n.tsv" --max-bytes 48 >/dev/null
  reclen="$(timeout 300 "$B/examples/bench_requests" --mode plaintext --path "$path" \
    --token "$(field Token:)" --aes-key "$(field EncodingAESKey:)" --app-id "$(field AppID:)" \
    --texts "$WORK/texts-$n.tsv" --pad-to 48 --first-msg-id 3000000000000000000 \
    --count 400000 --out "$WORK/requests-$n.bin")"
  port=$((40000 + RANDOM % 10000))
  ZG_LISTEN="127.0.0.1:$port" ZG_PUBLIC_URL="http://127.0.0.1:$port" \
    taskset -c 1 timeout 60 "$B/zhanggui" serve --no-demo >"$WORK/server-$n.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" && break
    sleep 0.1
  done
  result="$(taskset -c 0 timeout 30 wrk -t1 -c64 -d8s --timeout 2s -s "$ROOT/bench/replay.lua" \
    "http://127.0.0.1:$port/" -- "$WORK/requests-$n.bin" "$reclen" 0 400000 | grep RESULT)"
  server="$(pgrep -P "$PID" | head -n 1 || true)" # timeout's child is the server
  hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/${server:-$PID}/status")"
  compiles="$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics" \
    | awk '$1 == "zhanggui_reply_index_compiles_total" { print $2 }')"
  echo "rules=$n ${result#RESULT } peak_rss_kb=$hwm index_compiles=${compiles:-?}"
  kill -TERM "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
  rm -f "$WORK/requests-$n.bin"
done
