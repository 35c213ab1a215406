#!/usr/bin/env bash
# Latency of well-formed requests while the server is under attack: `hoprec
# serve` on the loopback, wrk at a moderate fixed load on GET
# /v1/users/{user_id}/recommendations (each connection waits --delay-ms
# between requests), first alone, then while benchmarks/attack_client.py
# holds slow and idle connections and sends hostile requests; the two
# alternate for --rounds rounds. Prints each run's p50/p99, the median
# p99 of each condition and their ratio (target: within 2x), the attack's
# 5xx count (target: 0) and whether the server is still alive; exits 1
# when a target is missed.
#
#   benchmarks/attack_bench.sh [--snapshot DIR] [--data DIR] [--duration S]
#                              [--rounds N] [--connections N] [--delay-ms MS]
#                              [--slow N] [--idle N] [--workers N]
#                              [-- SERVE_OPTIONS...]
#
# Without --snapshot, a matrix-factorization model is trained for a few
# epochs on --data (default: a synthetic split of 5000 users and 8000 items
# made here) into benchmarks/out/. Needs wrk and python3; the binary comes
# from $HOPREC_BIN or build/hoprec.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${HOPREC_BIN:-$root/build/hoprec}
out=$root/benchmarks/out
snapshot= data= duration=20 rounds=3 connections=16 delay_ms=20
slow=300 idle=100 workers=4

while [ $# -gt 0 ]; do
  case $1 in
  --snapshot) snapshot=$2; shift 2 ;;
  --data) data=$2; shift 2 ;;
  --duration) duration=$2; shift 2 ;;
  --rounds) rounds=$2; shift 2 ;;
  --connections) connections=$2; shift 2 ;;
  --delay-ms) delay_ms=$2; shift 2 ;;
  --slow) slow=$2; shift 2 ;;
  --idle) idle=$2; shift 2 ;;
  --workers) workers=$2; shift 2 ;;
  --) shift; break ;;
  -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
  *) echo "attack_bench.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

for tool in wrk python3 curl ss; do
  command -v $tool >/dev/null ||
    { echo "attack_bench.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$bin" ] ||
  { echo "attack_bench.sh: no binary at $bin (build first)" >&2; exit 1; }
mkdir -p "$out"

if [ -z "$snapshot" ]; then
  if [ -z "$data" ]; then
    data=$out/synthetic
    mkdir -p "$data"
    # Skewed towards low item ids, as real catalogues are.
    awk 'BEGIN { srand(7); for (u = 0; u < 5000; u++) { line = u;
           for (j = 0; j < 20; j++) line = line " " int(8000 * rand() ^ 2);
           print line } }' >"$data/train.txt"
  fi
  snapshot=$out/attack_snapshot
  if [ ! -f "$snapshot/manifest.json" ]; then
    echo "training mf (3 epochs) on $data into $snapshot" >&2
    nice "$bin" train --data "$data" --model mf --dim 64 --epochs 3 \
      --eval-every 0 --out "$snapshot" --log-level warn >&2
  fi
fi

# wrk at a fixed pace: every connection pauses delay_ms between requests,
# so the offered load stays the same whether or not the server is slowed.
lua=$out/attack_load.lua
cat >"$lua" <<'EOF'
local ids, k, pause = {}, 10, 20
function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      ids[#ids + 1] = line:gsub("[^%w%-%._~]", function(c)
        return string.format("%%%02X", string.byte(c)) end)
    end
  end
  pause = tonumber(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
end
function delay() return pause end
function request()
  return wrk.format("GET", "/v1/users/" .. ids[math.random(#ids)] ..
    "/recommendations?k=" .. k)
end
EOF

store=$out/attack_events.db
rm -f "$store" "$store-wal" "$store-shm"
log=$out/attack_serve.log
"$bin" serve --snapshot "$snapshot" --store "$store" --listen 127.0.0.1:0 \
  --log-level warn "$@" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT

# --log-level warn hides the "listening" line; find the port from /proc.
port=
for _ in $(seq 1 600); do
  port=$(ss -Htlnp 2>/dev/null | awk -v p="pid=$pid," \
    'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] ||
  { echo "attack_bench.sh: the server did not start" >&2; exit 1; }
url=http://127.0.0.1:$port
curl -fsS "$url/readyz" >/dev/null

# wrk's latency figure in milliseconds ("850.00us", "1.20ms", "2.00s").
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000;
    else if (u == "m") n *= 60000; printf "%.3f", n }'
}

# One wrk run, its output kept as $out/attack_wrk_$1.txt; prints "p50_ms
# p99_ms requests_per_s non_2xx errors" ("- -" when nothing got through).
measure() {
  local text p50 p99 rps bad errs
  text=$(wrk -t 2 -c "$connections" -d "${duration}s" --latency -s "$lua" \
    "$url" -- "$snapshot/users.txt" "$delay_ms" 2>&1 || true)
  printf '%s\n' "$text" >"$out/attack_wrk_$1.txt"
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$text")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$text")
  rps=$(awk '$1 == "Requests/sec:" { print $2 }' <<<"$text")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$text")
  errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' \
    <<<"$text")
  if [ -z "$p99" ] || awk -v r="${rps:-0}" 'BEGIN { exit !(r + 0 == 0) }'; then
    echo "- - ${rps:-0} ${bad:-0} ${errs:-0}"
    return
  fi
  echo "$(to_ms "$p50") $(to_ms "$p99") $rps ${bad:-0} ${errs:-0}"
}

echo "hoprec serve: snapshot $snapshot, port $port $*"
echo "wrk: 2 threads, $connections connections, ${delay_ms} ms pause" \
  "between requests, ${duration}s per run, $rounds rounds"
echo "attack: $slow slow + $idle idle connections, $workers hostile workers"
wrk -t 2 -c "$connections" -d 3s -s "$lua" "$url" -- \
  "$snapshot/users.txt" "$delay_ms" >/dev/null # warm-up, not counted
printf '%-7s %-8s %9s %9s %9s %8s %7s\n' round phase p50_ms p99_ms req/s \
  non_2xx errors
base_p99=() attack_p99=() fivexx=0 closed=0 attack_sent=0 failed_runs=0
for r in $(seq 1 "$rounds"); do
  read -r p50 p99 rps bad errs < <(measure "${r}_baseline")
  printf '%-7s %-8s %9s %9s %9s %8s %7s\n' "$r" baseline "$p50" "$p99" \
    "$rps" "$bad" "$errs"
  base_p99+=("$p99") failed_runs=$((failed_runs + (bad + errs > 0)))

  report=$out/attack_client_$r.json
  python3 "$root/benchmarks/attack_client.py" 127.0.0.1 "$port" \
    $((duration + 5)) --slow "$slow" --idle "$idle" --workers "$workers" \
    >"$report" &
  client=$!
  sleep 3 # let the slow and idle connections open first
  read -r p50 p99 rps bad errs < <(measure "${r}_attack")
  wait $client
  printf '%-7s %-8s %9s %9s %9s %8s %7s\n' "$r" attack "$p50" "$p99" \
    "$rps" "$bad" "$errs"
  attack_p99+=("$p99") failed_runs=$((failed_runs + (bad + errs > 0)))
  read -r n5 nc ns < <(python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(s["5xx"], s["closed_without_answer"], sum(s["sent"].values()))' "$report")
  fivexx=$((fivexx + n5)) closed=$((closed + nc))
  attack_sent=$((attack_sent + ns))
  echo "        attack client: $(cat "$report")"
done

# A run where nothing got through ("-") sorts above every figure.
median() { printf '%s\n' "$@" | sed 's/^-$/inf/' | sort -g | awk '{ a[NR] = $1 }
  END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
b=$(median "${base_p99[@]}")
a=$(median "${attack_p99[@]}")
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "inf" || b == "inf")
  print "inf"; else printf "%.2f", a / b }')

alive=no
if kill -0 $pid 2>/dev/null && curl -fsS "$url/livez" >/dev/null &&
  curl -fsS "$url/v1/users/$(head -1 "$snapshot/users.txt")/recommendations" \
    >/dev/null; then
  alive=yes
fi

echo
echo "p99 without attack (median of $rounds): $b ms"
echo "p99 under attack   (median of $rounds): $a ms"
echo "ratio: ${ratio}x (target: within 2x)"
echo "attack requests: $attack_sent, 5xx answers: $fivexx (target: 0)," \
  "closed without an answer: $closed"
echo "well-formed runs with non-2xx answers or socket errors: $failed_runs"
echo "server alive afterwards: $alive"
[ "$ratio" != inf ] && awk -v r="$ratio" 'BEGIN { exit !(r <= 2) }' &&
  [ "$fivexx" -eq 0 ] && [ "$failed_runs" -eq 0 ] && [ "$alive" = yes ]
