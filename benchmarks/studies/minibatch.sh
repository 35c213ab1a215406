#!/usr/bin/env bash
# Subgraph mini-batches against full-graph training: NDCG@20 and
# Recall@20 on the validation split, epochs, wall seconds and peak RSS of
# lightgcn and hognn (dim 64) trained with --minibatch off, cluster and
# saint at the same settings, one run at a time so that wall times
# compare side by side.
#
#   benchmarks/studies/minibatch.sh [DATASET ...]     default: lastfm gowalla
#
# LastFM runs to early stopping (valid NDCG@20, patience 4 validations).
# Gowalla, where a full-graph epoch takes about half a minute even on an
# idle machine, gets a fixed wall-time budget per run instead
# (GOWALLA_SECONDS, default 420; the epoch that ends past it is the last
# and is validated). Environment (besides common.sh's): MODELS (default
# "lightgcn hognn"), METHODS (default "off cluster saint"; cluster-N is
# cluster mode with N parts instead of the default count). Rows without
# a report are left out of the table, so TABLES_ONLY=1 with more methods
# gathers runs made separately.
# Writes benchmarks/results/minibatch.md.
source "$(dirname "$0")/common.sh"

jobs=1
threads=${THREADS:-2}
models=${MODELS:-"lightgcn hognn"}
methods=${METHODS:-"off cluster saint"}
gowalla_seconds=${GOWALLA_SECONDS:-420}
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(lastfm gowalla)

# Options of one data set: the project's short LastFM schedule, and the
# fast Gowalla profile of benchmarks/train_table.sh under a time limit.
settings() {
  case "$1/$2" in
    gowalla/off) echo "--batch 4096 --lr 0.005 --epochs 200 --eval-every 2" \
      "--patience 0 --time-limit $gowalla_seconds" ;;
    gowalla/*) echo "--batch 4096 --lr 0.005 --epochs 2000 --eval-every 10" \
      "--patience 0 --time-limit $gowalla_seconds" ;;
    *) echo "--batch 8192 --lr 0.02 --lr-decay 0.97 --epochs 100" \
      "--eval-every 3 --patience 4" ;;
  esac
}

for set in "${sets[@]}"; do
  for model in $models; do
    for method in $methods; do
      mode=${method%%-*} parts=
      [ "$mode" = "$method" ] || parts="--clusters ${method#*-}"
      # shellcheck disable=SC2046,SC2086
      run "mb_${set}_${model}_${method}" "$set" --model "$model" --dim 64 \
        --layers 2 --l2 0.0001 --minibatch "$mode" $parts \
        $(settings "$set" "$mode")
    done
  done
done

command="benchmarks/studies/minibatch.sh ${sets[*]}"
{
  echo "# Subgraph mini-batches against full-graph training"
  echo
  echo "Command: \`$command\` (MODELS=\"$models\" METHODS=\"$methods\"" \
    "THREADS=$threads GOWALLA_SECONDS=$gowalla_seconds), under nice, one" \
    "run at a time on a shared two-core machine."
  echo
  echo "Validation split, all-item ranking with training items masked;" \
    "dim 64, 2 hops, L2 1e-4. LastFM: batch 8192, lr 0.02 decayed 3% per" \
    "epoch, early stop (patience 4 validations every 3 epochs). Gowalla:" \
    "batch 4096, lr 0.005, a budget of $gowalla_seconds wall seconds per" \
    "run. Cluster and saint take their parts, roots and steps from the" \
    "batch size (see the report's minibatch object); \`vs full\` is the" \
    "NDCG@20 ratio to full-graph training of the same model."
  echo
  echo "| data | model | method | NDCG@20 | Recall@20 | vs full | epochs |" \
    "best epoch | s/epoch | wall s | peak RSS MiB | steps/epoch | coverage |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for set in "${sets[@]}"; do
    for model in $models; do
      full=$(field "mb_${set}_${model}_off" '.valid["ndcg@20"]')
      for method in $methods; do
        n="mb_${set}_${model}_${method}"
        [ -s "$scratch/$n.json" ] || continue
        ndcg=$(field "$n" '.valid["ndcg@20"]')
        ratio=$(awk -v a="$ndcg" -v b="$full" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.3f", a / b }')
        rss=$(field "$n" '.peak_rss_bytes / 1048576 | floor')
        echo "| $set | $model | $method | $ndcg" \
          "| $(field "$n" '.valid["recall@20"]') | $ratio" \
          "| $(field "$n" .epochs_run) | $(field "$n" .best_epoch)" \
          "| $(field "$n" .seconds_per_epoch)" \
          "| $(field "$n" .wall_seconds) | $rss" \
          "| $(field "$n" .minibatch.steps_per_epoch)" \
          "| $(field "$n" .minibatch.epoch_coverage) |"
      done
    done
  done
} >"$results/minibatch.md"
echo "wrote $results/minibatch.md" >&2
