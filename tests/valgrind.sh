#!/bin/sh
# The exe_wrapper of `meson test --setup=valgrind`: run a test program
# under memcheck, following the worker processes Criterion starts for each
# test, and fail when any process reported a memory error or a definite
# leak. Criterion does not pass a worker's exit status on, so each
# process's report is read back from its log instead.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d "${TMPDIR:-/tmp}/hoprec-valgrind-XXXXXX")

valgrind --quiet --log-file="$logs/vg.%p" --error-exitcode=1 \
  --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --trace-children=yes \
  --trace-children-skip='*/promtool,*/python3*,*/sh,*/bash' \
  --suppressions="$here/valgrind.supp" "$@"
status=$?

# --quiet leaves a log empty unless something was reported.
for log in "$logs"/vg.*; do
  if [ -s "$log" ]; then
    cat "$log" >&2
    status=1
  fi
done
rm -rf "$logs"
exit $status
