#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14, ASan+UBSan) into ./build-fuzz and runs each
# for a fixed number of inputs from its committed seed corpus, after running every seed once
# whole (regression inputs included). Any crash, leak or sanitizer report fails the script.
#   scripts/fuzz.sh [runs per target]     (README "Fuzzing" has the long runs)
# Without an argument each target gets about ten seconds' worth of inputs on a 2-core machine
# (the flag parser builds its whole CLI11 app per input, so it gets fewer).
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A default_runs=([plugin_flags]=3000 [kubeconfig]=10000)
root="$PWD"
build="$root/build-fuzz"

launcher=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout and the build folder not hashed: a clean clone reuses the
  # cache (the fuzzers' debug information may then name the clone that compiled them first).
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang-14 CXX=clang++-14 cmake -S fuzz -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}" >/dev/null
cmake --build "$build" -j2

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/fuzz/ubsan.supp"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=()
targets=0
for fuzzer in "$build"/*_fuzzer; do
  targets=$((targets + 1))
  name="$(basename "$fuzzer" _fuzzer)"
  seeds="$root/fuzz/corpus/$name"
  log="$work/$name.log"
  runs="${1:-${default_runs[$name]:-20000}}"
  mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
  # Every seed once at its full size, then mutations (new inputs go to the scratch corpus, never
  # into the checkout).
  if "$fuzzer" -artifact_prefix="$work/$name/artifacts/" "$seeds"/* >"$log" 2>&1 \
    && "$fuzzer" -runs="$runs" -seed=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" "$seeds" >>"$log" 2>&1; then
    done_line="$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)"
    corpus="$(find "$work/$name/corpus" "$seeds" -type f | wc -l)"
    echo "fuzz $name: ok, ${done_line#Done }, corpus $corpus inputs"
  else
    echo "fuzz $name: FAILED (log follows)"
    grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ |Test unit written|deadly signal' "$log" | head -40
    cp -r "$work/$name/artifacts" "$build/artifacts-$name" 2>/dev/null || true
    failed+=("$name")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]} (inputs kept in $build/artifacts-*)"
fi
# The closing line, in the plain form CI reads: targets passed and failed.
echo "fuzz: $((targets - ${#failed[@]})) passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
