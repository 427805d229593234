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

# '|' cannot occur in a host name or an e-mail address.
sed -e "s|smtp_smarthost: smtp.example.org:587|smtp_smarthost: ${smarthost}|" \
    -e "s|smtp_from: minitwit-alerts@example.org|smtp_from: ${from}|" \
    -e "s|smtp_auth_username: minitwit-alerts@example.org|smtp_auth_username: ${user}|" \
    -e "s|- to: ops@example.org|- to: ${to}|" \
    -e "s|smtp_require_tls: true|smtp_require_tls: ${require_tls}|" \
    "$src" >"$dst"

exec /bin/alertmanager --config.file="$dst" --storage.path=/alertmanager \
    --web.listen-address=:9093 --cluster.listen-address= "$@"
