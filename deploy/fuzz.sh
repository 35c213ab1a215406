#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang (ASan + UBSan) and run each over
# its seed corpus for a bounded time.
#
#   deploy/fuzz.sh [SECONDS]     default 60 per harness
#
# The corpus grows in build-fuzz/corpus/<harness>; the seeds in
# tests/fuzz/corpus/ stay as committed. A crash leaves its input in
# build-fuzz/ and makes the script fail.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}

bash deploy/deps.sh
if ! command -v clang >/dev/null; then
  apt-get install -y -qq clang >/dev/null 2>&1 || sudo apt-get install -y -qq clang
fi

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ meson setup build-fuzz -Dfuzz=enabled \
    -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
fi
ninja -C build-fuzz

for seeds in tests/fuzz/corpus/*/; do
  name=$(basename "$seeds")
  harness=build-fuzz/tests/fuzz/fuzz_$name
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  cp -n "$seeds"* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s" >&2
  (cd build-fuzz && "../$harness" -max_total_time="$seconds" \
    -print_final_stats=1 "../$corpus" 2>&1 |
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY')
done
