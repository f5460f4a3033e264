#!/usr/bin/env bash
# The reply rules' matching cost (see BENCHMARKS.md, "Reply rules"):
#
#   bash bench/replies.sh [--keywords 10000] [--messages 30000] [--regex-percent 5]
#
# Builds crates/zhanggui/examples/reply_match.rs in release and runs it pinned to one core:
# an index of 10,000 generated keywords (60% exact, 35% contains, 5% patterns) and one of 10
# rules decide the same 30,000 messages in the same process; prints the compile time, the
# median and p99 time per decision, and the resident memory the big index adds. Runs on
# this machine only, no network, and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p zhanggui --example reply_match
bin=target/release/examples/reply_match
if command -v taskset >/dev/null 2>&1; then
  timeout 300 taskset -c 1 "$bin" "$@"
else
  timeout 300 "$bin" "$@"
fi
