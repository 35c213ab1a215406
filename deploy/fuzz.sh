#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each over
# its seed corpus for a bounded time.
#
#   deploy/fuzz.sh [SECONDS] [HARNESS...]   default 60 s each, every harness
#
# Every folder tests/fuzz/corpus/<name>/ names a harness fuzz_<name>; a
# harness without seeds, or seeds without a harness, is an error. The
# corpus grows in build-fuzz/corpus/<harness>; the seeds in
# tests/fuzz/corpus/ stay as committed. Every harness runs even when an
# earlier one failed; a crash leaves its input as build-fuzz/crash-<name>-*
# and makes the script exit 1 after the summary.
#
# Long runs: FUZZ_RUNS=10000000 deploy/fuzz.sh 0 snapshot stops after ten
# million executions instead of after a time (SECONDS 0: no time limit);
# FUZZ_JOBS=N runs N workers of each harness in parallel, each for
# FUZZ_RUNS executions (their logs: build-fuzz/fuzz-<n>.log).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
runs=${FUZZ_RUNS:--1}
jobs=${FUZZ_JOBS:-1}

bash deploy/deps.sh
# clang and its runtime libraries (libFuzzer, the sanitizers).
if ! command -v clang >/dev/null ||
  ! dpkg-query -W -f='${Status}' libclang-rt-dev 2>/dev/null |
  grep -q 'ok installed'; then
  if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends clang libclang-rt-dev \
    >/dev/null
fi

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=enabled \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for seeds in tests/fuzz/corpus/*/; do
    names+=("$(basename "$seeds")")
  done
fi

# Seeds and harnesses must pair up, so that no harness is silently skipped.
status=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  if [ ! -d "tests/fuzz/corpus/$name" ]; then
    echo "fuzz: $src has no seed folder tests/fuzz/corpus/$name/" >&2
    status=1
  fi
done

summary=()
for name in "${names[@]}"; do
  harness=build-fuzz/tests/fuzz/fuzz_$name
  corpus=build-fuzz/corpus/$name
  if [ ! -x "$harness" ]; then
    echo "fuzz: no harness $harness for tests/fuzz/corpus/$name/" >&2
    status=1
    continue
  fi
  mkdir -p "$corpus"
  cp -n "tests/fuzz/corpus/$name/"* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s (runs: $runs, jobs: $jobs)" >&2
  log=build-fuzz/fuzz-$name.log
  rc=0
  parallel=()
  stats=("$log")
  if [ "$jobs" -gt 1 ]; then # workers log to build-fuzz/fuzz-<n>.log
    parallel=(-jobs="$jobs" -workers="$jobs")
    rm -f build-fuzz/fuzz-[0-9]*.log
  fi
  start=$(date +%s)
  (cd build-fuzz && "../$harness" -max_total_time="$seconds" \
    -runs="$runs" "${parallel[@]}" -print_final_stats=1 \
    -rss_limit_mb=2048 -artifact_prefix="crash-$name-" "../$corpus" \
    >"../$log" 2>&1) || rc=$?
  wall=$(($(date +%s) - start))
  if [ "$jobs" -gt 1 ]; then # the counts are in the workers' logs
    stats=(build-fuzz/fuzz-[0-9]*.log)
  fi
  grep -hE '^(Done|stat::(number_of_executed_units|peak_rss_mb))|ERROR|SUMMARY' \
    "${stats[@]}" >&2 || true
  execs=$(grep -hEo 'stat::number_of_executed_units: *[0-9]+' "${stats[@]}" |
    awk '{s += $2} END {print s + 0}')
  rss=$(grep -hEo 'stat::peak_rss_mb: *[0-9]+' "${stats[@]}" |
    awk '$2 > m {m = $2} END {print m + 0}')
  rate=$((execs / (wall > 0 ? wall : 1)))
  figures="$execs executions in ${wall}s ($rate exec/s), peak RSS ${rss} MB"
  if [ "$rc" -ne 0 ]; then
    summary+=("$name: FAILED (exit $rc) after $figures; see $log")
    status=1
  else
    summary+=("$name: $figures, no finding")
  fi
done

echo "fuzz summary:" >&2
for line in "${summary[@]}"; do
  echo "  $line" >&2
done
exit "$status"
