# Cloud firewall, mirrored on every host by ufw (deploy/provision/base.sh), so
# a port is open only if both agree:
#   80/443    from anywhere (nginx, the only published service)
#   22        from var.ssh_allowed_cidrs, and from inside the VPC for the
#             swarm join-token fetch (a key that can only print a token)
#   2377/tcp, 7946/tcp+udp, 4789/udp   swarm, inside the VPC only
#   everything outbound
# The deploy workflow may add its runner's address to the SSH rule for the
# length of a job (vars.DO_FIREWALL_ID); the managers' ufw follows that rule
# through deploy/provision/ssh-allow-sync.sh (var.firewall_read_token).
locals {
  anywhere = ["0.0.0.0/0", "::/0"]
}

resource "digitalocean_firewall" "swarm" {
  name = local.name
  tags = [digitalocean_tag.cluster.id]

  inbound_rule {
    protocol         = "tcp"
    port_range       = "80"
    source_addresses = local.anywhere
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "443"
    source_addresses = local.anywhere
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = distinct(concat(var.ssh_allowed_cidrs, [var.vpc_ip_range]))
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "2377"
    source_addresses = [var.vpc_ip_range]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "7946"
    source_addresses = [var.vpc_ip_range]
  }

  inbound_rule {
    protocol         = "udp"
    port_range       = "7946"
    source_addresses = [var.vpc_ip_range]
  }

  inbound_rule {
    protocol         = "udp"
    port_range       = "4789"
    source_addresses = [var.vpc_ip_range]
  }

  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = local.anywhere
  }

  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = local.anywhere
  }

  outbound_rule {
    protocol              = "icmp"
    destination_addresses = local.anywhere
  }
}
