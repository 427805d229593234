#!/usr/bin/env bash
# Let ufw follow the SSH sources of the DigitalOcean cloud firewall, so an
# address the firewall admits for a while (the deploy workflow adds its
# runner's address for the length of a job, then removes it) is admitted by the
# host too, and dropped again when the firewall drops it.
#
# ufw keeps its static rules (base.sh: SSH from ssh_allowed_cidrs and the VPC);
# this script only adds and removes rules of its own, listed in its state file.
# It never opens SSH to everyone (a /0 source is ignored), and when the API
# cannot be asked it keeps its rules for at most SSH_SYNC_MAX_AGE seconds, then
# removes them (fail closed). base.sh installs it with a systemd timer that
# runs it every 10 s on the managers, when terraform has a firewall_read_token.
#
# Environment (base.sh writes it to /etc/minitwit/ssh-allow-sync.env, 0600):
#   SSH_SYNC_FIREWALL_ID  id of the cloud firewall (terraform: firewall_id)
#   SSH_SYNC_TOKEN        DigitalOcean API token that can read it (scope firewall:read)
#   SSH_SYNC_STATIC       CIDRs ufw allows statically; never added or removed here
#   SSH_SYNC_API          API base URL (default https://api.digitalocean.com/v2)
#   SSH_SYNC_STATE        its rules, "CIDR ADDED_EPOCH" a line
#                         (default /var/lib/minitwit/ssh-allow-sync)
#   SSH_SYNC_MAX_AGE      default 3600
set -euo pipefail

env_file="${SSH_SYNC_ENV_FILE:-/etc/minitwit/ssh-allow-sync.env}"
if [ -r "$env_file" ]; then
  # shellcheck source=/dev/null
  . "$env_file"
fi
: "${SSH_SYNC_FIREWALL_ID:?SSH_SYNC_FIREWALL_ID is not set}"
: "${SSH_SYNC_TOKEN:?SSH_SYNC_TOKEN is not set}"
api="${SSH_SYNC_API:-https://api.digitalocean.com/v2}"
state="${SSH_SYNC_STATE:-/var/lib/minitwit/ssh-allow-sync}"
max_age="${SSH_SYNC_MAX_AGE:-3600}"
comment='ssh (cloud firewall, temporary)'

log() { printf '[ssh-allow-sync] %s\n' "$*"; }

# CIDR with an explicit prefix; empty for anything that is not an address.
normalize() {
  local a="$1"
  if [[ "$a" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; then
    a="$a/32"
  elif [[ "$a" =~ ^[0-9a-fA-F:]+$ ]] && [[ "$a" == *:* ]]; then
    a="$a/128"
  fi
  if [[ "$a" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || [[ "$a" =~ ^[0-9a-fA-F:]+/[0-9]{1,3}$ ]]; then
    printf '%s\n' "$a"
  fi
}

mkdir -p "$(dirname "$state")"
touch "$state"
now=$(date +%s)

static=" "
for c in ${SSH_SYNC_STATIC//,/ }; do
  static+="$(normalize "$c") "
done

want=()
if json=$(curl -fsS --max-time 10 -H "Authorization: Bearer $SSH_SYNC_TOKEN" \
  "$api/firewalls/$SSH_SYNC_FIREWALL_ID") &&
  jq -e '.firewall.inbound_rules | type == "array"' <<<"$json" >/dev/null 2>&1; then
  # sources of every TCP rule that covers port 22
  sources=$(jq -r '.firewall.inbound_rules[]
      | select(.protocol == "tcp")
      | select(.ports == "22" or .ports == "all" or .ports == "0"
               or ((.ports | test("^[0-9]+-[0-9]+$"))
                   and ((.ports | split("-") | map(tonumber)) as [$lo, $hi] | $lo <= 22 and 22 <= $hi)))
      | (.sources.addresses // [])[]' <<<"$json" | sort -u)
  while read -r a; do
    [ -n "$a" ] || continue
    c=$(normalize "$a")
    if [ -z "$c" ]; then
      log "ignoring source '$a'"
      continue
    fi
    case "$c" in
      */0) log "ignoring $c: never SSH from everywhere"; continue ;;
    esac
    case "$static" in *" $c "*) continue ;; esac
    want+=("$c")
  done <<<"$sources"
else
  log "cannot read cloud firewall $SSH_SYNC_FIREWALL_ID; keeping rules younger than ${max_age}s" >&2
  while read -r c added; do
    [ -n "$c" ] || continue
    if [ $((now - added)) -lt "$max_age" ]; then want+=("$c"); fi
  done <"$state"
fi

wanted=" ${want[*]} "
: >"$state.new"
# drop what is no longer wanted, keep the rest with its age
while read -r c added; do
  [ -n "$c" ] || continue
  case "$wanted" in
    *" $c "*) printf '%s %s\n' "$c" "$added" >>"$state.new" ;;
    *)
      log "removing SSH from $c"
      ufw delete allow from "$c" to any port 22 proto tcp >/dev/null || log "ufw could not delete the rule for $c" >&2
      ;;
  esac
done <"$state"
# add what is new
for c in "${want[@]}"; do
  if ! awk -v c="$c" '$1 == c { found = 1 } END { exit !found }' "$state.new"; then
    log "allowing SSH from $c"
    ufw allow from "$c" to any port 22 proto tcp comment "$comment" >/dev/null
    printf '%s %s\n' "$c" "$now" >>"$state.new"
  fi
done
mv "$state.new" "$state"
