#!/usr/bin/env bash
# The message log's commit in isolation (see BENCHMARKS.md, "Tenth round"):
#
#   bash bench/log_commit.sh          # ~1 min: build, then 3 rounds of both schemas
#
# Runs crates/zhanggui/examples/bench_log_commit.rs pinned to one core: the committer's own
# connection writes ROWS rows shaped like the callback benchmark's in batches of BATCH (27,
# the callback benchmark's average) while a second connection checkpoints every 100 ms, on a
# database migrated as shipped and, alternately in the same run, on one whose log table still
# has AUTOINCREMENT. Knobs: ROWS (300000), ROUNDS (3), BATCH (27), CORE (1),
# PAGE_SIZE (unset: SQLite's 4096; the page size both databases are created with),
# OUT (target/bench/log-commit-<time>). Only local files; stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-300000}"
ROUNDS="${ROUNDS:-3}"
BATCH="${BATCH:-27}"
CORE="${CORE:-1}"
OUT="${OUT:-$ROOT/target/bench/log-commit-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/zg-log-commit.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

timeout 2400 cargo build --release -q -p zhanggui --example bench_log_commit
timeout 1200 taskset -c "$CORE" "$ROOT/target/release/examples/bench_log_commit" \
  "$WORK" "$ROWS" "$ROUNDS" "$BATCH" | tee "$OUT/results.tsv"

# Medians per schema (columns: committer, process, wall µs a row).
awk -F'\t' 'NR > 1 { c[$1] = c[$1] " " $5; p[$1] = p[$1] " " $6; w[$1] = w[$1] " " $7 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    print "| schema | committer µs/row | process µs/row | wall µs/row |"
    print "|---|---:|---:|---:|"
    for (s in c) printf "| %s | %.2f | %.2f | %.2f |\n", s, median(c[s]), median(p[s]), median(w[s])
  }' "$OUT/results.tsv" | tee "$OUT/summary.md"
