# Shared by the study scripts: paths, one training run, report fields.
# Source it; it reads HOPREC (binary, default a copy of build/hoprec, so
# that rebuilding during a study does not touch running jobs), DATA
# (default ../shared/data), JOBS (parallel runs, default 2), THREADS
# (per run, default 1), TABLES_ONLY (see run).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${DATA:-$root/../shared/data}
jobs=${JOBS:-2}
threads=${THREADS:-1}
scratch=$root/benchmarks/out
results=$root/benchmarks/results
mkdir -p "$scratch" "$results"
if [ -z "${HOPREC:-}" ]; then
  HOPREC=$scratch/hoprec-study-$$
  cp "$root/build/hoprec" "$HOPREC"
fi

# run NAME DATASET [train options...]: train once into $scratch/NAME.json
# (skipped when that report exists, or always with TABLES_ONLY=1, which
# rebuilds a study's tables from the reports there are), log in
# $scratch/NAME.log.
run() {
  local name=$1 set=$2
  shift 2
  [ -s "$scratch/$name.json" ] && return 0
  [ -n "${TABLES_ONLY:-}" ] && return 0
  if nice -n 10 "$HOPREC" train --data "$data/$set" --threads "$threads" \
    --report "$scratch/$name.json" "$@" >"$scratch/$name.log" 2>&1; then
    echo "done $name" >&2
  else
    echo "failed $name (see $scratch/$name.log)" >&2
  fi
}

# Wait until fewer than $jobs background runs are left.
throttle() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
}

# field NAME JQ: a figure of a report, "-" when absent.
field() {
  local f=$scratch/$1.json
  [ -s "$f" ] || { echo "-"; return; }
  jq -r "($2) // \"-\" | if type == \"number\" then (. * 10000 | round / 10000) else . end" "$f"
}
