#!/usr/bin/env bash
# Scale curve of training: seconds per epoch and peak RSS of
#   hoprec train --model hognn --dim 64 --layers 4
# on synthetic shops of 1M, 10M and 50M events (hoprec gen
# --interactions N), with the log-log slope of seconds per epoch against
# the training interactions (target: at most 1.1, i.e. about linear).
# Writes benchmarks/results/scale.md.
#
# Training uses topology-aware mini-batches:
#   --minibatch cluster --memory-budget 12G
# When the binary has no --minibatch option, the runs fall back to
# full-graph training and the results say so: full-graph training runs
# one whole propagation per BPR batch, so its epoch costs grow with the
# square of the data and the large sizes will not finish in any useful
# time (set SIZES to keep to the small ones).
#
# Environment:
#   SIZES          events per data set, default "1000000 10000000 50000000"
#   SCALE_DATA     where the data sets live or are generated, default
#                  /work/scale-data (ev1M, ev10M, ev50M; not in git)
#   EPOCHS         epochs timed per run, default 1 (the report's median)
#   THREADS        training threads, default 2
#   MINIBATCH      cluster, saint, auto or off, default cluster
#   MEMORY_BUDGET  default 12G
#   TIME_LIMIT     seconds one run may take before it is stopped, default
#                  3600; a stopped run is reported as such
#   HOPREC         binary, default a copy of build/hoprec
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sizes=${SIZES:-"1000000 10000000 50000000"}
store=${SCALE_DATA:-/work/scale-data}
epochs=${EPOCHS:-1}
threads=${THREADS:-2}
minibatch=${MINIBATCH:-cluster}
budget=${MEMORY_BUDGET:-12G}
limit=${TIME_LIMIT:-3600}
scratch=$root/benchmarks/out/scale
out=$root/benchmarks/results/scale.md
mkdir -p "$scratch" "$store"
if [ -z "${HOPREC:-}" ]; then
  HOPREC=$scratch/hoprec-scale-$$
  cp "$root/build/hoprec" "$HOPREC"
fi

label() { # 1000000 -> 1M
  local n=$1
  if [ $((n % 1000000)) -eq 0 ]; then echo "$((n / 1000000))M"
  else echo "$((n / 1000))K"; fi
}

mb_opts=()
mb_note="--minibatch $minibatch --memory-budget $budget"
if "$HOPREC" train --help 2>&1 | grep -q -- '--minibatch'; then
  mb_opts=(--minibatch "$minibatch" --memory-budget "$budget")
else
  mb_note="full graph (this binary has no --minibatch; epoch cost is"
  mb_note+=" quadratic in the data, see the note below)"
fi

rows=()
for n in $sizes; do
  tag=$(label "$n")
  data=$store/ev$tag
  if [ ! -s "$data/train.txt" ]; then
    echo "generating $data" >&2
    nice -n 10 "$HOPREC" gen --out "$data" --interactions "$n" \
      >"$scratch/gen_$tag.log" 2>&1
  fi
  # Only train.txt: no validation or final full-ranking test, whose cost
  # (users x items) is not what this curve measures.
  train_dir=$scratch/train_$tag
  mkdir -p "$train_dir"
  ln -sf "$data/train.txt" "$train_dir/train.txt"
  report=$scratch/hognn_$tag.json
  rm -f "$report"
  echo "training on $tag ($mb_note)" >&2
  status=done
  timeout "$limit" nice -n 10 "$HOPREC" train --data "$train_dir" \
    --model hognn --dim 64 --layers 4 --epochs "$epochs" --eval-every 0 \
    --patience 0 --threads "$threads" "${mb_opts[@]}" \
    --report "$report" >"$scratch/hognn_$tag.log" 2>&1 || status=$?
  events=$(($(wc -l <"$data/events.csv") - 1))
  train=$(awk '{ n += NF - 1 } END { print n }' "$data/train.txt")
  if [ "$status" = done ] && [ -s "$report" ]; then
    q='"\(.seconds_per_epoch) \(.cpu_seconds_per_epoch) \(.peak_rss_bytes)"'
    read -r spe cpu rss < <(jq -r "$q" "$report")
    rows+=("$tag $events $train $spe $cpu $rss")
  elif [ "$status" = 124 ]; then
    rows+=("$tag $events $train stopped_after_${limit}s - -")
  else
    rows+=("$tag $events $train failed($status) - -")
  fi
done

# Least-squares slope of log(y) on log(x) over the finished rows.
slope() { # column of y (4: s/epoch, 6: RSS)
  printf '%s\n' "${rows[@]}" | awk -v c="$1" '
    $c ~ /^[0-9.e+-]+$/ && $c > 0 {
      x = log($3); y = log($c); n++; sx += x; sy += y; sxx += x * x
      sxy += x * y }
    END { if (n < 2) print "-"
          else printf "%.2f", (n * sxy - sx * sy) / (n * sxx - sx * sx) }'
}

{
  echo "# Training at scale"
  echo
  echo "hognn, dim 64, 4 layers, $threads threads, $epochs epoch(s) timed;"
  echo "training: $mb_note. Data: \`hoprec gen --interactions N\` (N"
  echo "events of every type; training interactions are the distinct"
  echo "(user, item) pairs of train.txt). $(nproc) cores, shared; load"
  echo "average $(cut -d' ' -f1 /proc/loadavg) at the end; $(date -u '+%Y-%m-%d %H:%M') UTC."
  echo
  echo "Command:"
  echo
  echo "    SIZES=\"$sizes\" EPOCHS=$epochs THREADS=$threads MINIBATCH=$minibatch MEMORY_BUDGET=$budget TIME_LIMIT=$limit benchmarks/studies/scale.sh"
  echo
  echo "| data | events | train interactions | s/epoch | CPU s/epoch | peak RSS MiB | RSS bytes/interaction |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    read -r tag ev tr spe cpu rss <<<"$r"
    if [ "$rss" = - ]; then
      echo "| $tag | $ev | $tr | $spe | - | - | - |"
    else
      awk -v t="$tag" -v e="$ev" -v x="$tr" -v s="$spe" -v c="$cpu" \
        -v m="$rss" 'BEGIN { printf "| %s | %s | %s | %.2f | %.2f | %.0f | %.0f |\n",
          t, e, x, s, c, m / 1048576, m / x }'
    fi
  done
  echo
  echo "Log-log slope against training interactions: seconds per epoch"
  echo "$(slope 4), peak RSS $(slope 6) (target for time: at most 1.1)."
  if [ ${#mb_opts[@]} -eq 0 ]; then
    echo
    echo "Note: full-graph training propagates the whole graph for every"
    echo "BPR batch, so an epoch costs (batches) x (graph) and grows with"
    echo "the square of the data; the slope above measures that, not the"
    echo "mini-batch trainer, which this binary lacks."
  fi
} >"$out"
echo "wrote $out" >&2
