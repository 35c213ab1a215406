# Shell functions shared by the HTTP benchmark scripts (sourced, not run).
#
#   serve_start LOG ARGS...   start "$bin serve --listen 127.0.0.1:0 ARGS"
#                             with stderr to LOG; sets serve_pid, serve_url
#   serve_stop                SIGTERM it and wait
#
# $bin must name the hoprec binary.

serve_start() {
  local log=$1 port=
  shift
  "$bin" serve --listen 127.0.0.1:0 --log-level warn "$@" 2>"$log" &
  serve_pid=$!

  # --log-level warn hides the "listening" line; find the port from /proc.
  for _ in $(seq 1 1200); do
    port=$(ss -Htlnp 2>/dev/null | awk -v p="pid=$serve_pid," \
      'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
    [ -n "$port" ] && break
    if ! kill -0 "$serve_pid" 2>/dev/null; then
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "the server did not start; see $log" >&2
    return 1
  fi
  serve_url=http://127.0.0.1:$port
  curl -fsS "$serve_url/readyz" >/dev/null
}

serve_stop() {
  [ -n "${serve_pid:-}" ] || return 0
  kill -TERM "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
}
