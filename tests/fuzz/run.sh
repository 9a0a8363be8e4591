#!/usr/bin/env bash
# Coverage-guided fuzzing of DISCO's parsers with cargo fuzz (libFuzzer).
#
# Usage: tests/fuzz/run.sh [SECONDS [TARGET...]]
#   SECONDS  how long to fuzz each target (default 600)
#   TARGET   occi_headers, plain_body, occi_json, inject_literal (default: all,
#            one after another, so 4 x SECONDS in all)
#
# Each target runs in libFuzzer's fork mode with -ignore_crashes=1, so a
# finding does not end the run early: every crashing input is saved under
# tests/fuzz/artifacts/TARGET/ (git-ignored; report them, do not commit them)
# and fuzzing goes on for the full time. The corpus is tests/fuzz/corpus/TARGET/,
# read together with the real requests in tests/fuzz/seeds/TARGET/ (the
# walk-through's headers and the like, kept under their own names). After
# the run the corpus is minimised with `cargo fuzz cmin` (by edge coverage),
# so the repository keeps a small one. At the end a table gives executions,
# coverage, corpus size and findings per target.
#
# Not part of CI: it takes 40 minutes and needs nightly features. The machine
# has only a stable toolchain; cargo fuzz passes -Z flags (-Zsanitizer), so
# RUSTC_BOOTSTRAP=1 below lets stable rustc and cargo accept them.
# Environment: CARGO_TARGET_DIR (default tests/fuzz/target, kept apart from
# the main crate's target/), FUZZ_SANITIZER (default address; none is faster).
set -euo pipefail

seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(occi_headers plain_body occi_json inject_literal)
fi
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS [TARGET...]]" >&2; exit 2 ;;
esac

# Other people's builds share this machine's two cores: stay out of their way.
renice -n 19 $$ >/dev/null

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$fuzz_dir/../.." && pwd)
cd "$repo"

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$(dirname "$0")" && pwd)/target}
sanitizer=${FUZZ_SANITIZER:-address}
fuzz=(cargo fuzz)
common=(--fuzz-dir "$fuzz_dir" --sanitizer "$sanitizer")

if ! cargo fuzz --version >/dev/null 2>&1; then
  # 0.13.2 is the version this was written with; it builds on Rust 1.95.
  cargo install cargo-fuzz --locked --version 0.13.2
fi
echo "$(cargo fuzz --version), $(rustc --version), sanitizer $sanitizer"

logs=$CARGO_TARGET_DIR/fuzz-logs
mkdir -p "$logs"
for target in "${targets[@]}"; do
  "${fuzz[@]}" build "${common[@]}" "$target" >"$logs/$target.build.log" 2>&1 || {
    echo "building $target failed: $logs/$target.build.log" >&2
    tail -n 30 "$logs/$target.build.log" >&2
    exit 1
  }
done

corpus_summary() { # files and bytes in a corpus directory
  local dir=$1
  printf '%s files, %s bytes' "$(find "$dir" -type f | wc -l)" \
    "$(find "$dir" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
}

declare -A summary
for target in "${targets[@]}"; do
  corpus=$fuzz_dir/corpus/$target
  seeds=$fuzz_dir/seeds/$target
  artifacts=$fuzz_dir/artifacts/$target
  mkdir -p "$corpus" "$seeds" "$artifacts"
  stamp=$(mktemp)
  log=$logs/$target.log
  echo "== $target: fuzzing for ${seconds}s (log: $log)"
  start=$(date +%s)
  status=0
  "${fuzz[@]}" run "${common[@]}" "$target" "$corpus" "$seeds" -- \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  duration=$(($(date +%s) - start))
  # Fork mode's status lines: "#EXECS: cov: C ft: F corp: N exec/s: E
  # oom/timeout/crash: O/T/X time: Ss job: J ...".
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  rate=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
  otc=$(sed -nE 's/.* oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$last")
  mapfile -t found < <(find "$artifacts" -type f -newer "$stamp" | sort)
  rm -f "$stamp"
  before=$(corpus_summary "$corpus")
  echo "   minimising the corpus ($before)"
  # By edge coverage only (-use_counters=0): every edge the run reached is
  # kept in about a third of the bytes that keeping every hit-count bucket
  # too would take; a later run fuzzes its way back to those buckets.
  "${fuzz[@]}" cmin "${common[@]}" "$target" "$corpus" -- -use_counters=0 \
    >"$logs/$target.cmin.log" 2>&1 ||
    echo "   cmin failed: $logs/$target.cmin.log" >&2
  after=$(corpus_summary "$corpus")
  summary[$target]="executions ${execs:-?} (${rate:-?}/s), cov ${cov:-?}, ft ${ft:-?}, ${duration}s, oom/timeout/crash ${otc:-?}, corpus $after, new artifacts ${#found[@]}, exit $status"
  echo "   ${summary[$target]}"
  # Replay a few findings: the panic message names the assertion that failed.
  for file in "${found[@]:0:5}"; do
    echo "   finding: $file"
    "${fuzz[@]}" run "${common[@]}" "$target" "$file" 2>&1 |
      grep -m 1 -A 4 'panicked at' | sed 's/^/     /' || true
  done
done

echo
echo "== summary (${seconds}s per target)"
for target in "${targets[@]}"; do
  printf '%-15s %s\n' "$target" "${summary[$target]}"
done
echo "corpus in the repository: $(corpus_summary "$fuzz_dir/corpus")"
