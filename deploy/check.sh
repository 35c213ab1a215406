#!/usr/bin/env bash
# Checks the deployment files: every Kubernetes manifest and YAML file
# parses, the Prometheus configuration and alert rules pass promtool, the
# Grafana dashboard is valid JSON. With a URL argument it also checks a
# live /metrics page with `promtool check metrics`.
#
#   deploy/check.sh [http://127.0.0.1:8080]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/deploy"

need=()
command -v promtool >/dev/null || need+=(prometheus)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
if [ ${#need[@]} -gt 0 ]; then
  echo "check: installing ${need[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

/usr/bin/python3 - k8s/*.yaml prometheus/*.yml <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if path.startswith("k8s/"):
            for key in ("apiVersion", "kind", "metadata"):
                if key not in d:
                    sys.exit(f"{path}: a document lacks {key}")
    print(f"check: {path}: {len(docs)} document(s) parse")
PY
/usr/bin/python3 -m json.tool grafana/hoprec-dashboard.json >/dev/null
echo "check: grafana/hoprec-dashboard.json is valid JSON"
promtool check config prometheus/prometheus.yml
promtool check rules prometheus/hoprec-rules.yml

if [ $# -gt 0 ]; then
  metrics=$(curl -fsS "$1/metrics")
  printf '%s\n' "$metrics" | promtool check metrics
  echo "check: $1/metrics passes promtool check metrics"

  # Every series the alerts and the dashboard use must be exported.
  missing=0
  for name in $(grep -oh 'hoprec_[a-z0-9_]*' prometheus/*.yml \
    grafana/*.json | sed 's/_bucket$//' | sort -u); do
    if ! printf '%s\n' "$metrics" | grep -q "^# TYPE $name "; then
      echo "check: $name is used by an alert or panel but not exported" >&2
      missing=1
    fi
  done
  [ "$missing" -eq 0 ] || exit 1
  echo "check: every series the alerts and the dashboard use is exported"
fi
