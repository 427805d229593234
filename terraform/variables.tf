# ---------------------------------------------------------------------------
# Credentials (sensitive). Leave unset (null) to use the environment:
# DIGITALOCEAN_TOKEN, SPACES_ACCESS_KEY_ID, SPACES_SECRET_ACCESS_KEY.
# ---------------------------------------------------------------------------

variable "do_token" {
  description = "DigitalOcean API token. null: read DIGITALOCEAN_TOKEN from the environment."
  type        = string
  default     = null
  sensitive   = true
}

variable "spaces_access_id" {
  description = "Spaces access key id used by Terraform to manage the backup bucket. null: read SPACES_ACCESS_KEY_ID."
  type        = string
  default     = null
  sensitive   = true
}

variable "spaces_secret_key" {
  description = "Spaces secret key used by Terraform to manage the backup bucket. null: read SPACES_SECRET_ACCESS_KEY."
  type        = string
  default     = null
  sensitive   = true
}

# ---------------------------------------------------------------------------
# Placement
# ---------------------------------------------------------------------------

variable "environment" {
  description = "Environment name (production, staging, ...); prefixes every resource name and tag."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.environment))
    error_message = "environment must be 2-20 characters of lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "region" {
  description = "DigitalOcean region of the droplets, the VPC, the volume and the reserved IP (e.g. fra1, ams3, nyc3)."
  type        = string
  default     = "fra1"

  validation {
    condition     = can(regex("^[a-z]{3}[0-9]$", var.region))
    error_message = "region must be a DigitalOcean region slug such as fra1 or nyc3."
  }
}

variable "spaces_region" {
  description = "Region of the Spaces backup bucket (Spaces exists in fewer regions than droplets)."
  type        = string
  default     = "fra1"

  validation {
    condition     = contains(["ams3", "atl1", "blr1", "fra1", "lon1", "nyc3", "sfo2", "sfo3", "sgp1", "syd1", "tor1"], var.spaces_region)
    error_message = "spaces_region must be a region where Spaces is offered (ams3, atl1, blr1, fra1, lon1, nyc3, sfo2, sfo3, sgp1, syd1, tor1)."
  }
}

variable "vpc_ip_range" {
  description = "Private CIDR of the VPC. Swarm ports (2377/tcp, 7946/tcp+udp, 4789/udp) are open only inside it. Keep it clear of Docker's overlay pool (10.0.0.0/16 is used first)."
  type        = string
  default     = "10.10.0.0/20"

  validation {
    condition = can(cidrhost(var.vpc_ip_range, 0)) && (
      startswith(var.vpc_ip_range, "10.") ||
      startswith(var.vpc_ip_range, "172.") ||
      startswith(var.vpc_ip_range, "192.168.")
    )
    error_message = "vpc_ip_range must be a private (RFC 1918) IPv4 CIDR such as 10.10.0.0/20."
  }
}

# ---------------------------------------------------------------------------
# Droplets
# ---------------------------------------------------------------------------

variable "image" {
  description = "Droplet image slug. The provisioning scripts support Debian and Ubuntu."
  type        = string
  default     = "debian-12-x64"

  validation {
    condition     = can(regex("^(debian|ubuntu)-", var.image))
    error_message = "image must be a Debian or Ubuntu slug (Docker is installed from Docker's apt repository)."
  }
}

variable "manager_count" {
  description = "Number of swarm managers, the first of which holds the database volume (db=true) and the second the edge and monitoring roles (edge=true, monitoring=true, the reserved IP). Odd, so the raft quorum survives a loss: 3 survives one manager lost (tests/cluster/). 1 puts every role on one droplet: a single point of failure for everything."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5], var.manager_count)
    error_message = "manager_count must be 1, 3 or 5."
  }
}

variable "worker_count" {
  description = "Number of swarm workers."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 20 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number from 0 to 20."
  }
}

variable "manager_size" {
  description = "Droplet size slug of the managers (the first one also runs PostgreSQL)."
  type        = string
  default     = "s-2vcpu-4gb"
}

variable "worker_size" {
  description = "Droplet size slug of the workers."
  type        = string
  default     = "s-2vcpu-2gb"
}

variable "ssh_key_fingerprints" {
  description = "Fingerprints (or ids) of SSH keys already uploaded to DigitalOcean; they get root access to every droplet."
  type        = list(string)

  validation {
    condition     = length(var.ssh_key_fingerprints) > 0
    error_message = "Give at least one SSH key: password login is disabled."
  }
}

variable "ssh_allowed_cidrs" {
  description = "CIDRs allowed to reach SSH (22/tcp), e.g. the operators' addresses and the CI runner's egress. Never the whole internet."
  type        = list(string)

  validation {
    condition     = length(var.ssh_allowed_cidrs) > 0 && alltrue([for c in var.ssh_allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "ssh_allowed_cidrs must hold at least one valid CIDR (e.g. 203.0.113.7/32)."
  }

  validation {
    condition     = !anytrue([for c in var.ssh_allowed_cidrs : contains(["0.0.0.0/0", "::/0"], c)])
    error_message = "ssh_allowed_cidrs must not open SSH to the whole internet."
  }
}

variable "deploy_user" {
  description = "Unprivileged user (in the docker group) that CI deploys as. Empty: no such user."
  type        = string
  default     = "deploy"

  validation {
    condition     = can(regex("^([a-z_][a-z0-9_-]{0,30})?$", var.deploy_user))
    error_message = "deploy_user must be a valid Linux user name or empty."
  }
}

variable "deploy_ssh_public_keys" {
  description = "OpenSSH public keys authorised for deploy_user (the CI deploy key)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.deploy_ssh_public_keys : can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( [^'\\n]*)?$", k))])
    error_message = "Each deploy_ssh_public_keys entry must be one OpenSSH public key line without single quotes."
  }
}

variable "monitoring" {
  description = "Install the DigitalOcean metrics agent on the droplets."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

variable "pgdata_volume_size_gb" {
  description = "Size in GiB of the block volume holding PostgreSQL's data (mounted at /mnt/pgdata on the first manager)."
  type        = number
  default     = 20

  validation {
    condition     = var.pgdata_volume_size_gb >= 1 && var.pgdata_volume_size_gb <= 16384
    error_message = "pgdata_volume_size_gb must be between 1 and 16384."
  }
}

variable "backup_bucket_name" {
  description = "Name of the Spaces bucket for database backups (globally unique per region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.backup_bucket_name))
    error_message = "backup_bucket_name must be 3-63 lowercase letters, digits and dashes."
  }
}

variable "backup_retention_days" {
  description = "Backups older than this many days are deleted by the bucket's lifecycle rule."
  type        = number
  default     = 30

  validation {
    condition     = var.backup_retention_days >= 1 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number of days, at least 1."
  }
}

variable "backup_prefix" {
  description = "Folder of the bucket the backup service writes its dumps under: must be the stack's BACKUP_PREFIX (docker-stack.yml, BACKUP_TARGET=s3://BACKUP_BUCKET/BACKUP_PREFIX; both default to minitwit). The retention rule applies to it only; copy it into the deploy settings from `terraform output deploy_settings`."
  type        = string
  default     = "minitwit"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{0,62}$", var.backup_prefix))
    error_message = "backup_prefix must be one folder name (lowercase letters, digits, . _ -), without slashes."
  }
}

variable "create_backup_spaces_key" {
  description = "Create a Spaces key limited to the backup bucket (read/write) for the backup service; its secret ends up in the state."
  type        = bool
  default     = true
}

variable "host_ssh_from_anywhere" {
  description = <<-EOT
    false (default): ufw on each host allows SSH only from ssh_allowed_cidrs, exactly like the cloud firewall,
    plus (with firewall_read_token) whatever address the cloud firewall admits for a while: the managers run
    a timer that lets ufw follow the cloud firewall's SSH sources (deploy/provision/ssh-allow-sync.sh).
    true: ufw allows SSH from any address, rate limited (ufw limit), and the cloud firewall alone restricts the source.
    GitHub-hosted runners have no fixed address: the deploy workflow opens the cloud firewall for the runner's
    address for the length of the job (vars.DO_FIREWALL_ID, secret DIGITALOCEAN_TOKEN); with false, the hosts
    admit it only with firewall_read_token.
  EOT
  type        = bool
  default     = false
}

variable "firewall_read_token" {
  description = "DigitalOcean API token that can only read firewalls (custom scope firewall:read). With host_ssh_from_anywhere = false it lets ufw on the managers follow the cloud firewall's SSH sources, so the deploy workflow's runner gets in for the length of its job. Empty: ufw allows only ssh_allowed_cidrs (use a self-hosted runner). It ends up in the managers' user data and in the state."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9_]*$", var.firewall_read_token))
    error_message = "firewall_read_token must be a DigitalOcean token (letters, digits and underscores)."
  }
}
