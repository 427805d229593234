#!/usr/bin/env bash
# Prints `export <SERVICE>_CONFIG_VERSION=<hash>` for every group of config files
# that docker-stack.yml turns into swarm config objects. Config objects are
# immutable, so their names carry these versions; a hash of the files means a
# service gets new configs (and is restarted) only when its own files changed.
#
#   eval "$(deploy/config-versions.sh)"
#   docker stack deploy --with-registry-auth -c docker-stack.yml minitwit
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

version_of() {
    # content and name of every file, in a stable order
    local f
    for f in "$@"; do
        printf '%s\n' "$f"
        cat "$f"
    done | sha256sum | cut -c1-12
}

emit() {
    local name="$1"; shift
    printf 'export %s_CONFIG_VERSION=%s\n' "$name" "$(version_of "$@")"
}

emit POSTGRES deploy/postgres/entrypoint.sh deploy/postgres/init-databases.sh deploy/postgres/pg_hba.conf
emit NGINX deploy/nginx/nginx.conf deploy/nginx/entrypoint.sh deploy/nginx/minitwit/*.conf
emit CERTBOT deploy/certbot/certbot.sh
emit BLACKBOX deploy/blackbox/blackbox.yml
emit PROMETHEUS deploy/prometheus/prometheus.yml deploy/prometheus/alerts.yml
emit ALERTMANAGER deploy/alertmanager/alertmanager.yml deploy/alertmanager/entrypoint.sh
emit GRAFANA deploy/grafana/provisioning/datasources/*.yml deploy/grafana/provisioning/dashboards/*.yml \
    deploy/grafana/dashboards/*.json
emit LOKI deploy/loki/loki.yml
emit ALLOY deploy/alloy/config.alloy
