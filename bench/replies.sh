#!/usr/bin/env bash
# The reply rules' cost (see BENCHMARKS.md, "Reply rules"):
#
#   bash bench/replies.sh [--keywords 10000] [--messages 30000] [--regex-percent 5] [--callback]
#
# Builds crates/zhanggui/examples/reply_match.rs in release and runs it pinned to one core:
# an index of 10,000 generated keywords (60% exact, 35% contains, 5% patterns) and one of 10
# rules decide the same 30,000 messages in the same process; prints the compile time, the
# median and p99 time per decision, and the resident memory the big index adds. Runs on
# this machine only, no network, and stops by itself.
#
# With --callback it then measures the callback's throughput with 10,000 rules against 10 in
# the same run (bench/callback.sh with RULES="10 10000"; accounts seeded by
# crates/zhanggui/examples/bench_rules.rs, every request hitting a rule). Its knobs pass
# through the environment; the defaults here are RULES="10 10000" CASES="ceiling sqlite"
# MODES=plaintext (add postgres to CASES for PostgreSQL at 127.0.0.1:5432), and the whole
# comparison is bounded by CALLBACK_TIMEOUT seconds (5400).
set -euo pipefail
cd "$(dirname "$0")/.."

callback=0
args=()
for a in "$@"; do
  if [ "$a" = --callback ]; then callback=1; else args+=("$a"); fi
done

timeout 2400 cargo build --release -q -p zhanggui --example reply_match
bin=target/release/examples/reply_match
if command -v taskset >/dev/null 2>&1; then
  timeout 300 taskset -c 1 "$bin" "${args[@]}"
else
  timeout 300 "$bin" "${args[@]}"
fi

if [ "$callback" = 1 ]; then
  echo
  echo "==> callback throughput, 10,000 rules against 10 (bench/callback.sh)"
  RULES="${RULES:-10 10000}" CASES="${CASES:-ceiling sqlite}" MODES="${MODES:-plaintext}" \
    timeout -k 30 "${CALLBACK_TIMEOUT:-5400}" bash bench/callback.sh
fi
