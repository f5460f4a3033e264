#!/usr/bin/env bash
# The followers benchmark (issue 5, see BENCHMARKS.md): one account with N generated followers
# (default 1,000,000), on SQLite and on PostgreSQL, over HTTP on loopback.
#
#   bash bench/followers.sh
#
# Builds in release, then for each backend: a fresh database (SQLite: a temp file;
# PostgreSQL: a database made for the run and dropped after), `zhanggui demo`, the followers
# generated into the demo merchant's first account by crates/zhanggui/examples/gen_followers.rs
# (timed; it also makes an owner API key), then `zhanggui serve` on 127.0.0.1 and, REPS times
# each (after one unmeasured request), median and p95:
#   list       GET /api/v1/accounts/{id}/followers?tag=T&followed_from=D1&followed_to=D2
#              (two quick filters; the list also keeps its default `status=subscribed`),
#              sorted by last interaction (the default sort), first page (50 rows);
#   list_deep  the same, the page after row DEEP (a keyset cursor);
#   list_total POST …/followers/count of the list's filter: the total the console asks for
#              after showing the page (a page no longer counts every match);
#   count      GET …/segments/{sid}/count of a saved segment with 3 conditions
#              (subscribed, channel in 2 scenes, active in the last 90 days);
#   preview    POST …/segments/preview of the same filter (count + 10-row sample);
#   export     GET …/followers/export.csv of every follower, EXPORT_REPS times: rows/s, bytes,
#              the server's RSS sampled every 0.5 s (min/max during the export, VmHWM after).
# The reference, in the same run: the database alone doing the same work, through its own
# CLI (`sqlite3`, `psql`) in one session: the same SQL the product runs for the page and the
# count (written out below from followers/query.rs), and for the export a raw CSV dump of the
# same rows and columns (`sqlite3 -csv`, `psql \copy … TO STDOUT CSV`; times as stored
# integers, tags as ids). The query plans of both go to OUT/plan-*.txt.
#
# Knobs (environment):
#   N (1000000): followers to generate; N=100000 for a quick run;
#   REPS (7): repetitions of list/count/preview (and of their references);
#   EXPORT_REPS (2): repetitions of the export (and of its reference);
#   DEEP (2000): the row after which list_deep starts;
#   BACKENDS ("sqlite postgres"); SEED (1);
#   PG_URL (postgres://postgres@127.0.0.1:5432/test): where the run's database is created;
#   PORT (18500): the server's port on 127.0.0.1;
#   OUT (target/bench/followers-<time>): logs, raw timings, summary.md;
#   ZG_BIN / GEN_BIN: binaries to use instead of building them.
#
# It only talks to 127.0.0.1, stops by itself, bounds every step with a timeout and kills
# what it started on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

N="${N:-1000000}"
REPS="${REPS:-7}"
EXPORT_REPS="${EXPORT_REPS:-2}"
DEEP="${DEEP:-2000}"
BACKENDS="${BACKENDS:-sqlite postgres}"
SEED="${SEED:-1}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
PORT="${PORT:-18500}"
OUT="${OUT:-$ROOT/target/bench/followers-$(date +%Y%m%d-%H%M%S)}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
TZ_NAME=Asia/Shanghai # the demo merchant's time zone (the product's default)

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

case "$PG_URL" in
  postgres://*@127.0.0.1:*/* | postgresql://*@127.0.0.1:*/*) ;;
  *) die "PG_URL must point at 127.0.0.1 (postgres://user@127.0.0.1:port/db)" ;;
esac
[ "$N" -ge 10000 ] || die "N must be >= 10000"
[ "$REPS" -ge 3 ] && [ "$EXPORT_REPS" -ge 1 ] || die "REPS must be >= 3, EXPORT_REPS >= 1"

# ---------------------------------------------------------------- tools
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
if [[ " $BACKENDS " == *" postgres "* ]]; then
  command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get update -qq
  timeout 600 apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# ---------------------------------------------------------------- cleanup
mkdir -p "$OUT"
WORK="$(mktemp -d /tmp/zg-bench-followers.XXXXXX)"
PIDS=()
PG_DB=""
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  sleep 0.3
  for pid in "${PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  drop_pg
  rm -rf "$WORK"
}
drop_pg() {
  if [ -n "$PG_DB" ]; then
    timeout 180 psql -q -X "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
      >/dev/null 2>&1 || printf 'bench: could not drop database %s\n' "$PG_DB" >&2
    PG_DB=""
  fi
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

wait_http() {
  local url="$1" pid="$2"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- build
if [ -z "${ZG_BIN:-}" ] || [ -z "${GEN_BIN:-}" ]; then
  log "building (release)"
  timeout 2400 cargo build --release -q -p zhanggui --bin zhanggui --example gen_followers
fi
ZG="${ZG_BIN:-$TARGET/release/zhanggui}"
GEN="${GEN_BIN:-$TARGET/release/examples/gen_followers}"
[ -x "$ZG" ] && [ -x "$GEN" ] || die "missing $ZG or $GEN"
# The CLI and the server read ./zhanggui.toml when present: run them where there is none.
cd "$WORK"

if [[ " $BACKENDS " == *" postgres "* ]]; then
  timeout 10 psql -q -X "$PG_URL" -c 'SELECT 1' >/dev/null 2>&1 \
    || die "PostgreSQL does not answer at $PG_URL (or run with BACKENDS=sqlite)"
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "cpu: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "sqlite3 CLI: $(sqlite3 --version | cut -d' ' -f1)"
  command -v psql >/dev/null && echo "postgresql: $(timeout 10 psql -At -X "$PG_URL" -c 'SHOW server_version' 2>/dev/null || echo '?')"
  echo "settings: N=$N REPS=$REPS EXPORT_REPS=$EXPORT_REPS DEEP=$DEEP SEED=$SEED"
} | tee "$OUT/machine.txt" >&2

# ---------------------------------------------------------------- statistics
# stats FILE (one number a line, ms) -> "median p95 min max n"
stats() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - - - 0"; exit }
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    i = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
    printf "%.1f %.1f %.1f %.1f %d\n", m, v[i], v[1], v[NR], NR }'
}

RESULTS="$OUT/results.tsv"
printf 'backend\tcase\twho\tmedian_ms\tp95_ms\tmin_ms\tmax_ms\tn\textra\n' >"$RESULTS"
record() { # backend case who file extra
  local s
  s="$(stats "$4")"
  # shellcheck disable=SC2086
  set -- "$1" "$2" "$3" $s "$5"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$9" \
    >>"$RESULTS"
  log "  $2 ($3): median $4 ms, p95 $5 ms (min $6, max $7, n $8) $9"
}

# ---------------------------------------------------------------- HTTP
# api METHOD PATH [BODY] -> the answer on stdout (fails on non-2xx)
api() {
  local args=(-sS --fail-with-body --max-time 120 -X "$1" -H "authorization: Bearer $API_KEY")
  [ $# -ge 3 ] && args+=(-H 'content-type: application/json' --data-binary "$3")
  curl "${args[@]}" "$BASE$2"
}

# http_series NAME FILE METHOD PATH [BODY]: one unmeasured request, then REPS measured, the
# time of each (ms) appended to FILE; the last answer is left in $WORK/NAME.json.
http_series() {
  local name="$1" file="$2" method="$3" path="$4" body="${5:-}" i out
  : >"$file"
  for i in $(seq 0 "$REPS"); do
    local args=(-sS -o "$WORK/$name.json" -w '%{http_code} %{time_total}\n' --max-time 120
      -X "$method" -H "authorization: Bearer $API_KEY")
    [ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
    out="$(curl "${args[@]}" "$BASE$path")"
    [ "${out%% *}" = 200 ] || die "$name: HTTP ${out%% *}: $(head -c 400 "$WORK/$name.json")"
    [ "$i" = 0 ] || awk -v t="${out#* }" 'BEGIN { printf "%.3f\n", t * 1000 }' >>"$file"
  done
}

# ---------------------------------------------------------------- the reference
# ref_series KIND NAME FILE STATEMENT...: the statements run REPS (+1 unmeasured) times in one
# session of the database's CLI, rows discarded; the summed time of each repetition (ms) goes
# to FILE.
ref_series() {
  local kind="$1" name="$2" file="$3"
  shift 3
  local k=$# script="$WORK/ref-$name.sql" i s
  {
    if [ "$kind" = sqlite ]; then
      echo ".output /dev/null"
      echo ".timer on"
    else
      echo '\o /dev/null'
      echo '\timing on'
    fi
    for i in $(seq 0 "$REPS"); do
      for s in "$@"; do printf '%s;\n' "$s"; done
    done
  } >"$script"
  if [ "$kind" = sqlite ]; then
    timeout 600 sqlite3 -bail "$SQLITE_FILE" <"$script" 2>"$OUT/ref-$KIND-$name.err" \
      | awk '/^Run Time: real/ { print $4 * 1000 }' >"$WORK/ref-$name.raw"
  else
    timeout 600 psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" <"$script" 2>"$OUT/ref-$KIND-$name.err" \
      | awk '/^Time: / { print $2 }' >"$WORK/ref-$name.raw"
  fi
  [ "$(wc -l <"$WORK/ref-$name.raw")" -eq $((k * (REPS + 1))) ] \
    || die "reference $name: no timings (see $OUT/ref-$KIND-$name.err)"
  awk -v k="$k" '{ s += $1 } NR % k == 0 { if (NR > k) printf "%.3f\n", s; s = 0 }' \
    "$WORK/ref-$name.raw" >"$file"
}

sql1() { # one value
  if [ "$KIND" = sqlite ]; then
    timeout 600 sqlite3 "$SQLITE_FILE" "$1"
  else
    timeout 600 psql -q -At -X "$DB_URL" -c "$1"
  fi
}

plan() { # name statement
  {
    echo "-- $2"
    if [ "$KIND" = sqlite ]; then
      timeout 600 sqlite3 "$SQLITE_FILE" "EXPLAIN QUERY PLAN $2"
    else
      timeout 600 psql -q -X "$DB_URL" -c "EXPLAIN (ANALYZE, BUFFERS) $2"
    fi
  } >"$OUT/plan-$KIND-$1.txt" 2>&1 || true
}

# ---------------------------------------------------------------- one backend
run_backend() {
  KIND="$1"
  log "---- $KIND, $N followers"
  if [ "$KIND" = sqlite ]; then
    SQLITE_FILE="$WORK/followers.db"
    DB_URL="sqlite://$SQLITE_FILE"
  else
    PG_DB="zg_bench_$$_$(date +%s)"
    timeout 30 psql -q -X "$PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
    DB_URL="${PG_URL%/*}/$PG_DB"
    log "PostgreSQL database $PG_DB created"
  fi
  BASE="http://127.0.0.1:$PORT"
  export ZG_DATABASE_URL="$DB_URL" ZG_LISTEN="127.0.0.1:$PORT" ZG_PUBLIC_URL="$BASE"
  timeout 120 "$ZG" demo >"$OUT/demo-$KIND.log" 2>&1 || die "zhanggui demo failed (see $OUT)"

  log "generating $N followers"
  local t0 t1 gen_out
  t0="$(date +%s.%N)"
  gen_out="$(timeout 1800 "$GEN" --db "$DB_URL" --count "$N" --seed "$SEED" --api-key bench)" \
    || die "gen_followers failed"
  t1="$(date +%s.%N)"
  echo "$gen_out" | grep -v '^api_key' >"$OUT/gen-$KIND.txt"
  local gen_s
  gen_s="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
  M="$(awk '$1 == "merchant" { print $2 }' <<<"$gen_out")"
  A="$(awk '$1 == "account" { print $2 }' <<<"$gen_out")"
  TAGS="$(awk '$1 == "tags" { print $2 }' <<<"$gen_out")"
  API_KEY="$(awk '$1 == "api_key" { print $2 }' <<<"$gen_out")"
  local followers tagged in_account
  followers="$(awk '$1 == "followers" { print $2 }' <<<"$gen_out")"
  tagged="$(awk '$1 == "follower_tags" { print $2 }' <<<"$gen_out")"
  local db_size
  if [ "$KIND" = sqlite ]; then
    db_size="$(du -cm "$SQLITE_FILE"* | awk 'END { print $1 }')"
  else
    db_size="$(sql1 "SELECT pg_database_size(current_database()) / 1048576")"
  fi
  printf '%s\tgenerate\tgen_followers\t%s\t-\t-\t-\t1\tfollowers=%s follower_tags=%s rows_per_s=%s db_mb=%s\n' \
    "$KIND" "$(awk -v s="$gen_s" 'BEGIN { printf "%.0f", s * 1000 }')" "$followers" "$tagged" \
    "$(awk -v n="$followers" -v s="$gen_s" 'BEGIN { printf "%.0f", n / s }')" "$db_size" >>"$RESULTS"
  log "  generated $followers followers, $tagged tags in $gen_s s; database $db_size MB"

  # ---- the server
  "$ZG" serve --no-demo >"$OUT/zhanggui-$KIND.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  wait_http "$BASE/healthz" "$SPID" || die "zhanggui did not start (see $OUT)"
  sleep 1
  local idle_rss
  idle_rss="$(status_kb "$SPID" VmRSS)"
  log "  server up, RSS ${idle_rss} kB, load $(cut -d' ' -f1-3 /proc/loadavg)"

  # ---- the cases' parameters
  local tag from_day to_day from_ms to_ms now_ms t_bool
  tag="$(cut -d, -f2 <<<"$TAGS")" # the second most common tag (~17% of followers)
  from_day="$(TZ=$TZ_NAME date -d '-365 days' +%F)"
  to_day="$(TZ=$TZ_NAME date -d '-30 days' +%F)"
  from_ms=$(($(TZ=$TZ_NAME date -d "$from_day 00:00" +%s) * 1000))
  # Days are inclusive: the window ends at the next midnight (no DST in $TZ_NAME).
  to_ms=$((($(TZ=$TZ_NAME date -d "$to_day 00:00" +%s) + 86400) * 1000))
  [ "$KIND" = sqlite ] && t_bool=1 || t_bool=true
  local cols="f.merchant_id, f.account_id, f.openid, f.first_seen_at, f.last_interaction_at, f.subscribed, f.subscription_changed_at, f.subscribed_at, f.unsubscribed_at, f.channel, f.channel_at, f.last_latitude, f.last_longitude, f.last_location_at, f.remark, f.unionid, f.language, f.subscribe_scene, f.synced_at, f.blacklisted, f.nickname, f.name, f.phone, f.gender, f.birthday, f.city, f.profile_updated_at"
  local list_where="f.merchant_id = $M AND f.account_id = $A AND (f.subscribed = $t_bool AND EXISTS (SELECT 1 FROM follower_tags t WHERE t.account_id = f.account_id AND t.openid = f.openid AND t.tag_id IN ($tag)) AND (f.subscribed_at IS NOT NULL AND f.subscribed_at >= $from_ms AND f.subscribed_at < $to_ms))"
  local list_q="tag=$tag&followed_from=$from_day&followed_to=$to_day"
  local order="ORDER BY f.last_interaction_at DESC, f.openid DESC"

  # ---- a. the list, first page
  http_series list "$WORK/list.t" GET "/api/v1/accounts/$A/followers?$list_q"
  local items
  items="$(jq -r '.items | length' "$WORK/list.json")"
  [ "$items" = 50 ] || die "list: a first page of $items rows, not 50"
  record "$KIND" list product "$WORK/list.t" "rows=$items"
  local page_sql="SELECT $cols FROM followers f WHERE $list_where $order LIMIT 50"
  local count_sql="SELECT COUNT(*) FROM followers f WHERE $list_where"
  # The product also reads the page's tags (one IN query): part of the reference.
  local tags_sql="SELECT openid, tag_id FROM follower_tags WHERE merchant_id = $M AND account_id = $A AND openid IN ($(jq -r '[.items[].openid | "'"'"'" + . + "'"'"'"] | join(", ")' "$WORK/list.json")) ORDER BY openid, tag_id"
  ref_series "$KIND" list "$WORK/ref-list.t" "$page_sql" "$tags_sql"
  record "$KIND" list reference "$WORK/ref-list.t" "page+tags"
  plan list-page "$page_sql"
  plan list-count "$count_sql"

  # ---- a''. the list's total, which the console asks for after showing the page
  local list_filter="{\"filter\":{\"combine\":\"all\",\"conditions\":[{\"field\":\"subscribed\",\"value\":true},{\"field\":\"tags\",\"op\":\"any\",\"tag_ids\":[$tag]},{\"field\":\"subscribed_at\",\"range\":{\"kind\":\"between\",\"from\":$from_ms,\"to\":$to_ms}}]}}"
  http_series list_total "$WORK/list_total.t" POST "/api/v1/accounts/$A/followers/count" "$list_filter"
  local total ref_total
  total="$(jq -r .count "$WORK/list_total.json")"
  ref_total="$(sql1 "$count_sql")"
  [ "$ref_total" = "$total" ] || die "list: the product counts $total, the database $ref_total"
  record "$KIND" list_total product "$WORK/list_total.t" "count=$total"
  ref_series "$KIND" list_total "$WORK/ref-list-total.t" "$count_sql"
  record "$KIND" list_total reference "$WORK/ref-list-total.t" "count=$ref_total"

  # ---- a'. a later page (keyset): walk to row DEEP with 500-row pages, measure the next
  local cursor="" walked=0
  while [ "$walked" -lt "$DEEP" ]; do
    api GET "/api/v1/accounts/$A/followers?$list_q&limit=500${cursor:+&cursor=$cursor}" \
      >"$WORK/walk.json"
    cursor="$(jq -r '.next_cursor // empty' "$WORK/walk.json")"
    walked=$((walked + 500))
    [ -n "$cursor" ] || break
  done
  if [ -n "$cursor" ]; then
    http_series list_deep "$WORK/deep.t" GET "/api/v1/accounts/$A/followers?$list_q&cursor=$cursor"
    record "$KIND" list_deep product "$WORK/deep.t" "after row $walked"
    local cv="${cursor%%.*}" co="${cursor#*.}"
    local deep_sql="SELECT $cols FROM followers f WHERE $list_where AND (f.last_interaction_at < $cv OR (f.last_interaction_at = $cv AND f.openid < '$co')) $order LIMIT 50"
    ref_series "$KIND" deep "$WORK/ref-deep.t" "$deep_sql" "$tags_sql"
    record "$KIND" list_deep reference "$WORK/ref-deep.t" "page+tags"
    plan list-deep "$deep_sql"
  else
    log "  fewer than $DEEP matches: no deep page"
  fi

  # ---- b. a saved segment's count, and the builder's preview
  local now_ms days90 filter
  now_ms=$(($(date +%s) * 1000))
  filter='{"combine":"all","conditions":[{"field":"subscribed","value":true},{"field":"channel","op":"in","scenes":["bench_poster","bench_table"]},{"field":"last_interaction","range":{"kind":"last_days","days":90}}]}'
  local sid
  sid="$(api POST "/api/v1/accounts/$A/segments" "{\"name\":\"压测人群\",\"filter\":$filter}" | jq -r .id)"
  [ -n "$sid" ] && [ "$sid" != null ] || die "could not create the segment"
  http_series count "$WORK/count.t" GET "/api/v1/accounts/$A/segments/$sid/count"
  local seg_count
  seg_count="$(jq -r .count "$WORK/count.json")"
  record "$KIND" count product "$WORK/count.t" "count=$seg_count"
  days90=$((now_ms - 90 * 86400000))
  local seg_where="f.merchant_id = $M AND f.account_id = $A AND (f.subscribed = $t_bool AND (f.channel IS NOT NULL AND f.channel IN ('bench_poster', 'bench_table')) AND (f.last_interaction_at IS NOT NULL AND f.last_interaction_at >= $days90))"
  local seg_count_sql="SELECT COUNT(*) FROM followers f WHERE $seg_where"
  local ref_seg
  ref_seg="$(sql1 "$seg_count_sql")"
  # `now` moves between the two reads: allow a few followers at the edge.
  awk -v a="$ref_seg" -v b="$seg_count" 'BEGIN { d = a - b; exit !(d * d <= 100) }' \
    || die "count: the product counts $seg_count, the database $ref_seg"
  ref_series "$KIND" count "$WORK/ref-count.t" "$seg_count_sql"
  record "$KIND" count reference "$WORK/ref-count.t" "count=$ref_seg"
  plan count "$seg_count_sql"

  http_series preview "$WORK/preview.t" POST "/api/v1/accounts/$A/segments/preview" \
    "{\"filter\":$filter}"
  record "$KIND" preview product "$WORK/preview.t" "count=$(jq -r .count "$WORK/preview.json")"
  local sample_sql="SELECT $cols FROM followers f WHERE $seg_where $order LIMIT 10"
  ref_series "$KIND" preview "$WORK/ref-preview.t" "$seg_count_sql" "$sample_sql"
  record "$KIND" preview reference "$WORK/ref-preview.t" "count+sample"
  plan preview-sample "$sample_sql"

  # ---- c. the full export, RSS sampled every 0.5 s
  # The generated followers and the demo's (its sandbox followers, synced by the server).
  in_account="$(sql1 "SELECT COUNT(*) FROM followers WHERE account_id = $A")"
  local r csv="$WORK/export.csv" rows bytes secs
  : >"$WORK/export.t"
  : >"$WORK/export-rate.t"
  for r in $(seq 1 "$EXPORT_REPS"); do
    local before_rss
    before_rss="$(status_kb "$SPID" VmRSS)"
    rm -f "$csv"
    curl -sS -o "$csv" -w '%{http_code} %{time_total} %{size_download}\n' --max-time 900 \
      -H "authorization: Bearer $API_KEY" "$BASE/api/v1/accounts/$A/followers/export.csv" \
      >"$WORK/export.out" &
    local cpid=$!
    PIDS+=("$cpid")
    local samples="$OUT/rss-$KIND-export-$r.tsv"
    printf 't_s\tcsv_bytes\tvmrss_kb\n' >"$samples"
    local ts0
    ts0="$(date +%s.%N)"
    while kill -0 "$cpid" 2>/dev/null; do
      printf '%s\t%s\t%s\n' "$(awk -v a="$ts0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
        "$(stat -c %s "$csv" 2>/dev/null || echo 0)" "$(status_kb "$SPID" VmRSS)" >>"$samples"
      sleep 0.5
    done
    wait "$cpid" || die "export: curl failed"
    forget_pid "$cpid"
    read -r code secs bytes <"$WORK/export.out"
    [ "$code" = 200 ] || die "export: HTTP $code"
    rows=$(($(wc -l <"$csv") - 1))
    [ "$rows" = "$in_account" ] || die "export: $rows rows for $in_account followers"
    awk -v s="$secs" 'BEGIN { printf "%.3f\n", s * 1000 }' >>"$WORK/export.t"
    awk -v n="$rows" -v s="$secs" 'BEGIN { printf "%.0f\n", n / s }' >>"$WORK/export-rate.t"
    local rss_min rss_max rss_10
    rss_min="$(awk -F'\t' 'NR > 1 { if (m == "" || $3 < m) m = $3 } END { print m }' "$samples")"
    rss_max="$(awk -F'\t' 'NR > 1 { if ($3 > m) m = $3 } END { print m + 0 }' "$samples")"
    # RSS once the first 10% of the bytes were out, against the last sample.
    rss_10="$(awk -F'\t' -v b="$bytes" 'NR > 1 && $2 >= b / 10 { print $3; exit }' "$samples")"
    printf '%s\texport_run\tproduct\t%.0f\t-\t-\t-\t1\trows=%s bytes=%s rows_per_s=%.0f rss_before_kb=%s rss_min_kb=%s rss_at_10pct_kb=%s rss_max_kb=%s hwm_kb=%s samples=%s\n' \
      "$KIND" "$(awk -v s="$secs" 'BEGIN { print s * 1000 }')" "$rows" "$bytes" \
      "$(awk -v n="$rows" -v s="$secs" 'BEGIN { print n / s }')" "$before_rss" "$rss_min" \
      "${rss_10:--}" "$rss_max" "$(status_kb "$SPID" VmHWM)" "$(($(wc -l <"$samples") - 1))" \
      >>"$RESULTS"
    log "  export $r: $rows rows, $bytes bytes in $secs s; RSS before $before_rss kB, during $rss_min–$rss_max kB (at 10%: ${rss_10:--}), VmHWM $(status_kb "$SPID" VmHWM) kB"
  done
  head -c 600 "$csv" >"$OUT/export-head-$KIND.csv"
  rm -f "$csv"
  record "$KIND" export product "$WORK/export.t" "rows=$rows rows_per_s_median=$(stats "$WORK/export-rate.t" | cut -d' ' -f1)"

  # The reference export: the same rows and columns as a raw CSV from the database's CLI.
  local dump_sql="SELECT f.openid, f.subscribed, f.subscribed_at, f.first_seen_at, f.last_interaction_at, f.channel, (SELECT $( [ "$KIND" = sqlite ] && echo "group_concat(t.tag_id, '|')" || echo "string_agg(t.tag_id::text, '|' ORDER BY t.tag_id)") FROM follower_tags t WHERE t.account_id = f.account_id AND t.openid = f.openid), f.remark, f.name, f.phone, f.gender, f.birthday, f.city, f.unionid FROM followers f WHERE f.merchant_id = $M AND f.account_id = $A ORDER BY f.openid"
  : >"$WORK/ref-export.t"
  : >"$WORK/ref-export-rate.t"
  for r in $(seq 1 "$EXPORT_REPS"); do
    t0="$(date +%s.%N)"
    if [ "$KIND" = sqlite ]; then
      timeout 900 sqlite3 -csv "$SQLITE_FILE" "$dump_sql" >"$csv"
    else
      timeout 900 psql -q -X "$DB_URL" -c "\\copy ($dump_sql) TO STDOUT CSV" >"$csv"
    fi
    t1="$(date +%s.%N)"
    rows="$(wc -l <"$csv")"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$WORK/ref-export.t"
    awk -v a="$t0" -v b="$t1" -v n="$rows" 'BEGIN { printf "%.0f\n", n / (b - a) }' \
      >>"$WORK/ref-export-rate.t"
    log "  reference export $r: $rows rows, $(stat -c %s "$csv") bytes"
  done
  rm -f "$csv"
  record "$KIND" export reference "$WORK/ref-export.t" "rows=$rows rows_per_s_median=$(stats "$WORK/ref-export-rate.t" | cut -d' ' -f1)"
  plan export "$dump_sql"

  printf '%s\tserver\tproduct\t-\t-\t-\t-\t1\tidle_rss_kb=%s end_hwm_kb=%s\n' "$KIND" "$idle_rss" \
    "$(status_kb "$SPID" VmHWM)" >>"$RESULTS"
  stop_pid "$SPID"
  if [ "$KIND" = sqlite ]; then
    rm -f "$SQLITE_FILE"*
  else
    drop_pg
  fi
}

for b in $BACKENDS; do
  run_backend "$b"
done

# ---------------------------------------------------------------- summary
SUMMARY="$OUT/summary.md"
{
  echo "# Followers at $N"
  echo
  sed 's/^/    /' "$OUT/machine.txt"
  for b in $BACKENDS; do
    echo
    echo "## $b"
    echo
    awk -F'\t' -v b="$b" '$1 == b && $2 == "generate" {
      printf "Generation: %.1f s (%s)\n\n", $4 / 1000, $9 }' "$RESULTS"
    echo "| case | product median ms | p95 ms | reference median ms | p95 ms | product / reference | goal | notes |"
    echo "|---|---:|---:|---:|---:|---:|---|---|"
    awk -F'\t' -v b="$b" '
      $1 != b { next }
      $3 == "product" && $2 != "server" && $2 != "export_run" { pm[$2] = $4; pp[$2] = $5; note[$2] = $9; order[++n] = $2 }
      $3 == "reference" { rm[$2] = $4; rp[$2] = $5 }
      END {
        for (i = 1; i <= n; i++) {
          c = order[i]
          goal = (c == "export") ? ">= 100000 rows/s" : (c == "list_total") ? "(none: asked after the page)" : "< 200 ms"
          if (c == "export") { split(note[c], kv, "rows_per_s_median="); met = (kv[2] + 0 >= 100000) ? "met" : "NOT met" }
          else if (c == "list_total") met = "-"
          else met = (pm[c] + 0 < 200) ? "met" : "NOT met"
          ratio = (rm[c] > 0) ? sprintf("%.1f×", pm[c] / rm[c]) : "-"
          printf "| %s | %s | %s | %s | %s | %s | %s: %s | %s |\n", c, pm[c], pp[c], rm[c], rp[c], ratio, goal, met, note[c]
        }
      }' "$RESULTS"
    echo
    echo "Export runs (RSS in kB, sampled every 0.5 s):"
    echo
    awk -F'\t' -v b="$b" '$1 == b && $2 == "export_run" { printf "- %.1f s, %s\n", $4 / 1000, $9 }' "$RESULTS"
    awk -F'\t' -v b="$b" '$1 == b && $2 == "export" && $3 == "reference" { printf "- reference: %s\n", $9 }' "$RESULTS"
    awk -F'\t' -v b="$b" '$1 == b && $2 == "server" { printf "- server: %s\n", $9 }' "$RESULTS"
  done
  echo
  echo "Times are wall-clock: curl's time_total for the product (loopback, one request at a time),"
  echo "the CLI's own timer (sqlite3 .timer / psql \\timing, summed over the statements of the case)"
  echo "for the reference; export references are timed around the CLI process. Raw: $RESULTS;"
  echo "query plans: $OUT/plan-*.txt; RSS samples: $OUT/rss-*.tsv."
} >"$SUMMARY"
echo
cat "$SUMMARY"
