locals {
  name = "minitwit-${var.environment}"

  # The provisioning scripts are shared with the Vagrantfile: cloud-init only
  # copies them onto the droplet and runs them with the right environment.
  provision_dir     = "${path.module}/../deploy/provision"
  provision_scripts = { for f in ["base.sh", "pgdata.sh", "swarm-init.sh", "swarm-join.sh", "ssh-allow-sync.sh"] : f => filebase64("${local.provision_dir}/${f}") }

  # With more than one manager the roles are spread: db on the first manager,
  # edge and monitoring (and the reserved IP) on the second.
  spread_roles = var.manager_count > 1

  # How DigitalOcean exposes an attached volume to the droplet.
  pgdata_device = "/dev/disk/by-id/scsi-0DO_Volume_${digitalocean_volume.pgdata.name}"

  common_env = {
    ssh_cidrs       = var.host_ssh_from_anywhere ? "any" : join(" ", var.ssh_allowed_cidrs)
    swarm_cidr      = var.vpc_ip_range
    deploy_user     = var.deploy_user
    deploy_ssh_keys = join("\n", var.deploy_ssh_public_keys)
  }

  # Managers (where CI connects) let ufw follow the cloud firewall's SSH
  # sources when ufw does not already admit everyone and a token can read it.
  ssh_sync = !var.host_ssh_from_anywhere && var.firewall_read_token != ""
  manager_env = merge(local.common_env, {
    ssh_sync_firewall_id = local.ssh_sync ? digitalocean_firewall.swarm.id : ""
    ssh_sync_token       = local.ssh_sync ? var.firewall_read_token : ""
  })
  worker_env = merge(local.common_env, {
    ssh_sync_firewall_id = ""
    ssh_sync_token       = ""
  })
}

resource "digitalocean_vpc" "main" {
  name        = local.name
  region      = var.region
  ip_range    = var.vpc_ip_range
  description = "MiniTwit ${var.environment} swarm"
}

resource "digitalocean_tag" "cluster" {
  name = local.name
}

resource "digitalocean_tag" "manager" {
  name = "${local.name}-manager"
}

resource "digitalocean_tag" "worker" {
  name = "${local.name}-worker"
}

# Swarm join: the first manager authorises this key with a forced command that
# can only print a join token, from inside the VPC only; the other nodes fetch
# their token over SSH at boot. See deploy/provision/swarm-init.sh.
resource "tls_private_key" "swarm_join" {
  algorithm = "ED25519"
}

# ---------------------------------------------------------------------------
# PostgreSQL storage: a block volume that outlives any droplet.
# ---------------------------------------------------------------------------

resource "digitalocean_volume" "pgdata" {
  name        = "${local.name}-pgdata"
  region      = var.region
  size        = var.pgdata_volume_size_gb
  description = "PostgreSQL data of MiniTwit ${var.environment}"
  tags        = [digitalocean_tag.cluster.id]

  lifecycle {
    # The databases live here. Remove this guard on purpose, never by accident.
    prevent_destroy = true
  }
}

# ---------------------------------------------------------------------------
# Droplets: the first manager (swarm init, db=true, volume), further managers
# (the second: edge=true monitoring=true and the reserved IP), and workers.
# With one manager, it carries all three roles. The layout is the cluster
# test's (tests/cluster/README.md): losing the database's node, the edge node or
# a bare node each costs only what it carries (deploy/README.md, "Single points
# of failure").
# ---------------------------------------------------------------------------

resource "digitalocean_droplet" "leader" {
  name       = "${local.name}-manager-1"
  region     = var.region
  size       = var.manager_size
  image      = var.image
  vpc_uuid   = digitalocean_vpc.main.id
  ssh_keys   = var.ssh_key_fingerprints
  monitoring = var.monitoring
  volume_ids = [digitalocean_volume.pgdata.id]
  tags       = [digitalocean_tag.cluster.id, digitalocean_tag.manager.id]

  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    scripts              = local.provision_scripts
    join_ssh_private_key = ""
    run_script = templatefile("${path.module}/templates/provision.sh.tftpl", merge(local.manager_env, {
      role                 = "leader"
      pgdata_device        = local.pgdata_device
      node_labels          = local.spread_roles ? "db=true" : "db=true edge=true monitoring=true"
      join_ssh_public_key  = trimspace(tls_private_key.swarm_join.public_key_openssh)
      manager_join_allowed = var.manager_count > 1 ? "true" : "false"
      manager_addr         = ""
    }))
  })

  lifecycle {
    # cloud-init runs once, at first boot; a changed script must not replace
    # the database node. Re-provision on purpose with `terraform apply -replace`.
    ignore_changes = [user_data, image, ssh_keys]
  }
}

resource "digitalocean_droplet" "manager" {
  count = var.manager_count - 1

  name       = "${local.name}-manager-${count.index + 2}"
  region     = var.region
  size       = var.manager_size
  image      = var.image
  vpc_uuid   = digitalocean_vpc.main.id
  ssh_keys   = var.ssh_key_fingerprints
  monitoring = var.monitoring
  tags       = [digitalocean_tag.cluster.id, digitalocean_tag.manager.id]

  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    scripts              = local.provision_scripts
    join_ssh_private_key = tls_private_key.swarm_join.private_key_openssh
    run_script = templatefile("${path.module}/templates/provision.sh.tftpl", merge(local.manager_env, {
      role                 = "manager"
      pgdata_device        = ""
      node_labels          = count.index == 0 ? "edge=true monitoring=true" : ""
      join_ssh_public_key  = ""
      manager_join_allowed = "false"
      manager_addr         = digitalocean_droplet.leader.ipv4_address_private
    }))
  })

  lifecycle {
    ignore_changes = [user_data, image, ssh_keys]
  }
}

resource "digitalocean_droplet" "worker" {
  count = var.worker_count

  name       = "${local.name}-worker-${count.index + 1}"
  region     = var.region
  size       = var.worker_size
  image      = var.image
  vpc_uuid   = digitalocean_vpc.main.id
  ssh_keys   = var.ssh_key_fingerprints
  monitoring = var.monitoring
  tags       = [digitalocean_tag.cluster.id, digitalocean_tag.worker.id]

  user_data = templatefile("${path.module}/templates/cloud-init.yaml.tftpl", {
    scripts              = local.provision_scripts
    join_ssh_private_key = tls_private_key.swarm_join.private_key_openssh
    run_script = templatefile("${path.module}/templates/provision.sh.tftpl", merge(local.worker_env, {
      role                 = "worker"
      pgdata_device        = ""
      node_labels          = ""
      join_ssh_public_key  = ""
      manager_join_allowed = "false"
      manager_addr         = digitalocean_droplet.leader.ipv4_address_private
    }))
  })

  lifecycle {
    ignore_changes = [user_data, image, ssh_keys]
  }
}

# ---------------------------------------------------------------------------
# Public entry point: a reserved IP on the edge node (the second manager, or
# the only one). nginx publishes 80/443 in host mode, so only the node it runs
# on answers: DNS points at the reserved IP, which survives a replaced droplet
# and can be moved to a new edge node (deploy/README.md, "A node lost").
# ---------------------------------------------------------------------------

resource "digitalocean_reserved_ip" "public" {
  region = var.region
}

resource "digitalocean_reserved_ip_assignment" "public" {
  ip_address = digitalocean_reserved_ip.public.ip_address
  droplet_id = local.spread_roles ? digitalocean_droplet.manager[0].id : digitalocean_droplet.leader.id
}
