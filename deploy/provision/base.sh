#!/usr/bin/env bash
# Base provisioning for every swarm node, in the cloud (cloud-init, see
# terraform/templates/cloud-init.yaml.tftpl) and in local staging (Vagrantfile).
#
# - Docker Engine, Debian's docker.io (what the cluster test runs), with log
#   rotation as the default for every container (a disk filled by logs must not happen again).
# - The host firewall (ufw) with the same rules as the DigitalOcean cloud
#   firewall, and actually enabled.
# - Optionally a deploy user in the docker group for CI deployments, and
#   /etc/minitwit (group docker) for the deploy settings and the registry pull
#   credential that deploy/scripts/deploy.sh reads.
# - Optionally (managers, SSH_SYNC_*): a timer that lets ufw follow the cloud
#   firewall's temporary SSH sources (ssh-allow-sync.sh), so the CI runner
#   that the deploy workflow admits in the cloud firewall is admitted here too.
#
# Idempotent: safe to run again (vagrant provision, cloud-init re-runs).
#
# Environment:
#   SSH_CIDRS      space or comma separated CIDRs allowed to reach port 22 (required);
#                  "any" allows every address, rate limited (cloud firewall restricts)
#   SWARM_CIDR     private network CIDR allowed to reach the swarm ports (required)
#   DEPLOY_USER    optional user to create and add to the docker group
#   DEPLOY_SSH_KEYS optional public key line(s) authorised for DEPLOY_USER
#   DOCKER_LOG_MAX_SIZE (default 10m), DOCKER_LOG_MAX_FILE (default 5)
#   SSH_SYNC_FIREWALL_ID, SSH_SYNC_TOKEN  optional: cloud firewall id and a
#                  read-only DigitalOcean token for ssh-allow-sync.sh (beside this script)
set -euo pipefail

: "${SSH_CIDRS:?SSH_CIDRS must list the CIDRs allowed to use SSH}"
: "${SWARM_CIDR:?SWARM_CIDR must be the private network CIDR}"
DEPLOY_USER="${DEPLOY_USER:-}"
DEPLOY_SSH_KEYS="${DEPLOY_SSH_KEYS:-}"
DOCKER_LOG_MAX_SIZE="${DOCKER_LOG_MAX_SIZE:-10m}"
DOCKER_LOG_MAX_FILE="${DOCKER_LOG_MAX_FILE:-5}"
SSH_SYNC_FIREWALL_ID="${SSH_SYNC_FIREWALL_ID:-}"
SSH_SYNC_TOKEN="${SSH_SYNC_TOKEN:-}"
SSH_SYNC_STATE=/var/lib/minitwit/ssh-allow-sync
here="$(cd "$(dirname "$0")" && pwd)"

export DEBIAN_FRONTEND=noninteractive

log() { printf '[base] %s\n' "$*"; }

apt_install() {
  apt-get install -y -q --no-install-recommends "$@"
}

# The engine is Debian's own docker.io (20.10 on bookworm), the engine the cluster
# test (tests/cluster/) runs its four nodes on, so production runs what is tested.
# Docker's own docker-ce would be newer, and untested here: the gap is features
# of newer engines (none of which the stack uses) against Debian's security
# updates of 20.10. A swarm must not mix engines of different major versions for
# long: upgrade node by node (deploy/README.md, "Add a node").
install_docker() {
  if command -v docker >/dev/null 2>&1; then
    log "docker already installed: $(docker --version)"
    return
  fi
  log "installing Debian's docker.io"
  apt-get update -q
  apt_install ca-certificates curl docker.io
}

configure_docker() {
  # Default log rotation for every container; docker-stack.yml also sets it
  # per service, this is the safety net for anything started by hand.
  # No "live-restore": it is incompatible with swarm mode.
  install -m 0755 -d /etc/docker
  local want
  want=$(
    cat <<EOF
{
  "log-driver": "json-file",
  "log-opts": { "max-size": "${DOCKER_LOG_MAX_SIZE}", "max-file": "${DOCKER_LOG_MAX_FILE}" }
}
EOF
  )
  if [ ! -f /etc/docker/daemon.json ] || [ "$(cat /etc/docker/daemon.json)" != "$want" ]; then
    printf '%s\n' "$want" >/etc/docker/daemon.json
    systemctl restart docker
  fi
  systemctl enable --now docker
}

configure_ufw() {
  log "configuring ufw (same rules as the cloud firewall)"
  # Start from a clean rule set so a removed SSH CIDR really is removed
  # (and so are the rules ssh-allow-sync.sh had added: forget them too).
  ufw --force reset >/dev/null
  rm -f "$SSH_SYNC_STATE"
  ufw default deny incoming
  ufw default allow outgoing
  ufw allow 80/tcp comment 'http'
  ufw allow 443/tcp comment 'https'
  local cidr
  for cidr in ${SSH_CIDRS//,/ }; do
    if [ "$cidr" = "any" ]; then
      # Source restricted by the cloud firewall only (terraform
      # host_ssh_from_anywhere); ufw still rate-limits new connections.
      ufw limit 22/tcp comment 'ssh (rate limited)'
    else
      ufw allow from "$cidr" to any port 22 proto tcp comment 'ssh'
    fi
  done
  # The first manager hands out swarm join tokens over SSH inside the private network.
  ufw allow from "$SWARM_CIDR" to any port 22 proto tcp comment 'ssh (swarm join token)'
  # Swarm: cluster management, node gossip, overlay (VXLAN) traffic; private network only.
  ufw allow from "$SWARM_CIDR" to any port 2377 proto tcp comment 'swarm manager'
  ufw allow from "$SWARM_CIDR" to any port 7946 proto tcp comment 'swarm gossip'
  ufw allow from "$SWARM_CIDR" to any port 7946 proto udp comment 'swarm gossip'
  ufw allow from "$SWARM_CIDR" to any port 4789 proto udp comment 'swarm overlay'
  ufw --force enable
  ufw status verbose
}

configure_sshd() {
  # Keys only. Root keeps key-only login (the DigitalOcean default).
  install -m 0755 -d /etc/ssh/sshd_config.d
  printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n' >/etc/ssh/sshd_config.d/10-minitwit.conf
  if sshd -t; then
    systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || true
  fi
}

configure_deploy_user() {
  [ -n "$DEPLOY_USER" ] || return 0
  if ! id "$DEPLOY_USER" >/dev/null 2>&1; then
    log "creating deploy user $DEPLOY_USER"
    useradd --create-home --shell /bin/bash "$DEPLOY_USER"
  fi
  usermod -aG docker "$DEPLOY_USER"
  if [ -n "$DEPLOY_SSH_KEYS" ]; then
    local home
    home=$(getent passwd "$DEPLOY_USER" | cut -d: -f6)
    install -d -m 0700 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$home/.ssh"
    printf '%s\n' "$DEPLOY_SSH_KEYS" >"$home/.ssh/authorized_keys"
    chown "$DEPLOY_USER:$DEPLOY_USER" "$home/.ssh/authorized_keys"
    chmod 0600 "$home/.ssh/authorized_keys"
  fi
}

configure_minitwit_etc() {
  # Deploy settings (minitwit.env) and the registry pull credential (docker/,
  # `DOCKER_CONFIG=/etc/minitwit/docker docker login`), readable by the docker
  # group: the deploy user and the operators (deploy/README.md).
  install -d -m 0750 -o root -g docker /etc/minitwit /etc/minitwit/docker
}

configure_ssh_sync() {
  local unit=/etc/systemd/system/minitwit-ssh-allow-sync
  if [ -z "$SSH_SYNC_FIREWALL_ID" ] || [ -z "$SSH_SYNC_TOKEN" ]; then
    if [ -f "$unit.timer" ]; then
      log "removing the ssh-allow-sync timer (no SSH_SYNC_FIREWALL_ID / SSH_SYNC_TOKEN)"
      systemctl disable --now minitwit-ssh-allow-sync.timer 2>/dev/null || true
      rm -f "$unit.timer" "$unit.service" /etc/minitwit/ssh-allow-sync.env
      systemctl daemon-reload
    fi
    return 0
  fi
  log "installing the ssh-allow-sync timer (ufw follows cloud firewall $SSH_SYNC_FIREWALL_ID)"
  install -m 0755 "$here/ssh-allow-sync.sh" /usr/local/sbin/minitwit-ssh-allow-sync
  (
    umask 077
    printf 'SSH_SYNC_FIREWALL_ID=%q\nSSH_SYNC_TOKEN=%q\nSSH_SYNC_STATIC=%q\nSSH_SYNC_STATE=%q\n' \
      "$SSH_SYNC_FIREWALL_ID" "$SSH_SYNC_TOKEN" "${SSH_CIDRS//,/ } $SWARM_CIDR" "$SSH_SYNC_STATE" \
      >/etc/minitwit/ssh-allow-sync.env
  )
  cat >"$unit.service" <<'UNIT'
[Unit]
Description=Let ufw follow the cloud firewall's SSH sources (MiniTwit deploys)
After=network-online.target ufw.service
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/minitwit-ssh-allow-sync
UNIT
  cat >"$unit.timer" <<'UNIT'
[Unit]
Description=Run minitwit-ssh-allow-sync every 10 seconds

[Timer]
OnBootSec=20s
OnUnitActiveSec=10s
AccuracySec=1s

[Install]
WantedBy=timers.target
UNIT
  systemctl daemon-reload
  systemctl enable --now minitwit-ssh-allow-sync.timer
}

apt-get update -q
install_docker
configure_docker
apt_install ufw unattended-upgrades jq curl
configure_ufw
configure_sshd
configure_deploy_user
configure_minitwit_etc
configure_ssh_sync
log "done"
