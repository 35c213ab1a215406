# One Markdown row of benchmarks/train_table.sh from a `hoprec train`
# report. Arguments: $set (data set), $pr and $pn (published recall@20
# and ndcg@20, or "-").
def f: if . == null then "-" else (. * 10000 | round / 10000 | tostring) end;
def s: if . == null then "-" else (. * 100 | round / 100 | tostring) end;

# Wall seconds until the tracked test recall@20 (valid where there is no
# test split, as for Gowalla) first reached 97% of the published figure,
# minus the time spent scoring test itself.
def reach:
  (if .test then "test" else "valid" end) as $split
  | if $pr == "-" then null
  else ($pr | tonumber * 0.97) as $goal
    | [foreach (.history // [])[] as $h ({t: 0, hit: null};
        .t += ($h.test.seconds // 0)
        | .hit = (if .hit == null
                     and ($h[$split]["recall@20"] // 0) >= $goal
                  then $h.wall_seconds - .t else .hit end);
        .hit)]
    | map(select(. != null)) | first
  end;

if .failed then "| \($set) | \(.model) | failed |||||||||||"
else (if .test then ["test", .test] else ["valid", .valid] end) as [$split, $m]
  | "| \($set) | \(.model) | \($split) | \($m["recall@20"] | f) | "
    + "\($m["ndcg@20"] | f) | \($pr) / \($pn) | \($m["hit@10"] | f) | "
    + "\($m["mrr@10"] | f) | \(.epochs_run) | \(.seconds_per_epoch | s) | "
    + "\(.train_seconds | s) | \(.seconds_to_best | s) | \(reach | s) | "
    + "\(.peak_rss_bytes / 1048576 | round) |"
end
