#!/usr/bin/env bash
# Load test of the callback endpoint /wx/{key} on loopback (see BENCHMARKS.md).
#
#   bash bench/callback.sh
#
# Builds in release, then for every run: a bare axum server answering a fixed body (the
# ceiling), and the product (`zhanggui serve`) on SQLite (a temp file) and on PostgreSQL (a
# database made for this run and dropped after), in plaintext and in safe mode. The server
# is pinned to core 1 (so are the PostgreSQL backends serving it), wrk to core 0 with one
# thread and 64 connections. Every request is a text message hitting the default reply with
# its own MsgId, individually signed (and in safe mode individually encrypted); the request
# sets are generated beforehand by crates/zhanggui/examples/bench_requests.rs and replayed by
# bench/replay.lua, for the ceiling too, so both see the same generator and the same bytes.
#
# Knobs (environment):
#   RUNS (3), DURATION seconds (12), WARMUP seconds (3), CONNECTIONS (64);
#   MAX_RPS (120000): sizes the request sets (MsgIds must never repeat within a case);
#   CASES ("ceiling sqlite postgres"), MODES ("plaintext safe");
#   MAX_OTHER (0.15) and ATTEMPTS (3): a case during which other processes used more than
#     MAX_OTHER cores is measured again, up to ATTEMPTS times (time the host took from the
#     VM, steal, counts as other processes; results.tsv has the server core's own steal);
#   PG_URL (postgres://postgres@127.0.0.1:5432/test): where the run's database is created;
#   OUT (target/bench/callback-<time>): logs, raw results.tsv, summary.md;
#   ZG_BIN: the zhanggui binary to measure (default: the one this script builds);
#   COMPARE: a second zhanggui binary with the same migrations (e.g. built before a change);
#     every product case is then also measured with it, right after (right before in every
#     second run, and within a run in every second mode), as "sqlite (B)" and "postgres (B)";
#   PROFILE=1: also sample the server's core with `perf record -e cpu-clock` during each
#     product run and write a breakdown to OUT/profile-*.md (sampling costs a little: report
#     the numbers of an unprofiled run); PERF_CALLGRAPH=1 records call graphs too (DWARF,
#     199 Hz) and keeps the data as OUT/perf-*.data for `perf report -g caller`;
#   RULES (unset): reply rule counts to compare, e.g. "10 10000". Each product case is then
#     measured once per count, as "sqlite 10 rules", "sqlite 10000 rules" …, one after the
#     other within each run (in the reverse order every second run), each on its own account
#     seeded with that many keyword rules by crates/zhanggui/examples/bench_rules.rs (60%
#     exact, 35% contains, 5% patterns, each answering its own short text); every request
#     then carries a text that hits one rule (cycling through all of them), and the check
#     before the run sends RULE_CHECKS (30) such texts and requires each to get exactly its
#     rule's reply; after the run no logged message may have been answered other than by a
#     rule. The summary adds each count's ratio to the first (req/s, p50, p99, CPU, memory),
#     paired within each run; OUT/rules.tsv has the seeding time and the server's resident
#     memory before the first request, after the check and after the run.
#     TEXT_BYTES (48): the texts are padded with trailing spaces to this many bytes, the same
#     for every count, so every case's requests have the same length.
#     HIT_RULES (unset): the requests hit only the first HIT_RULES rules (same mix of modes),
#     e.g. HIT_RULES=10 with RULES="10 10000" separates the cost of the big index from the
#     cost of hits spread over 10,000 rules (the replies projector's hit counts).
#
# It only talks to 127.0.0.1, stops by itself, bounds every step with a timeout and kills
# what it started on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

RUNS="${RUNS:-3}"
DURATION="${DURATION:-12}"
WARMUP="${WARMUP:-3}"
CONNECTIONS="${CONNECTIONS:-64}"
MAX_OTHER="${MAX_OTHER:-0.15}"
ATTEMPTS="${ATTEMPTS:-3}"
MAX_RPS="${MAX_RPS:-120000}"
CASES="${CASES:-ceiling sqlite postgres}"
MODES="${MODES:-plaintext safe}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
RULES="${RULES:-}"
RULE_CHECKS="${RULE_CHECKS:-30}"
TEXT_BYTES="${TEXT_BYTES:-48}"
OUT="${OUT:-$ROOT/target/bench/callback-$(date +%Y%m%d-%H%M%S)}"
SERVER_CORE=1
LOAD_CORE=0
DEFAULT_REPLY='收到，我们会尽快回复您。营业时间 9:00–21:00，急事请拨打客服电话。'

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

case "$PG_URL" in
  postgres://*@127.0.0.1:*/* | postgresql://*@127.0.0.1:*/*) ;;
  *) die "PG_URL must point at 127.0.0.1 (postgres://user@127.0.0.1:port/db)" ;;
esac
[ "$DURATION" -ge 5 ] && [ "$WARMUP" -ge 3 ] || die "DURATION must be >= 5 and WARMUP >= 3"
[ "$(nproc)" -ge 2 ] || die "needs 2 cores (server on core $SERVER_CORE, load on core $LOAD_CORE)"
# One product case per rule count; "" is today's single case (the default reply).
RULE_COUNTS=("")
if [ -n "$RULES" ]; then
  read -r -a RULE_COUNTS <<<"$RULES"
  for r in "${RULE_COUNTS[@]}"; do
    [[ "$r" =~ ^[1-9][0-9]*$ ]] && [ "$r" -le 100000 ] || die "RULES must be counts from 1 to 100000"
  done
  [[ "$RULE_CHECKS" =~ ^[1-9][0-9]?$ ]] || die "RULE_CHECKS must be 1 to 99"
  [[ "$TEXT_BYTES" =~ ^[0-9]+$ ]] && [ "$TEXT_BYTES" -ge 42 ] || die "TEXT_BYTES must be >= 42"
  [[ "${HIT_RULES:-1}" =~ ^[1-9][0-9]*$ ]] || die "HIT_RULES must be a count"
fi

# ---------------------------------------------------------------- tools
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v taskset >/dev/null 2>&1 || need_apt+=(util-linux)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
if [[ " $CASES " == *" postgres "* ]]; then
  command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
fi
if [ "${PROFILE:-0}" = 1 ]; then
  command -v perf >/dev/null 2>&1 || need_apt+=(linux-perf)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# ---------------------------------------------------------------- cleanup
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/zg-bench.XXXXXX)"
PIDS=()
PG_DB=""
PG_ADMIN_URL=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.3
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ -n "$PG_DB" ]; then
    timeout 180 psql -q -X "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
      >/dev/null 2>&1 || printf 'bench: could not drop database %s\n' "$PG_DB" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Stops a process we started: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

# Below Linux's ephemeral range (32768 and up): a port there can be some client
# connection's own end, and the server's bind then fails.
free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 12000))
    if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      echo "$port"
      return
    fi
  done
  die "no free port"
}

wait_http() {
  local url="$1" pid="$2"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------- build
log "building (release)"
build_examples=(--example bench_requests --example bench_ceiling)
[ -z "$RULES" ] || build_examples+=(--example bench_rules)
timeout 2400 cargo build --release -q -p zhanggui --bin zhanggui "${build_examples[@]}"
ZG="${ZG_BIN:-$ROOT/target/release/zhanggui}"
ZG_MAIN="$ZG"
if [ -n "${COMPARE:-}" ]; then
  [ -x "$COMPARE" ] || die "COMPARE=$COMPARE is not an executable"
fi
GEN="$ROOT/target/release/examples/bench_requests"
CEILING="$ROOT/target/release/examples/bench_ceiling"
SEEDER="$ROOT/target/release/examples/bench_rules"
# The CLI and the server read ./zhanggui.toml when present: run them where there is none.
cd "$WORK"

# ---------------------------------------------------------------- PostgreSQL
if [[ " $CASES " == *" postgres "* ]]; then
  if ! timeout 10 psql -q -X "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      log "starting PostgreSQL"
      timeout 60 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" \
        main start || true
      for _ in $(seq 1 30); do
        timeout 5 psql -q -X "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1 && break
        sleep 1
      done
    fi
  fi
  timeout 10 psql -q -X "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1 \
    || die "PostgreSQL does not answer at $PG_URL (or run with CASES='ceiling sqlite')"
  PG_ADMIN_URL="$PG_URL"
  PG_DB="zg_bench_$$_$(date +%s)"
  timeout 30 psql -q -X "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  PG_BENCH_URL="${PG_URL%/*}/$PG_DB"
  log "PostgreSQL database $PG_DB created"
fi

# ---------------------------------------------------------------- measuring
HZ="$(getconf CLK_TCK)"
# Jiffies of a set of pids (utime + stime of every thread).
jiffies_of() {
  local total=0 pid line
  for pid in "$@"; do
    line="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    line="${line##*) }"
    # After "pid (comm) ": state is field 1, utime field 12, stime field 13.
    # shellcheck disable=SC2086
    set -- $line
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
# busy jiffies of all cores (user+nice+system+irq+steal; idle, iowait, softirq left out),
# then of core $SERVER_CORE and core $LOAD_CORE, then softirq of all cores, then the time
# the host ran something else on the server's core (steal).
cpu_snapshot() {
  awk -v s="cpu$SERVER_CORE" -v l="cpu$LOAD_CORE" '
    $1 == "cpu" { all = $2 + $3 + $4 + $7 + $9; soft = $8 }
    $1 == s { sc = $2 + $3 + $4 + $7 + $8 + $9; st = $9 }
    $1 == l { lc = $2 + $3 + $4 + $7 + $8 + $9 }
    END { print all, sc, lc, soft, st }' /proc/stat
}
now_s() { date +%s.%N; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
pg_backends() {
  timeout 10 psql -At -X "$PG_ADMIN_URL" \
    -c "SELECT pid FROM pg_stat_activity WHERE datname = '$PG_DB'" 2>/dev/null || true
}

# wrk_run NAME URL FILE RECLEN FIRST COUNT SECONDS SERVER_PID [DB_PIDS...]
# Runs wrk on core $LOAD_CORE; prints wrk's RESULT line extended with CPU use sampled from
# 1 s after the start to 1 s before the end.
wrk_run() {
  local name="$1" url="$2" file="$3" reclen="$4" first="$5" count="$6" secs="$7" spid="$8"
  shift 8
  local db_pids=("$@")
  local wout="$WORK/wrk-$name.out"
  taskset -c "$LOAD_CORE" timeout $((secs + 30)) wrk -t1 -c"$CONNECTIONS" -d"${secs}s" \
    --timeout 10s -s "$ROOT/bench/replay.lua" "$url" -- "$file" "$reclen" "$first" "$count" \
    >"$wout" 2>&1 &
  local tpid=$!
  PIDS+=("$tpid")
  sleep 0.3
  local wpid
  wpid="$(pgrep -P "$tpid" -x wrk | head -n 1 || true)"
  local t0 t1 c0 c1 s0 s1 w0 w1 d0 d1
  sleep 0.7
  t0="$(now_s)"; c0="$(cpu_snapshot)"; s0="$(jiffies_of "$spid")"
  w0="$(jiffies_of "${wpid:-0}")"; d0="$(jiffies_of "${db_pids[@]}")"
  sleep $((secs - 2))
  t1="$(now_s)"; c1="$(cpu_snapshot)"; s1="$(jiffies_of "$spid")"
  w1="$(jiffies_of "${wpid:-0}")"; d1="$(jiffies_of "${db_pids[@]}")"
  wait "$tpid" || true
  forget_pid "$tpid"
  local result
  result="$(grep '^RESULT ' "$wout" || true)"
  [ -n "$result" ] || { cat "$wout" >&2; die "wrk gave no result for $name"; }
  awk -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v w0="$w0" \
    -v w1="$w1" -v d0="$d0" -v d1="$d1" -v hz="$HZ" -v r="$result" 'BEGIN {
      split(c0, a, " "); split(c1, b, " "); t = (t1 - t0) * hz
      srv = (s1 - s0) / t; gen = (w1 - w0) / t; db = (d1 - d0) / t
      other = (b[1] - a[1]) / t - srv - gen - db; if (other < 0) other = 0
      printf "%s server_cores=%.2f db_cores=%.2f wrk_cores=%.2f server_core_busy=%.2f load_core_busy=%.2f softirq_cores=%.2f other_cores=%.2f steal_cores=%.2f\n",
        r, srv, db, gen, (b[2] - a[2]) / t, (b[3] - a[3]) / t, (b[4] - a[4]) / t, other, (b[5] - a[5]) / t }'
}

# profile_report PERF_DATA OUT_MD TITLE: the breakdown by category, then the top symbols.
profile_report() {
  local flat="$WORK/flat.txt"
  timeout 300 perf report -i "$1" --no-children --sort comm,dso,sym -g none --stdio \
    --percent-limit 0 >"$flat" 2>/dev/null || { log "perf report failed"; return 0; }
  {
    echo "# Profile: $3"
    echo
    echo "perf record -e cpu-clock -F 999 -C $SERVER_CORE (the core of the server and of its PostgreSQL backends), $(grep -m1 '^# Samples' "$flat" | sed 's/^# //')."
    echo
    # The server's main thread is named after its binary (ZG_BIN or COMPARE may be any
    # file); the kernel keeps 15 characters of it.
    awk -v server="$(basename "$ZG" | cut -c1-15)" -f "$ROOT/bench/perf-categories.awk" "$flat"
    echo
    echo "By thread (share of the samples of the core):"
    echo
    awk '/^ +[0-9.]+%/ { p = $1; sub(/%/, "", p); by[$2] += p }
      END { for (c in by) if (by[c] >= 0.5) printf "%.1f\t%s\n", by[c], c }' "$flat" \
      | sort -rn | awk -F'\t' '{ printf "- %s: %s%%\n", $2, $1 }'
    echo
    echo "Top symbols:"
    echo
    echo '```'
    awk '/^ +[0-9.]+%/ && n++ < 40 { print substr($0, 1, 160) }' "$flat"
    echo '```'
  } >"$2"
  log "  profile: $2"
}

field() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'; }

RESULTS="$OUT/results.tsv"
printf 'run\tattempt\tcase\tmode\trps\tp50_us\tp90_us\tp99_us\tmax_us\trequests\tlogged\tidle_rss_kb\tpeak_hwm_kb\tend_rss_kb\tserver_cores\tdb_cores\twrk_cores\tother_cores\tloadavg\tsteal_cores\n' >"$RESULTS"
RULES_TSV="$OUT/rules.tsv"
if [ -n "$RULES" ]; then
  printf 'run\tattempt\tcase\tmode\trules\tseed_s\tboot_rss_kb\tidle_rss_kb\tend_rss_kb\tpeak_hwm_kb\tchecked\tnot_by_rule\troutes\n' \
    >"$RULES_TSV"
fi

# Keeps one measurement for record(): run case mode result logged idle peak end loadavg.
keep() {
  LAST=("$@")
  LAST_OTHER="$(field "$4" other_cores)"
}
quiet_enough() { awk -v o="$LAST_OTHER" -v m="$MAX_OTHER" 'BEGIN { exit !(o + 0 <= m + 0) }'; }
record() { # attempt, then keep()'s fields
  local a="$1"
  shift
  local r="$4"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$1" "$a" "$2" "$3" "$(field "$r" rps)" "$(field "$r" p50_us)" "$(field "$r" p90_us)" \
    "$(field "$r" p99_us)" "$(field "$r" max_us)" "$(field "$r" requests)" "$5" "$6" "$7" "$8" \
    "$(field "$r" server_cores)" "$(field "$r" db_cores)" "$(field "$r" wrk_cores)" \
    "$(field "$r" other_cores)" "$9" "$(field "$r" steal_cores)" >>"$RESULTS"
  if [ -n "$RULES" ] && [ "$2" != ceiling ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$a" "$2" "$3" "$LAST_RULES" >>"$RULES_TSV"
  fi
}

check_result() { # name result product?
  local r="$2" bad=""
  for k in connect_errors read_errors write_errors status_errors timeouts; do
    [ "$(field "$r" "$k")" = "0" ] || bad="$bad $k=$(field "$r" "$k")"
  done
  if [ "$3" = product ] && [ "$(field "$r" wraps)" != "0" ]; then
    bad="$bad wraps=$(field "$r" wraps) (raise MAX_RPS: MsgIds were re-sent)"
  fi
  [ -z "$bad" ] || die "$1 is not a valid measurement:$bad"
}

# ---------------------------------------------------------------- the cases
RECORDS=$((MAX_RPS * DURATION))
WARM_RECORDS=$((MAX_RPS * WARMUP))
MSG_BASE=1000000000000000000
case_no=0
RULES_N=""
LAST_RULES=""

# setup_account DBKIND MODE RUN ATTEMPT -> sets DB_URL, WX_PATH, TOKEN, AES_KEY, APP_ID, ACCOUNT_ID
setup_account() {
  local kind="$1" mode="$2" run="$3-$4$BIN_TAG${RULES_N:+-r$RULES_N}" out
  if [ "$kind" = sqlite ]; then
    DB_URL="sqlite://$WORK/zhanggui-$run-$mode.db"
  else
    DB_URL="$PG_BENCH_URL"
  fi
  export ZG_DATABASE_URL="$DB_URL"
  timeout 60 "$ZG" merchant add --name "bench-$run-$mode" >/dev/null
  out="$(timeout 60 "$ZG" account add --merchant "bench-$run-$mode" --name "bench-$run-$mode" \
    --type service --verified --mode "$mode" --sandbox)"
  ACCOUNT_ID="$(awk '/^account [0-9]+ created/ { print $2 }' <<<"$out")"
  WX_PATH="$(awk '$1 == "URL:" { print $2 }' <<<"$out" | sed -E 's#^https?://[^/]+##')"
  TOKEN="$(awk '$1 == "Token:" { print $2 }' <<<"$out")"
  AES_KEY="$(awk '$1 == "EncodingAESKey:" { print $2 }' <<<"$out")"
  APP_ID="$(awk '$1 == "AppID:" { print $2 }' <<<"$out")"
  [ -n "$ACCOUNT_ID" ] && [ -n "$WX_PATH" ] && [ -n "$TOKEN" ] && [ -n "$AES_KEY" ] \
    && [ -n "$APP_ID" ] || die "could not read the account from: $out"
  sql "$kind" "UPDATE accounts SET default_reply_text = '$DEFAULT_REPLY' WHERE id = $ACCOUNT_ID"
}

sql() { # kind statement
  if [ "$1" = sqlite ]; then
    timeout 60 sqlite3 "${DB_URL#sqlite://}" "$2"
  else
    timeout 60 psql -q -At -X "$DB_URL" -c "$2"
  fi
}

# How far each projection of the log is behind it, one line each: its name, the log rows past
# its cursor, and how much earlier than the newest row the oldest of them was received (ms).
LAGS_SQL="SELECT name || ' ' || (COALESCE((SELECT MAX(id) FROM wx_messages), 0) - last_id) \
  || ' ' || COALESCE((SELECT received_at FROM wx_messages ORDER BY id DESC LIMIT 1) \
  - (SELECT m.received_at FROM wx_messages m WHERE m.id > p.last_id ORDER BY m.id LIMIT 1), 0) \
  FROM log_projections p ORDER BY name"

# Samples LAGS_SQL every second for `secs` seconds into `out`, on the load's core (the
# server's stays the server's): whether what derives from the log keeps within a second of
# it under the load, rather than only where it ends.
sample_lags() { # kind secs out
  local kind="$1" secs="$2" out="$3" i
  taskset -p -c "$LOAD_CORE" "$BASHPID" >/dev/null 2>&1 || true
  for i in $(seq 1 "$secs"); do
    sleep 1
    sql "$kind" "$LAGS_SQL" >>"$out" 2>/dev/null || true
  done
}

# The most each projection was behind in the samples of `file`: "name rows/ms, …".
most_behind() { # file
  awk '{ if ($2 > r[$1]) r[$1] = $2; if ($3 > t[$1]) t[$1] = $3; n[$1] = 1 }
    END { for (k in n) printf "%s%s %d/%d ms", (s++ ? ", " : ""), k, r[k], t[k] }' "$1"
}

# generate MODE -> sets REQ_FILE, RECLEN (records: WARM_RECORDS for warm-up, then RECORDS)
generate() {
  local mode="$1"
  case_no=$((case_no + 1))
  REQ_FILE="$WORK/requests-$case_no.bin"
  FIRST_MSG_ID=$((MSG_BASE + case_no * 10000000000))
  ACCOUNT_FLAGS=(--mode "$mode" --path "$WX_PATH" --token "$TOKEN" --aes-key "$AES_KEY"
    --app-id "$APP_ID")
  TEXT_FLAGS=()
  [ -z "$RULES_N" ] || TEXT_FLAGS=(--texts "$TEXTS_FILE" --pad-to "$TEXT_BYTES")
  RECLEN="$(timeout 300 "$GEN" "${ACCOUNT_FLAGS[@]}" "${TEXT_FLAGS[@]}" \
    --first-msg-id "$FIRST_MSG_ID" --count $((WARM_RECORDS + RECORDS)) --out "$REQ_FILE")"
}

# seed_rules -> gives the account (ACCOUNT_ID in DB_URL) RULES_N keyword rules, sets
# TEXTS_FILE (a hit text and its rule's reply per line) and SEED_S.
seed_rules() {
  local out
  TEXTS_FILE="$WORK/texts-$ACCOUNT_ID-$RULES_N.tsv"
  out="$(timeout 900 "$SEEDER" --db "$DB_URL" --account "$ACCOUNT_ID" --rules "$RULES_N" \
    --out "$TEXTS_FILE" --max-bytes "$TEXT_BYTES")" || die "could not seed $RULES_N rules"
  SEED_S="$(awk '$1 == "seconds" { print $2 }' <<<"$out")"
  if [ -n "${HIT_RULES:-}" ] && [ "$HIT_RULES" -lt "$RULES_N" ]; then
    head -n "$HIT_RULES" "$TEXTS_FILE" >"$TEXTS_FILE.head"
    mv "$TEXTS_FILE.head" "$TEXTS_FILE"
  fi
  log "  $RULES_N rules seeded in ${SEED_S} s ($(awk '$1 ~ /^(exact|contains|regex|redrawn)$/ { printf "%s %s ", $1, $2 }' <<<"$out"))"
}

run_ceiling() { # run mode
  local run="$1" mode="$2" port pid idle result load
  port="$(free_port)"
  taskset -c "$SERVER_CORE" timeout $((WARMUP + DURATION + 120)) "$CEILING" "127.0.0.1:$port" \
    >"$OUT/ceiling-$run-$mode.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  sleep 0.3
  local spid
  spid="$(pgrep -P "$pid" | head -n 1 || true)"
  spid="${spid:-$pid}"
  curl -s -o /dev/null --retry 50 --retry-connrefused --retry-delay 0 --retry-max-time 15 --max-time 10 \
    -X POST "http://127.0.0.1:$port/" || die "the ceiling server did not start"
  sleep 1
  idle="$(status_kb "$spid" VmRSS)"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  log "run $run: ceiling ($mode requests), load $load"
  wrk_run "ceiling-warm" "http://127.0.0.1:$port/" "$REQ_FILE" "$RECLEN" 0 "$WARM_RECORDS" \
    "$WARMUP" "$spid" >/dev/null
  result="$(wrk_run "ceiling-$run-$mode" "http://127.0.0.1:$port/" "$REQ_FILE" "$RECLEN" \
    "$WARM_RECORDS" "$RECORDS" "$DURATION" "$spid")"
  check_result "ceiling" "$result" ceiling
  keep "$run" ceiling "$mode" "$result" "-" "$idle" "$(status_kb "$spid" VmHWM)" \
    "$(status_kb "$spid" VmRSS)" "$load"
  log "  $(field "$result" rps) req/s, p50 $(field "$result" p50_us) us, p99 $(field "$result" p99_us) us"
  stop_pid "$pid"
}

run_product() { # kind run mode (REQ_FILE for this account already generated)
  local kind="$1" run="$2" mode="$3" port pid idle result load logged
  # File names: the kind, the rule count with RULES, and -B for the COMPARE binary.
  local tag="$kind${RULES_N:+-r$RULES_N}${BIN_TAG:-}"
  port="$(free_port)"
  # Memory the host has taken back (free page reporting) is slow to touch again, and the
  # first case of a mode, which follows the ceiling (that frees little), got it: p99 of
  # 27–97 ms against 4.6–5.4 ms for cases that follow another (callback, twenty-first
  # round). Touching and freeing 256 MiB first leaves the server pages the kernel has
  # just had back.
  dd if=/dev/zero of=/dev/null bs=256M count=1 status=none 2>/dev/null || true
  # The binary's pages a process maps as it starts (fault-around) are those in the page
  # cache, and they count in its RSS: a binary copied just before (all cached) started
  # ~1.5 MB larger than one the host had partly paged out (DAMON), the same code (callback,
  # twenty-fifth round). Read whole into the cache first, every binary starts alike.
  cat "$ZG" >/dev/null
  ZG_DATABASE_URL="$DB_URL" ZG_LISTEN="127.0.0.1:$port" ZG_PUBLIC_URL="http://127.0.0.1:$port" \
    ZG_MODE=sandbox taskset -c "$SERVER_CORE" "$ZG" serve --no-demo >"$OUT/zhanggui-$run-$tag-$mode.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/healthz" "$pid" || die "zhanggui did not start (see $OUT)"
  local probes=1 boot
  boot="$(status_kb "$pid" VmRSS)"
  if [ -z "$RULES_N" ]; then
    # One request read back as WeChat would: signed, decrypted, the default reply.
    timeout 30 "$GEN" "${ACCOUNT_FLAGS[@]}" --first-msg-id $((FIRST_MSG_ID - 1)) \
      --check "127.0.0.1:$port" --expect "${DEFAULT_REPLY:0:8}" >/dev/null \
      || die "$kind $mode: the callback does not answer with the default reply"
  else
    # RULE_CHECKS hit texts spread over the rules, each read back as WeChat would and
    # required to be exactly its rule's reply (the first one compiles the account's index).
    probes="$RULE_CHECKS"
    timeout 120 "$GEN" "${ACCOUNT_FLAGS[@]}" "${TEXT_FLAGS[@]}" \
      --first-msg-id $((FIRST_MSG_ID - probes)) --check "127.0.0.1:$port" \
      --check-count "$probes" >"$WORK/check.out" \
      || die "$kind $mode $RULES_N rules: a hit text did not get its rule's reply"
    probes="$(awk '$1 == "ok" { print $2 }' "$WORK/check.out")"
    [ -n "$probes" ] || die "$kind $mode $RULES_N rules: the check said nothing"
  fi
  sleep 1
  idle="$(status_kb "$pid" VmRSS)"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  log "run $run: $CASE_NAME $mode, load $load, idle RSS ${idle} kB"
  local warm
  warm="$(wrk_run "warm" "http://127.0.0.1:$port/" "$REQ_FILE" "$RECLEN" 0 "$WARM_RECORDS" \
    "$WARMUP" "$pid")"
  check_result "$kind $mode warm-up" "$warm" ceiling
  local db_pids=()
  if [ "$kind" = postgres ]; then
    local bp
    for bp in $(pg_backends); do
      taskset -p -c "$SERVER_CORE" "$bp" >/dev/null 2>&1 && db_pids+=("$bp")
    done
  fi
  local perf_pid=""
  if [ "${PROFILE:-0}" = 1 ]; then
    # The whole server core, not the server's threads: per-thread sampling makes every
    # context switch dear and slowed the callback 2x; core-wide sampling costs little.
    # PERF_CALLGRAPH=1 adds DWARF call graphs (at a lower rate: unwinding is dear) and
    # keeps the data in OUT for `perf report -g caller`.
    local perf_data="$WORK/perf-$tag-$mode.data" graph=(-F 999)
    if [ "${PERF_CALLGRAPH:-0}" = 1 ]; then
      perf_data="$OUT/perf-$run-$tag-$mode.data"
      graph=(-F 199 --call-graph dwarf,16384)
    fi
    timeout $((DURATION + 60)) perf record -q -e cpu-clock "${graph[@]}" -C "$SERVER_CORE" \
      -o "$perf_data" -- sleep $((DURATION - 1)) >/dev/null 2>&1 &
    perf_pid=$!
    PIDS+=("$perf_pid")
  fi
  local lags="$OUT/lags-$run-$tag-$mode.txt" lag_pid
  : >"$lags"
  sample_lags "$kind" $((DURATION - 1)) "$lags" &
  lag_pid=$!
  PIDS+=("$lag_pid")
  result="$(wrk_run "$kind-$run-$mode" "http://127.0.0.1:$port/" "$REQ_FILE" "$RECLEN" \
    "$WARM_RECORDS" "$RECORDS" "$DURATION" "$pid" "${db_pids[@]}")"
  wait "$lag_pid" || true
  forget_pid "$lag_pid"
  check_result "$kind $mode" "$result" product
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    forget_pid "$perf_pid"
    profile_report "$perf_data" "$OUT/profile-$run-$tag-$mode.md" \
      "$kind${RULES_N:+ $RULES_N rules} $mode, run $run: $(field "$result" rps) req/s"
  fi
  # The server's own view (log batches, lock waits, request durations) for the record.
  timeout 10 curl -s "http://127.0.0.1:$port/metrics" >"$OUT/metrics-$run-$tag-$mode.txt" || true
  # How far each projection of the log is behind at the end of the load (rows): a server
  # that answers faster by letting them fall behind would show here.
  local agg=string_agg
  [ "$kind" = postgres ] || agg=group_concat
  log "  projections behind at the end (rows): $(sql "$kind" "SELECT $agg(name || ' ' || \
    ((SELECT MAX(id) FROM wx_messages) - last_id), ', ') FROM log_projections" | tr -d '\n')"
  log "  projections behind during the load, most (rows/ms): $(most_behind "$lags")"
  local peak end
  peak="$(status_kb "$pid" VmHWM)"
  end="$(status_kb "$pid" VmRSS)"
  stop_pid "$pid"
  # Every answered request was logged before its answer (warm-up included).
  logged="$(sql "$kind" "SELECT COUNT(*) FROM wx_messages WHERE account_id = $ACCOUNT_ID")"
  # Unique requests answered: the probes, the warm-up (its records may have wrapped) and the run.
  local warm_unique answered
  warm_unique="$(field "$warm" requests)"
  [ "$warm_unique" -le "$WARM_RECORDS" ] || warm_unique="$WARM_RECORDS"
  answered=$((probes + warm_unique + $(field "$result" requests)))
  [ "$logged" -ge "$answered" ] || die "$kind $mode: $logged rows logged for $answered answers"
  if [ -n "$RULES_N" ]; then
    # Every message was answered by a rule (not the default reply, not a hand-off).
    local not_by_rule routes
    not_by_rule="$(sql "$kind" "SELECT COUNT(*) FROM wx_messages WHERE account_id = $ACCOUNT_ID AND route NOT LIKE 'rule:%'")"
    routes="$(sql "$kind" "SELECT COUNT(DISTINCT route) FROM wx_messages WHERE account_id = $ACCOUNT_ID")"
    [ "$not_by_rule" = 0 ] \
      || die "$kind $mode $RULES_N rules: $not_by_rule messages were not answered by a rule"
    LAST_RULES="$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$RULES_N" "$SEED_S" "$boot" \
      "$idle" "$end" "$peak" "$probes" "$not_by_rule" "$routes")"
    log "  rules: boot RSS ${boot} kB, after the check ${idle} kB, end ${end} kB; $routes distinct rule/keyword routes, none other"
  fi
  keep "$run" "$CASE_NAME" "$mode" "$result" "$logged" "$idle" "$peak" "$end" "$load"
  log "  $(field "$result" rps) req/s, p50 $(field "$result" p50_us) us, p99 $(field "$result" p99_us) us, peak ${peak} kB, $logged rows logged"
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "cpu: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  # A guest that hands freed pages back to its host pays the host's fault when it touches
  # them again (~30 µs a page seen here): the product's growing SQLite file then stalls at
  # random, the ceiling does not (BENCHMARKS.md, callback, twelfth round).
  if [ -r /sys/module/page_reporting/parameters/page_reporting_order ]; then
    echo "free page reporting to the host: on (order $(cat /sys/module/page_reporting/parameters/page_reporting_order))"
  fi
  # A kdamond paging out what it finds cold drops clean page-cache pages of the WAL; the
  # committer's next frame over such a block then reads it from the disk first, on the
  # callbacks' thread (BENCHMARKS.md, callback, twenty-fourth round).
  for k in /sys/kernel/mm/damon/admin/kdamonds/[0-9]*; do
    [ -r "$k/state" ] || continue
    echo "DAMON $(basename "$k"): $(cat "$k/state"), action $(cat "$k"/contexts/0/schemes/0/action 2>/dev/null || echo '?')"
  done
  echo "wrk: $(wrk -v 2>&1 | head -n 1)"
  echo "settings: RUNS=$RUNS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNECTIONS=$CONNECTIONS"
} | tee "$OUT/machine.txt" >&2

# A case whose machine was busy with other work is measured again (up to ATTEMPTS times).
for run in $(seq 1 "$RUNS"); do
  mode_no=0
  for mode in $MODES; do
    mode_no=$((mode_no + 1))
    ceiling_done=0
    [[ " $CASES " == *" ceiling "* ]] || ceiling_done=1
    # With RULES, every second run takes the counts in the reverse order.
    counts=("${RULE_COUNTS[@]}")
    if [ $((run % 2)) = 0 ]; then
      counts=()
      for ((i = ${#RULE_COUNTS[@]} - 1; i >= 0; i--)); do counts+=("${RULE_COUNTS[$i]}"); done
    fi
    # With COMPARE, the other binary goes first in every second run, and within a run in
    # every second mode: a case that follows another gets memory the previous one just
    # freed, which on some VMs is much quicker to touch than memory the host has taken back
    # (BENCHMARKS.md, callback, thirteenth round), and the first case of a mode follows the
    # ceiling, which frees little. By run alone, one binary went first in two runs of three
    # in both modes (twenty-first round); now with two modes each goes first as often.
    kinds=(sqlite ${COMPARE:+sqlite:B} postgres ${COMPARE:+postgres:B})
    if [ -n "${COMPARE:-}" ] && [ $(((run + mode_no) % 2)) = 1 ]; then
      kinds=(sqlite:B sqlite postgres:B postgres)
    fi
    for kind_bin in "${kinds[@]}"; do
      kind="${kind_bin%:B}"
      [[ " $CASES " == *" $kind "* ]] || continue
      for RULES_N in "${counts[@]}"; do
        if [ "$kind_bin" = "$kind" ]; then
          ZG="$ZG_MAIN"
          CASE_NAME="$kind${RULES_N:+ $RULES_N rules}"
          BIN_TAG=""
        else
          ZG="$COMPARE"
          CASE_NAME="$kind${RULES_N:+ $RULES_N rules} (B)"
          BIN_TAG="-B"
        fi
        for attempt in $(seq 1 "$ATTEMPTS"); do
          setup_account "$kind" "$mode" "$run" "$attempt"
          [ -z "$RULES_N" ] || seed_rules
          generate "$mode"
          # The ceiling goes first, with this account's requests (it does not log them).
          for c_attempt in $(seq 1 "$ATTEMPTS"); do
            [ "$ceiling_done" = 1 ] && break
            run_ceiling "$run" "$mode"
            if quiet_enough || [ "$c_attempt" = "$ATTEMPTS" ]; then
              record "$c_attempt" "${LAST[@]}"
              ceiling_done=1
            else
              log "  other processes (or the host: steal) used $LAST_OTHER cores: measuring again in 10 s"
              sleep 10
            fi
          done
          run_product "$kind" "$run" "$mode"
          rm -f "$REQ_FILE"
          [ -z "$RULES_N" ] || rm -f "$TEXTS_FILE"
          [ "$kind" = sqlite ] && rm -f "${DB_URL#sqlite://}"*
          if quiet_enough || [ "$attempt" = "$ATTEMPTS" ]; then
            record "$attempt" "${LAST[@]}"
            break
          fi
          log "  other processes (or the host: steal) used $LAST_OTHER cores: measuring again in 10 s"
          sleep 10
        done
      done
    done
  done
done

# ---------------------------------------------------------------- summary
SUMMARY="$OUT/summary.md"
# The table's rows, in this order (cases that were not measured are left out).
ORDER="ceiling|sqlite|sqlite (B)|postgres|postgres (B)"
if [ -n "$RULES" ]; then
  ORDER="ceiling"
  for kind in sqlite postgres; do
    for r in "${RULE_COUNTS[@]}"; do
      ORDER="$ORDER|$kind $r rules${COMPARE:+|$kind $r rules (B)}"
    done
  done
fi
awk -F'\t' -v order_list="$ORDER" '
  NR == 1 { next }
  {
    key = $3 "\t" $4; keys[key] = 1; n[key]++
    rps[key, n[key]] = $5; p50[key, n[key]] = $6; p99[key, n[key]] = $8
    idle[key, n[key]] = $12; peak[key, n[key]] = $13; srv[key, n[key]] = $15
    db[key, n[key]] = $16; oth[key, n[key]] = $18; ld[key, n[key]] = $19
    if ($3 == "ceiling") ceil[$1, $4] = $5
    else ratio_in[key, n[key]] = $1 SUBSEP $4
  }
  function median(arr, key, cnt,    v, i, j, t) {
    for (i = 1; i <= cnt; i++) v[i] = arr[key, i] + 0
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END {
    printf "| case | mode | req/s | p50 ms | p99 ms | × ceiling | RSS idle MB | RSS peak MB | CPU µs/req | server cores | db cores | other load (cores) | runs |\n"
    printf "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    n_order = split(order_list, order, "|")
    split("plaintext safe", modes, " ")
    for (o = 1; o <= n_order; o++) for (m = 1; m <= 2; m++) {
      key = order[o] "\t" modes[m]; if (!(key in keys)) continue
      c = n[key]
      for (i = 1; i <= c; i++) {
        split(ratio_in[key, i], rm, SUBSEP)
        rat[key, i] = (order[o] == "ceiling") ? 1 : ((rm[1], rm[2]) in ceil ? rps[key, i] / ceil[rm[1], rm[2]] : 0)
        cpu[key, i] = rps[key, i] > 0 ? (srv[key, i] + db[key, i]) * 1e6 / rps[key, i] : 0
      }
      printf "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f | %.0f | %.2f | %s | %.2f | %d |\n",
        order[o], modes[m], median(rps, key, c), median(p50, key, c) / 1000,
        median(p99, key, c) / 1000, median(rat, key, c), median(idle, key, c) / 1024,
        median(peak, key, c) / 1024, median(cpu, key, c), median(srv, key, c),
        order[o] ~ /^postgres/ ? sprintf("%.2f", median(db, key, c)) : "-",
        median(oth, key, c), c
    }
  }' "$RESULTS" >"$SUMMARY"
{
  echo
  echo "Medians of $RUNS run(s); × ceiling is taken against the ceiling of the same run and mode."
  echo "CPU µs/req: CPU time of the server (and of its PostgreSQL backends) per answered request."
  echo "Other load: CPU used on the machine by anything but the server, its backends and wrk"
  echo "(softirq excluded), in cores; above ~0.1 the run shared the machine and its numbers are low."
  echo "Raw results: $RESULTS"
} >>"$SUMMARY"
if [ -n "$RULES" ]; then
  # Each count against the first, paired within each run (the same run, mode and database),
  # then the median of the runs' ratios; memory from rules.tsv.
  {
    echo
    echo "Rule counts against ${RULE_COUNTS[0]} rules, each ratio taken within a run then the median of the runs (per-run ratios in brackets):"
    echo
    awk -F'\t' -v base="${RULE_COUNTS[0]}" '
      function median(list,    v, c, i, j, t) {
        c = split(list, v, " ")
        for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
        return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
      }
      FNR == 1 { file++; next }
      {
        if (!match($3, / [0-9]+ rules/)) next
        r = substr($3, RSTART + 1, RLENGTH - 7) + 0
        kind = substr($3, 1, RSTART - 1) substr($3, RSTART + RLENGTH)
        k = kind SUBSEP $4 SUBSEP r SUBSEP $1
        if (file == 1) {
          rps[k] = $5; p50[k] = $6; p99[k] = $8
          cpu[k] = $5 > 0 ? ($15 + $16) * 1e6 / $5 : 0
          if (!((kind, $4, r) in seen)) { seen[kind, $4, r] = 1; nr[kind, $4]++; rs[kind, $4, nr[kind, $4]] = r }
          if (!((kind, $4) in km)) { km[kind, $4] = 1; kms[++nkm] = kind SUBSEP $4 }
          if ($1 + 0 > maxrun) maxrun = $1 + 0
        } else {
          seed[k] = $6; boot[k] = $7; idle[k] = $8; endr[k] = $9; routes[k] = $13
        }
      }
      END {
        print "| case | mode | rules | req/s | × req/s | p50 ms | × p50 | p99 ms | × p99 | CPU µs/req | × CPU | RSS before 1st request MB | RSS after check MB | RSS end MB | seeding s | routes hit |"
        print "|---|---|---:|---:|---|---:|---|---:|---|---:|---|---:|---:|---:|---:|---:|"
        for (q = 1; q <= nkm; q++) {
          split(kms[q], km2, SUBSEP); kind = km2[1]; mode = km2[2]
          for (x = 1; x <= nr[kind, mode]; x++) {
            r = rs[kind, mode, x]
            l_rps = l_p50 = l_p99 = l_cpu = l_boot = l_idle = l_end = l_seed = l_routes = ""
            r_rps = r_p50 = r_p99 = r_cpu = ""
            for (run = 1; run <= maxrun; run++) {
              k = kind SUBSEP mode SUBSEP r SUBSEP run
              b = kind SUBSEP mode SUBSEP base SUBSEP run
              if (!(k in rps)) continue
              l_rps = l_rps " " rps[k]; l_p50 = l_p50 " " p50[k]; l_p99 = l_p99 " " p99[k]
              l_cpu = l_cpu " " cpu[k]; l_boot = l_boot " " boot[k]; l_idle = l_idle " " idle[k]
              l_end = l_end " " endr[k]; l_seed = l_seed " " seed[k]; l_routes = l_routes " " routes[k]
              if (r != base && (b in rps) && rps[b] > 0 && p50[b] > 0 && p99[b] > 0) {
                r_rps = r_rps " " sprintf("%.3f", rps[k] / rps[b])
                r_p50 = r_p50 " " sprintf("%.3f", p50[k] / p50[b])
                r_p99 = r_p99 " " sprintf("%.3f", p99[k] / p99[b])
                if (cpu[b] > 0) r_cpu = r_cpu " " sprintf("%.3f", cpu[k] / cpu[b])
              }
            }
            if (l_rps == "") continue
            printf "| %s | %s | %d | %.0f | %s | %.2f | %s | %.2f | %s | %.0f | %s | %.1f | %.1f | %.1f | %.1f | %.0f |\n",
              kind, mode, r, median(l_rps), r_rps == "" ? "—" : sprintf("%.3f (%s)", median(r_rps), substr(r_rps, 2)),
              median(l_p50) / 1000, r_p50 == "" ? "—" : sprintf("%.2f (%s)", median(r_p50), substr(r_p50, 2)),
              median(l_p99) / 1000, r_p99 == "" ? "—" : sprintf("%.2f (%s)", median(r_p99), substr(r_p99, 2)),
              median(l_cpu), r_cpu == "" ? "—" : sprintf("%.2f (%s)", median(r_cpu), substr(r_cpu, 2)),
              median(l_boot) / 1024, median(l_idle) / 1024, median(l_end) / 1024,
              median(l_seed), median(l_routes)
          }
        }
      }' "$RESULTS" "$RULES_TSV"
    echo
    echo "× columns: this count's value over ${RULE_COUNTS[0]} rules' in the same run (median of the runs)."
    echo "RSS before the 1st request: the server started, no callback yet (no index compiled);"
    echo "after the check: $RULE_CHECKS hit texts answered (the account's index compiled); end: after the run."
    echo "Seeding: replies::create per rule (bench_rules), before the server starts. Routes hit: distinct"
    echo "rule/keyword routes in the log (every logged message was answered by a rule)."
    echo "Per-case details: $RULES_TSV"
  } >>"$SUMMARY"
fi
echo
cat "$SUMMARY"
