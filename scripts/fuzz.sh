#!/usr/bin/env bash
# Fuzz trapline's parsers with AFL++ (afl.rs, stable Rust): the Trace parser, the profile linter, the profile reader
# and compiler, and the strace importer (fuzz/src/bin/*.rs).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # default: 300 s for each of trace lint profile strace
#
# Targets run two at a time (the machine has 2 cores). Each keeps its queue in fuzz/out/TARGET, so a later run goes
# on from there; crashes and hangs land in fuzz/out/TARGET/default/{crashes,hangs}. Prints per target the executions
# of this run and of all runs, the corpus size and the crash and hang files there, and exits 1 if there are any. Needs cargo-afl (`cargo install
# cargo-afl`, then `cargo afl config --build` once); installs it when missing.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(trace lint profile strace)

if ! cargo afl --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-afl" >&2
  cargo install --locked cargo-afl
  cargo afl config --build
fi

(cd fuzz && cargo afl build --release)

seeds_of() {
  case "$1" in
    trace) echo trace ;;
    lint | profile) echo profile ;;
    strace) echo strace ;;
    *) echo "fuzz: unknown target $1 (trace, lint, profile, strace)" >&2; exit 2 ;;
  esac
}
dict_of() {
  case "$1" in
    strace) echo fuzz/dict/strace.dict ;;
    *) echo fuzz/dict/json.dict ;;
  esac
}

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1

# A statistic of a target's fuzzer_stats (0 when there is none yet). afl-fuzz carries them over when it resumes.
stat() {
  local file=fuzz/out/$1/default/fuzzer_stats
  [ -f "$file" ] && awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$file" || echo 0
}
# Files afl-fuzz saved under crashes/ or hangs/ (its README aside).
saved() {
  find "fuzz/out/$1/default/$2" -type f ! -name README.txt 2>/dev/null | wc -l
}

declare -A before
for t in "${targets[@]}"; do before[$t]=$(stat "$t" execs_done); done

run_one() {
  local target=$1 out=fuzz/out/$1 input
  input=fuzz/seeds/$(seeds_of "$target")
  mkdir -p "$out"
  # "-i -" resumes from the queue of an earlier run.
  [ -d "$out/default/queue" ] && input=-
  cargo afl fuzz -V "$seconds" -t 2000 -m none -x "$(dict_of "$target")" -i "$input" -o "$out" \
    "fuzz/target/release/$target" >"$out/afl.log" 2>&1 || {
    echo "fuzz: afl-fuzz $target failed; see $out/afl.log" >&2
    tail -20 "$out/afl.log" >&2
    return 1
  }
}

failed=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for t in "${targets[@]:i:2}"; do
    echo "fuzz: $t for ${seconds}s" >&2
    run_one "$t" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
done

found=0
printf '%-8s %12s %12s %8s %8s %8s\n' target executions "in all" corpus crashes hangs
for t in "${targets[@]}"; do
  [ -f "fuzz/out/$t/default/fuzzer_stats" ] || { echo "$t: no stats" >&2; failed=1; continue; }
  total=$(stat "$t" execs_done)
  crashes=$(saved "$t" crashes)
  hangs=$(saved "$t" hangs)
  printf '%-8s %12s %12s %8s %8s %8s\n' "$t" "$((total - before[$t]))" "$total" "$(stat "$t" corpus_count)" \
    "$crashes" "$hangs"
  [ "$crashes" = 0 ] && [ "$hangs" = 0 ] || found=1
done
if [ $found = 1 ]; then
  echo "fuzz: findings in fuzz/out/*/default/{crashes,hangs}; reproduce with: fuzz/target/release/TARGET < FILE," >&2
  echo "fuzz: minimise with cargo afl tmin, add to fuzz/regressions/, then move the crash files away" >&2
  exit 1
fi
exit $failed
