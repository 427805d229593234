#!/bin/sh
# Starts Alertmanager with the addresses of this deployment: Alertmanager does
# not expand environment variables in its configuration, so the placeholders of
# alertmanager.yml are replaced here, into a private copy.
set -eu

src="${ALERTMANAGER_CONFIG_TEMPLATE:-/etc/alertmanager/alertmanager.yml}"
dst="${ALERTMANAGER_CONFIG:-/alertmanager/alertmanager.yml}"

smarthost="${ALERT_SMTP_SMARTHOST:-smtp.example.org:587}"
from="${ALERT_EMAIL_FROM:-minitwit-alerts@example.org}"
user="${ALERT_SMTP_USERNAME:-$from}"
to="${ALERT_EMAIL_TO:-ops@example.org}"
# false only for a relay on a private network that offers no STARTTLS
require_tls="${ALERT_SMTP_REQUIRE_TLS:-true}"
case "$require_tls" in
    true | false) ;;
    *) echo "ALERT_SMTP_REQUIRE_TLS must be true or false, not '$require_tls'" >&2; exit 1 ;;
esac

# A CA bundle for a relay behind a private CA (the system's otherwise).
ca_file="${ALERT_SMTP_CA_FILE:-}"
tls_config=""
if [ -n "$ca_file" ]; then
    [ -r "$ca_file" ] || { echo "ALERT_SMTP_CA_FILE points at $ca_file, which is not readable" >&2; exit 1; }
    tls_config="tls_config: {ca_file: '$ca_file'}"
fi
# The dead man's switch: pings to a heartbeat monitor every 5 minutes, else a daily mail.
heartbeat="${ALERT_HEARTBEAT_URL:-}"
case "$heartbeat" in
    "" | http://* | https://*) ;;
    *) echo "ALERT_HEARTBEAT_URL must be an http:// or https:// URL, not '$heartbeat'" >&2; exit 1 ;;
esac

# '|' cannot occur in a host name, an e-mail address or a path we accept.
sed -e "s|smtp_smarthost: smtp.example.org:587|smtp_smarthost: ${smarthost}|" \
    -e "s|smtp_from: minitwit-alerts@example.org|smtp_from: ${from}|" \
    -e "s|smtp_auth_username: minitwit-alerts@example.org|smtp_auth_username: ${user}|" \
    -e "s|- to: ops@example.org|- to: ${to}|" \
    -e "s|smtp_require_tls: true|smtp_require_tls: ${require_tls}|" \
    -e "s|# (tls_config: entrypoint.sh, from ALERT_SMTP_CA_FILE)|${tls_config}|" \
    "$src" >"$dst"
if [ -n "$heartbeat" ]; then
    sed -i -e "s|repeat_interval: 24h$|repeat_interval: 5m|" "$dst"
    printf '  - name: heartbeat\n    webhook_configs:\n      - url: %s\n        send_resolved: false\n' \
        "'$heartbeat'" >>"$dst"
else
    printf '  - name: heartbeat\n    email_configs:\n      - to: %s\n        send_resolved: false\n        %s\n' \
        "$to" "$tls_config" >>"$dst"
fi

# (ALERTMANAGER_RENDER_ONLY=1: only write the configuration, for deploy/lint.sh)
[ "${ALERTMANAGER_RENDER_ONLY:-0}" = 1 ] && exit 0
exec /bin/alertmanager --config.file="$dst" --storage.path=/alertmanager \
    --web.listen-address=:9093 --cluster.listen-address= "$@"
