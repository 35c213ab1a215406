#!/usr/bin/env bash
# The developer's entry point, used by the README's two commands and CI.
#
#   deploy/dev.sh demo        install, build, make demo data, train, serve
#   deploy/dev.sh test        install, build (warnings as errors), test
#   deploy/dev.sh test-asan   the same suite under ASan + UBSan
#   deploy/dev.sh build       install and build only
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf '\n==> %s\n' "$*" >&2; }

# Configure dir with the given meson options, or reconfigure it when it
# exists already (so that a changed option takes effect).
configure() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

build() {
  say "installing what is missing (deploy/deps.sh)"
  bash deploy/deps.sh
  say "building into build/"
  configure build -Dbuildtype=release -Dwerror=true
  ninja -C build -j "$jobs" --quiet
}

run_tests() {
  local dir=$1
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" || rc=$?
  summarize "$dir/meson-logs/testlog.json"
  return $rc
}

# One closing line over every test case the suites ran (the TAP lines of
# each Criterion executable), e.g. "tests: 142 passed, 0 failed".
summarize() {
  local log=$1
  [ -f "$log" ] || return 0
  python3 - "$log" <<'PY'
import json, re, sys
passed = failed = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout") or ""
    ok = len(re.findall(r"^ok ", out, re.M))
    bad = len(re.findall(r"^not ok ", out, re.M))
    if ok + bad == 0:  # not a TAP test: count the test itself
        ok, bad = (1, 0) if t["result"] in ("OK", "SKIP") else (0, 1)
    passed += ok
    failed += bad
print(f"\ntests: {passed} passed, {failed} failed")
PY
}

# Generate a synthetic shop, train a model on it and serve it on
# HOPREC_DEMO_LISTEN (default 127.0.0.1:8080) until Ctrl-C.
demo() {
  local dir=demo listen=${HOPREC_DEMO_LISTEN:-127.0.0.1:8080}
  local bin=./build/hoprec
  mkdir -p "$dir"

  if [ ! -f "$dir/data/train.txt" ]; then
    say "generating a synthetic shop into $dir/data"
    "$bin" gen --out "$dir/data" --users 5000 --items 2000 --seed 42
  fi
  if [ ! -f "$dir/snapshot/manifest.json" ]; then
    say "training a model on it into $dir/snapshot"
    "$bin" train --data "$dir/data" --model lightgcn --layers 3 \
      --epochs 40 --lr 0.005 --eval-every 5 --patience 2 \
      --out "$dir/snapshot" --report "$dir/report.json"
  fi

  local user item
  user=$(sed -n 8p "$dir/data/users.txt")
  item=$(sed -n 3p "$dir/data/items.txt")
  cat <<EOT >&2

==> serving on http://$listen (Ctrl-C stops it). Try, from another shell:

  curl 'http://$listen/v1/users/$user/recommendations?k=5'
  curl 'http://$listen/v1/items/$item/related?k=5'
  curl -X POST http://$listen/v1/events -H 'Content-Type: application/json' \\
    -d '{"events":[{"user_id":"$user","item_id":"$item","type":"purchase"}]}'
  curl 'http://$listen/v1/users/$user/recommendations?k=5&exclude_seen=true'
  curl http://$listen/v1/model
  curl http://$listen/metrics

EOT
  exec "$bin" serve --snapshot "$dir/snapshot" --store "$dir/events.db" \
    --listen "$listen"
}

case "${1:-}" in
build)
  build
  ;;
test)
  build
  say "running the test suites"
  run_tests build
  ;;
test-asan)
  bash deploy/deps.sh
  say "building with AddressSanitizer + UndefinedBehaviorSanitizer"
  configure build-asan -Dbuildtype=debug -Dwerror=true \
    -Db_sanitize=address,undefined -Db_lundef=false
  ninja -C build-asan -j "$jobs"
  say "running the test suites under the sanitizers"
  run_tests build-asan
  ;;
demo)
  build
  demo
  ;;
*)
  echo "usage: deploy/dev.sh demo|test|test-asan|build" >&2
  exit 2
  ;;
esac
