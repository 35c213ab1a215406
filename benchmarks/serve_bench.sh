#!/usr/bin/env bash
# The serving figures in one run, on one snapshot, written as Markdown:
#
#  1. in-process baseline: the same searches one query at a time through
#     the FAISS C API, and HNSW recall@20 against exact
#     (build/benchmarks/search_bench on the snapshot);
#  2. GET /v1/users/{id}/recommendations with wrk (64 connections, k 20)
#     against an exact index with coalescing, without it, and against an
#     HNSW index;
#  3. a longer wrk run while the served snapshot is swapped (SIGHUP) every
#     few seconds: every answer must be a 2xx and no socket may fail.
#
#   benchmarks/serve_bench.sh [--snapshot DIR] [--duration S]
#                             [--swap-duration S] [--swap-every S]
#                             [--connections N] [--k K] [--ef-search N]
#                             [--out FILE]
#
# Without --snapshot, matrix factorization is trained for 20 epochs on
# ../shared/data/gowalla (the Gowalla-size catalog the targets name) into
# benchmarks/out/gowalla_mf20, about 20 s. A trained model matters for
# HNSW: the near-random embeddings of a barely trained one have no
# neighbourhood structure, and recall at a given efSearch drops (0.80
# instead of 0.97 at efSearch 64 after 3 epochs). Needs wrk; the binaries
# come from build/, or from the build folder named by HOPREC_BUILD (to
# compare, say, a build with -Dfaiss_simd=none side by side).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${HOPREC_BUILD:-$root/build}
bin=${HOPREC_BIN:-$build/hoprec}
search_bench=$build/benchmarks/search_bench
out=$root/benchmarks/out
snapshot= duration=20 swap_duration=60 swap_every=3 connections=64 k=20
ef_search=64 report=$root/benchmarks/results/serving.md

while [ $# -gt 0 ]; do
  case $1 in
  --snapshot) snapshot=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --swap-duration) swap_duration=$2; shift 2 ;;
  --swap-every) swap_every=$2; shift 2 ;;
  --connections) connections=$2; shift 2 ;;
  --k) k=$2; shift 2 ;;
  --ef-search) ef_search=$2; shift 2 ;;
  --out) report=$2; shift 2 ;;
  -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "serve_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "serve_bench.sh: wrk is not installed" >&2; exit 1; }
for b in "$bin" "$search_bench"; do
  [ -x "$b" ] || { echo "serve_bench.sh: no binary at $b (build first)" >&2; exit 1; }
done
mkdir -p "$out"

if [ -z "$snapshot" ]; then
  snapshot=$out/gowalla_mf20
  data=$root/../shared/data/gowalla
  if [ ! -f "$snapshot/manifest.json" ]; then
    [ -f "$data/train.txt" ] || { echo "serve_bench.sh: no $data/train.txt; give --snapshot" >&2; exit 1; }
    echo "training mf (20 epochs) on $data into $snapshot" >&2
    nice "$bin" train --data "$data" --model mf --dim 64 --epochs 20 \
      --batch 8192 --lr 0.005 --eval-every 0 --out "$snapshot" \
      --log-level warn >&2
  fi
fi

. "$root/benchmarks/serve_common.sh"
trap serve_stop EXIT
tmp=$(mktemp -d)
trap 'serve_stop; rm -rf "$tmp"' EXIT

# One wrk run against $serve_url; prints "rps p50_ms p99_ms errors".
# errors = non-2xx/3xx answers + connect/read/write/timeout errors.
wrk_run() {
  local seconds=$1 log=$2
  wrk -t 2 -c "$connections" -d "${seconds}s" --latency \
    -s "$root/benchmarks/http_load.lua" "$serve_url" -- \
    "$snapshot/users.txt" "$k" >"$log"
  awk '/^requests\/s:/ { rps = $2 }
       /^latency p50:/ { p50 = $3 }
       /^latency p99:/ { p99 = $3 }
       /^errors:/ { gsub(",", ""); e = $3 + $5 + $7 + $9 + $11 }
       END { print rps, p50, p99, e }' "$log"
}

echo "in-process baseline and HNSW recall (search_bench)" >&2
"$search_bench" --snapshot "$snapshot" --repeat 1 --out "$tmp/search.md" >&2
single=$(awk -F'|' '/FAISS C API, one query per call/ { gsub(/ /, "", $6); print $6; exit }' "$tmp/search.md")
recall=$(awk -F'|' -v ef="efSearch=$ef_search " \
  'index($0, ef) { n = split($9, a, "= "); gsub(/ /, "", a[n]); print a[n]; exit }' "$tmp/search.md")
hnsw_single=$(awk -F'|' -v ef="efSearch=$ef_search " \
  'index($0, ef) { gsub(/ /, "", $6); print $6; exit }' "$tmp/search.md")

declare -A rps p50 p99 errs
run_case() {
  local name=$1
  shift
  echo "wrk ${duration}s: $name" >&2
  serve_start "$tmp/serve-$name.log" --snapshot "$snapshot" "$@"
  read -r rps[$name] p50[$name] p99[$name] errs[$name] \
    < <(wrk_run "$duration" "$tmp/wrk-$name.log")
  if [ "$name" = exact ]; then
    auto_mode=$(curl -fsS "$serve_url/v1/model" |
      grep -o '"coalesce": *[a-z]*' | grep -q true && echo on || echo off)
  fi
  serve_stop
}
# The default (--coalesce auto) times single against batched searches at
# load and picks; the two fixed modes show what each choice gives.
run_case exact
run_case exact_on --coalesce on
run_case exact_alone --coalesce off
run_case hnsw --index-factory HNSW32,Flat --ef-search "$ef_search"

# The swap run serves a copy of the snapshot so that rewriting it (a
# SIGHUP re-reads the folder) never touches the original.
echo "wrk ${swap_duration}s with a snapshot swap every ${swap_every}s" >&2
cp -r "$snapshot" "$tmp/live"
serve_start "$tmp/serve-swap.log" --snapshot "$tmp/live"
wrk_run "$swap_duration" "$tmp/wrk-swap.log" >"$tmp/swap.txt" &
wrk_pid=$!
swaps=0
end=$((SECONDS + swap_duration))
while [ $SECONDS -lt $((end - swap_every)) ]; do
  sleep "$swap_every"
  kill -HUP "$serve_pid"
  swaps=$((swaps + 1))
done
wait "$wrk_pid"
read -r swap_rps _ swap_p99 swap_errs <"$tmp/swap.txt"
version=$(curl -fsS "$serve_url/metrics" | awk '/^hoprec_model_version / { print $2 }')
http_5xx=$(curl -fsS "$serve_url/metrics" | awk '/^hoprec_http_requests_total\{.*status="5/ { s += $2 } END { print s + 0 }')
serve_stop

kernels=$(grep -o 'FAISS distance kernels: [a-z0-9]*' \
  "$build/meson-logs/meson-log.txt" 2>/dev/null | tail -1 | cut -d' ' -f4)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
{
  echo
  echo "# Serving benchmark"
  echo
  echo "Snapshot $snapshot ($(wc -l <"$snapshot/items.txt") items, $(wc -l <"$snapshot/users.txt") users); k = $k; wrk 2 threads, $connections connections, ${duration} s per line; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "Command:"
  echo
  echo "    benchmarks/serve_bench.sh --duration $duration --swap-duration $swap_duration --swap-every $swap_every --connections $connections --k $k --ef-search $ef_search"
  echo
  echo "| path | queries/s | p50 ms | p99 ms | errors | vs in-process single |"
  echo "|---|---:|---:|---:|---:|---:|"
  echo "| in-process, FAISS C API, one query per call | $single | | | | 1.0 |"
  echo "| in-process, HNSW32 efSearch $ef_search, one query per call | $hnsw_single | | | | $(ratio "$hnsw_single" "$single") |"
  echo "| HTTP, exact, default (--coalesce auto chose $auto_mode) | ${rps[exact]} | ${p50[exact]} | ${p99[exact]} | ${errs[exact]} | $(ratio "${rps[exact]}" "$single") |"
  echo "| HTTP, exact, --coalesce on | ${rps[exact_on]} | ${p50[exact_on]} | ${p99[exact_on]} | ${errs[exact_on]} | $(ratio "${rps[exact_on]}" "$single") |"
  echo "| HTTP, exact, --coalesce off | ${rps[exact_alone]} | ${p50[exact_alone]} | ${p99[exact_alone]} | ${errs[exact_alone]} | $(ratio "${rps[exact_alone]}" "$single") |"
  echo "| HTTP, HNSW32 efSearch $ef_search (recall@20 $recall) | ${rps[hnsw]} | ${p50[hnsw]} | ${p99[hnsw]} | ${errs[hnsw]} | $(ratio "${rps[hnsw]}" "$single") |"
  echo
  echo "FAISS distance kernels: $kernels. HNSW over HTTP: $(ratio "${rps[hnsw]}" "${rps[exact]}")x the default exact HTTP throughput, $(ratio "${rps[hnsw]}" "$single")x the in-process exact single-query searches."
  echo
  echo "Swap run: ${swap_duration} s, SIGHUP every ${swap_every} s ($swaps swaps, model version $version at the end): $swap_rps queries/s, p99 $swap_p99 ms, $swap_errs non-2xx answers or socket errors, $http_5xx 5xx in the server's own counters."
} | tee -a "$report"
