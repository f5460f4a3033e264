#!/usr/bin/env bash
# Everything a developer needs before pushing: formatting, lints, and the whole test suite on
# SQLite and — when ZG_TEST_DATABASE_URL names a PostgreSQL server, or one answers on
# 127.0.0.1:5432 — on PostgreSQL too. Browser tests need chromium and chromedriver
# (Debian: apt-get install chromium chromium-driver fonts-noto-cjk); without them they are
# skipped locally and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's time and the running total ($SECONDS), so CI logs show where the time goes.
step_name=""
step_started=0
end_step() {
  if [ -n "$step_name" ]; then
    printf '<== %s: %ds (total %ds)\n' "$step_name" $((SECONDS - step_started)) "$SECONDS"
  fi
  step_name=""
}
# A failing step still reports its time.
trap end_step EXIT
step() {
  end_step
  step_name="$*"
  step_started=$SECONDS
  printf '\n==> %s\n' "$*"
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests on SQLite"
ZG_TEST_DATABASE_URL= cargo test --workspace

# The server runs on tokio's current-thread runtime where it may use one core only
# (main.rs, `runtime`); the suite's servers otherwise get the multi-threaded one. The
# kill -9 test starts the real binary: run it once confined to one core.
# `--workspace`, not `-p zhanggui`: the features cargo unifies differ with the packages
# built, and `-p` rebuilt sqlx and a dozen crates (4 minutes, on the one core); built
# unconfined first, should anything be left to build.
if command -v taskset >/dev/null 2>&1; then
  step "the server on one core (current-thread runtime): durability tests"
  ZG_TEST_DATABASE_URL= cargo test --workspace --test durability --no-run
  ZG_TEST_DATABASE_URL= taskset -c 0 cargo test --workspace --test durability
fi

pg_url="${ZG_TEST_DATABASE_URL:-}"
if [ -z "$pg_url" ] && command -v pg_isready >/dev/null 2>&1 \
   && pg_isready -q -h 127.0.0.1 -p 5432 -U postgres 2>/dev/null; then
  pg_url="postgres://postgres@127.0.0.1:5432/test"
fi
if [ -n "$pg_url" ]; then
  step "tests on PostgreSQL ($pg_url)"
  ZG_TEST_DATABASE_URL="$pg_url" cargo test --workspace
else
  step "PostgreSQL not found: set ZG_TEST_DATABASE_URL to run the suite on it as well"
  if [ "${CI:-}" = "true" ]; then
    echo "CI must test PostgreSQL" >&2
    exit 1
  fi
fi
# Fuzzing: ZG_FUZZ_SECONDS per target (CI sets it). libFuzzer's coverage feedback needs a
# nightly toolchain; where there is none the step says so and is skipped.
fuzz_secs="${ZG_FUZZ_SECONDS:-0}"
if [ "$fuzz_secs" -gt 0 ]; then
  if cargo +nightly --version >/dev/null 2>&1; then
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
    for target in parse decrypt; do
      step "fuzz $target for ${fuzz_secs}s"
      (cd crates/wechat && cargo +nightly fuzz run "$target" -- -max_total_time="$fuzz_secs" 2>&1 | tail -n 3)
    done
  else
    step "no nightly toolchain: fuzz targets only built"
    (cd crates/wechat/fuzz && cargo build --quiet)
  fi
fi

end_step
echo
echo "all checks passed in ${SECONDS}s"
