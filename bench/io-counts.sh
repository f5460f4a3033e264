#!/usr/bin/env bash
# What the server does for each callback, counted rather than timed (see BENCHMARKS.md,
# callback, seventeenth round): CPU time and the database's system calls (pwrite64, pwritev, pread64,
# fsync) per thread group, divided by the callbacks answered in the same window. On the
# machines of this kind throughput pairs move by ±10% from one case to the next; these
# counts move by a few percent, so a change in the work a callback does shows in them first.
#
# Used in place of the binary by bench/callback.sh:
#
#   ZG_REAL=target/release/zhanggui ZG_BIN=bench/io-counts.sh \
#     RULES=10 CASES=sqlite bash bench/callback.sh
#   bash bench/io-counts.sh --summary            # one line per case and thread group
#
# For `serve` it starts `perf stat` on the server's threads IO_DELAY seconds (7) after the
# start, for IO_WINDOW seconds (8): inside the measured run of the default timings. It reads
# the callback counter from the server's /metrics before and after, and writes
# IO_OUT/<binary>-<time>.perf (IO_OUT defaults to target/bench/io). Every other command goes
# straight to the binary. It needs perf and curl, and only talks to the server's own address.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
IO_OUT="${IO_OUT:-$ROOT/target/bench/io}"

if [ "${1:-}" = "--summary" ]; then
  for f in "$IO_OUT"/*.perf; do
    awk -v f="$(basename "$f")" '
      /^callbacks/ { req = $2 }
      { name = $1; sub(/-[0-9]+$/, "", name) }
      /task-clock/ { t[name] += $2 }
      /sys_enter_pread64/ { pr[name] += $2 }
      /sys_enter_pwrite64/ { pw[name] += $2 }
      /sys_enter_pwritev/ { pv[name] += $2 }
      /sys_enter_fsync/ { fs[name] += $2 }
      END {
        if (req <= 0) { print f ": no callbacks counted"; exit }
        for (k in t) if (t[k] > 10)
          printf "%-34s %-16s callbacks %7d  cpu µs %6.2f  pread %5.3f  pwrite %5.3f  pwritev %5.3f  fsync/s %5.1f\n",
            f, k, req, t[k] * 1000 / req, pr[k] / req, pw[k] / req, pv[k] / req, fs[k] / window
      }' window="${IO_WINDOW:-8}" "$f"
  done
  exit 0
fi

: "${ZG_REAL:?ZG_REAL must name the zhanggui binary to run}"
if [ "${1:-}" = "serve" ]; then
  mkdir -p "$IO_OUT"
  server=$$
  (
    callbacks() {
      curl -s --max-time 5 "http://${ZG_LISTEN:?}/metrics" |
        awk '/^zhanggui_http_requests_total.*wx/ { n += $2 } END { print n + 0 }'
    }
    sleep "${IO_DELAY:-7}"
    out="$IO_OUT/$(basename "$ZG_REAL")-$(date +%H%M%S).perf"
    before="$(callbacks)"
    timeout -s INT "${IO_WINDOW:-8}" perf stat --per-thread -p "$server" -o "$out" \
      -e 'syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pwritev,syscalls:sys_enter_pread64,task-clock' \
      >/dev/null 2>&1 || true
    echo "callbacks $(($(callbacks) - before))" >>"$out"
  ) &
fi
exec "$ZG_REAL" "$@"
