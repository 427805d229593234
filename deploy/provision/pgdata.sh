#!/usr/bin/env bash
# Storage for PostgreSQL on the database node (the node labelled db=true).
#
# In the cloud, PGDATA_DEVICE is the DigitalOcean block volume: it is formatted
# (only when it holds no file system yet, so data survives a re-provision or a
# replaced droplet), mounted at PGDATA_MOUNT through /etc/fstab by UUID, and
# survives the droplet. In local staging (Vagrant) PGDATA_DEVICE is empty and
# PGDATA_MOUNT is a plain directory on the VM's disk.
#
# Either way the stack finds its data directory at $PGDATA_MOUNT/postgres,
# owned by the postgres user of the official image (uid/gid 999).
#
# Environment:
#   PGDATA_MOUNT          mount point (default /mnt/pgdata)
#   PGDATA_DEVICE         block device to mount there (optional)
#   PGDATA_FSTYPE         file system for a blank device (default ext4)
#   PGDATA_WAIT_SECONDS   how long to wait for the device to appear (default 300)
#   PGDATA_OWNER          uid:gid of the data directory (default 999:999)
set -euo pipefail

PGDATA_MOUNT="${PGDATA_MOUNT:-/mnt/pgdata}"
PGDATA_DEVICE="${PGDATA_DEVICE:-}"
PGDATA_FSTYPE="${PGDATA_FSTYPE:-ext4}"
PGDATA_WAIT_SECONDS="${PGDATA_WAIT_SECONDS:-300}"
PGDATA_OWNER="${PGDATA_OWNER:-999:999}"

log() { printf '[pgdata] %s\n' "$*"; }

mount_device() {
  local waited=0
  while [ ! -b "$PGDATA_DEVICE" ]; do
    if [ "$waited" -ge "$PGDATA_WAIT_SECONDS" ]; then
      log "block device $PGDATA_DEVICE did not appear within ${PGDATA_WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 5
    waited=$((waited + 5))
  done

  # Format only a device that provably holds nothing: blkid's low-level probe
  # exits 2 when it finds no signature at all; any other error stops here.
  local probe=0
  blkid -p "$PGDATA_DEVICE" >/dev/null 2>&1 || probe=$?
  case "$probe" in
    0) ;;
    2)
      log "formatting blank volume $PGDATA_DEVICE as $PGDATA_FSTYPE"
      mkfs -t "$PGDATA_FSTYPE" -L pgdata "$PGDATA_DEVICE"
      ;;
    *)
      log "blkid could not probe $PGDATA_DEVICE (exit $probe); refusing to format" >&2
      exit 1
      ;;
  esac

  local uuid fstype
  uuid=$(blkid -o value -s UUID "$PGDATA_DEVICE")
  fstype=$(blkid -o value -s TYPE "$PGDATA_DEVICE")
  install -d -m 0755 "$PGDATA_MOUNT"
  if ! grep -q "UUID=$uuid" /etc/fstab; then
    # nofail: the droplet still boots (and stays reachable) if the volume is detached.
    printf 'UUID=%s %s %s defaults,nofail,noatime,discard 0 2\n' "$uuid" "$PGDATA_MOUNT" "$fstype" >>/etc/fstab
    systemctl daemon-reload 2>/dev/null || true
  fi
  if ! mountpoint -q "$PGDATA_MOUNT"; then
    mount "$PGDATA_MOUNT"
  fi
  log "mounted $PGDATA_DEVICE at $PGDATA_MOUNT"
}

if [ -n "$PGDATA_DEVICE" ]; then
  mount_device
else
  log "no PGDATA_DEVICE: using a directory on the root disk (local staging)"
  install -d -m 0755 "$PGDATA_MOUNT"
fi

install -d -m 0700 -o "${PGDATA_OWNER%%:*}" -g "${PGDATA_OWNER##*:}" "$PGDATA_MOUNT/postgres"
log "data directory: $PGDATA_MOUNT/postgres"
