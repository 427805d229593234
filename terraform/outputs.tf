output "reserved_ip" {
  description = "Public entry point (point DNS here); assigned to the first manager."
  value       = digitalocean_reserved_ip.public.ip_address
}

output "manager_ips" {
  description = "Managers by name: public and VPC addresses. The first one runs swarm init and PostgreSQL."
  value = {
    for d in concat([digitalocean_droplet.leader], digitalocean_droplet.manager) :
    d.name => { public = d.ipv4_address, private = d.ipv4_address_private }
  }
}

output "worker_ips" {
  description = "Workers by name: public and VPC addresses."
  value = {
    for d in digitalocean_droplet.worker :
    d.name => { public = d.ipv4_address, private = d.ipv4_address_private }
  }
}

output "ssh_manager" {
  description = "SSH command for the first manager (run docker stack/service commands there)."
  value       = "ssh root@${digitalocean_reserved_ip.public.ip_address}"
}

output "vpc_ip_range" {
  description = "Private network CIDR of the swarm."
  value       = digitalocean_vpc.main.ip_range
}

output "pgdata_volume" {
  description = "Block volume holding PostgreSQL data, mounted at /mnt/pgdata on the first manager."
  value       = { id = digitalocean_volume.pgdata.id, name = digitalocean_volume.pgdata.name }
}

output "backup_bucket_name" {
  description = "Spaces bucket receiving the database backups."
  value       = digitalocean_spaces_bucket.backups.name
}

output "backup_bucket_endpoint" {
  description = "S3 endpoint URL for the backup service (S3_ENDPOINT)."
  value       = "https://${var.spaces_region}.digitaloceanspaces.com"
}

output "deploy_settings" {
  description = "The backup storage lines of the deploy settings (/etc/minitwit/minitwit.env on the manager, deploy/README.md)."
  value       = <<-EOT
    BACKUP_BUCKET=${digitalocean_spaces_bucket.backups.name}
    BACKUP_PREFIX=${var.backup_prefix}
    S3_ENDPOINT=https://${var.spaces_region}.digitaloceanspaces.com
    S3_REGION=${var.spaces_region}
  EOT
}

output "backup_spaces_access_key" {
  description = "Access key id of the backup-only Spaces key (store as a Docker secret)."
  value       = try(digitalocean_spaces_key.backup[0].access_key, null)
  sensitive   = true
}

output "backup_spaces_secret_key" {
  description = "Secret of the backup-only Spaces key (store as a Docker secret)."
  value       = try(digitalocean_spaces_key.backup[0].secret_key, null)
  sensitive   = true
}

output "firewall_id" {
  description = "Cloud firewall id (GitHub variable DO_FIREWALL_ID if CI opens SSH for its runner during a deploy)."
  value       = digitalocean_firewall.swarm.id
}
