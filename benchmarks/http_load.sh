#!/usr/bin/env bash
# Load benchmark of GET /v1/users/{user_id}/recommendations: `hoprec serve`
# on the loopback, wrk with 64 connections and random user ids
# (benchmarks/http_load.lua), printing requests/s and latency percentiles.
#
#   benchmarks/http_load.sh [--snapshot DIR] [--data DIR] [--duration S]
#                           [--connections N] [--threads N] [--k K]
#                           [--server-threads N] [--index SPEC]
#                           [-- SERVE_OPTIONS...]
#
# Without --snapshot, a matrix-factorization model is trained for a few
# epochs on --data (default ../shared/data/ml-1m, else a synthetic split
# made here) into benchmarks/out/. Needs wrk; the binary comes from
# $HOPREC_BIN or build/hoprec.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOPREC_BIN:-$root/build/hoprec}
out=$root/benchmarks/out
snapshot= data= duration=10 connections=64 threads=2 k=10
server_threads=0 index=Flat

while [ $# -gt 0 ]; do
  case $1 in
  --snapshot) snapshot=$2; shift 2 ;;
  --data) data=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --connections) connections=$2; shift 2 ;;
  --threads) threads=$2; shift 2 ;;
  --k) k=$2; shift 2 ;;
  --server-threads) server_threads=$2; shift 2 ;;
  --index) index=$2; shift 2 ;;
  --) shift; break ;;
  -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "http_load.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "http_load.sh: wrk is not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "http_load.sh: no binary at $bin (build first)" >&2; exit 1; }
mkdir -p "$out"

# A synthetic LightGCN split: 5000 users, 8000 items, 20 items each,
# skewed towards low item ids as real catalogues are.
synthetic_data() {
  local dir=$out/synthetic
  mkdir -p "$dir"
  awk 'BEGIN { srand(7); for (u = 0; u < 5000; u++) { line = u;
         for (j = 0; j < 20; j++) line = line " " int(8000 * rand() ^ 2);
         print line } }' >"$dir/train.txt"
  echo "$dir"
}

if [ -z "$snapshot" ]; then
  if [ -z "$data" ]; then
    data=$root/../shared/data/ml-1m
    [ -f "$data/train.txt" ] || data=$(synthetic_data)
  fi
  snapshot=$out/http_load_snapshot
  if [ ! -f "$snapshot/manifest.json" ]; then
    echo "training mf (3 epochs) on $data into $snapshot" >&2
    nice "$bin" train --data "$data" --model mf --dim 64 --epochs 3 \
      --eval-every 0 --out "$snapshot" --log-level warn >&2
  fi
fi

. "$root/benchmarks/serve_common.sh"
trap serve_stop EXIT
serve_start "$out/http_load_serve.log" --snapshot "$snapshot" \
  --threads "$server_threads" --index-factory "$index" "$@"
url=$serve_url
echo "hoprec serve: snapshot $snapshot, index $index, $url $*"
echo "wrk: $threads threads, $connections connections, ${duration}s, k=$k"
wrk -t "$threads" -c "$connections" -d "${duration}s" --latency \
  -s "$root/benchmarks/http_load.lua" "$url" -- "$snapshot/users.txt" "$k"
