#!/usr/bin/env bash
# What the server's threads wait on off the CPU in uninterruptible sleep (the disk, the file
# system's locks), with the stack each wait began in (BENCHMARKS.md, callback, twenty-fourth
# and twenty-fifth rounds: reads of WAL blocks inside the committer's pwrite).
#
#   OFFCPU_COMMS="zg-new zg-base" bash bench/offcpu.sh run -- \
#     env ZG_BIN=/tmp/zg-new COMPARE=/tmp/zg-base CASES=sqlite RULES=10 bash bench/callback.sh
#   bash bench/offcpu.sh report target/bench/offcpu-<time> [MIN_MS (0.5)] [LONGEST (10)]
#
# `run` records every switch away from a thread in D state (with its stack) and every switch
# back to a thread whose name is in OFFCPU_COMMS (the server's runtime thread is named after
# its binary: copy the binaries under distinct names to tell them apart), while the command
# runs; then prints the report. A wait lasts from the one to the other. `report` prints, per
# thread name, how many waits of at least MIN_MS and how long in all, by the first frame of
# their stack that names what was waited for; then the LONGEST waits with their stacks.
# Only the threads in OFFCPU_COMMS get their waits ended (other threads' switches back are
# not recorded). Needs perf with the sched tracepoints; only reads the kernel's events.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"

report() {
  local dir="$1" min_ms="${2:-0.5}" longest="${3:-10}"
  perf script -i "$dir/sched.data" -F comm,tid,time,event,trace,ip,sym 2>/dev/null |
    awk -v min_ms="$min_ms" -v longest="$longest" -v comms="$(cat "$dir/comms")" '
      BEGIN {
        n = split(comms, c, " "); for (i = 1; i <= n; i++) watched[c[i]] = 1
        # What a wait was for, most telling first: the first of these found in its stack.
        nk = split("ext4_block_write_begin ext4_da_write_begin filemap_read " \
          "ext4_da_get_block_prep blkdev_issue_discard jbd2 folio_wait_bit " \
          "rwsem_down_read rwsem_down_write mutex_lock io_schedule", keys, " ")
      }
      function field(name,    m) {
        if (match(header, name "=[^ ]+")) return substr(header, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
        return ""
      }
      function finish(    prev, state, next_pid, t, k, key, i, f, ms) {
        if (header == "") return
        prev = field("prev_pid"); state = field("prev_state"); next_pid = field("next_pid")
        t = when
        if (next_pid in began) {
          ms = (t - began[next_pid]) * 1000
          if (ms >= min_ms && who[next_pid] in watched) {
            key = "?"
            for (k = 1; k <= nk && key == "?"; k++)
              for (i = 1; i <= depth[next_pid]; i++)
                if (index(frames[next_pid, i], keys[k])) { key = keys[k]; break }
            count[who[next_pid] " " key]++; total[who[next_pid] " " key] += ms
            waits++; wait_ms[waits] = ms; wait_who[waits] = who[next_pid]; f = ""
            for (i = 1; i <= depth[next_pid] && i <= 24; i++) f = f (i > 1 ? " < " : "") frames[next_pid, i]
            wait_stack[waits] = f
          }
          delete began[next_pid]
        }
        if (state ~ /^D/) {
          began[prev] = t; who[prev] = field("prev_comm"); depth[prev] = nf
          for (i = 1; i <= nf; i++) frames[prev, i] = stack[i]
        }
        header = ""
      }
      /sched:sched_switch:/ {
        finish()
        header = $0; nf = 0
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) { when = substr($i, 1, length($i) - 1); break }
        next
      }
      NF >= 2 && header != "" {
        # A stack line: an address, then the symbol; scheduler frames say nothing.
        sym = $2
        if (sym !~ /^(__schedule|schedule|schedule_timeout|io_schedule_timeout)$/) stack[++nf] = sym
      }
      END {
        finish()
        printf "%-6s %10s  %-16s %s\n", "waits", "ms in all", "thread", "waiting in"
        for (k in count) {
          split(k, p, " ")
          printf "%6d %10.1f  %-16s %s\n", count[k], total[k], p[1], p[2] | "sort -k2 -rn"
        }
        close("sort -k2 -rn")
        for (shown = 0; shown < longest && waits > 0; shown++) {
          best = 0
          for (i = 1; i <= waits; i++) if (!(i in done) && (best == 0 || wait_ms[i] > wait_ms[best])) best = i
          if (best == 0) break
          done[best] = 1
          printf "\n%.1f ms, %s: %s\n", wait_ms[best], wait_who[best], wait_stack[best]
        }
      }'
}

case "${1:-}" in
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || { echo "usage: OFFCPU_COMMS=\"name …\" $0 run -- command …" >&2; exit 2; }
    [ -n "${OFFCPU_COMMS:-}" ] || { echo "OFFCPU_COMMS: the thread names to follow" >&2; exit 2; }
    dir="$ROOT/target/bench/offcpu-$(date +%Y%m%d-%H%M%S)"
    mkdir -p "$dir"
    echo "$OFFCPU_COMMS" >"$dir/comms"
    filter="prev_state == 2"
    for comm in $OFFCPU_COMMS; do filter="$filter || next_comm == \"$comm\""; done
    perf record -a -g -q -o "$dir/sched.data" -e sched:sched_switch --filter "$filter" \
      >"$dir/perf.log" 2>&1 &
    perf_pid=$!
    sleep 1
    status=0
    "$@" || status=$?
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    report "$dir"
    echo "recording: $dir"
    exit "$status"
    ;;
  report)
    shift
    report "$@"
    ;;
  *)
    echo "usage: $0 run -- command … | $0 report DIR [MIN_MS] [LONGEST]" >&2
    exit 2
    ;;
esac
