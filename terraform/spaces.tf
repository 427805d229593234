# Backups: a private Spaces bucket; a lifecycle rule deletes dumps under
# var.backup_prefix/ (where the stack's backup service writes them:
# BACKUP_TARGET=s3://BACKUP_BUCKET/BACKUP_PREFIX) older than
# var.backup_retention_days, so retention holds even if the backup job's own
# pruning fails. Terraform manages the bucket with the Spaces key given in
# var.spaces_access_id / var.spaces_secret_key (or SPACES_ACCESS_KEY_ID /
# SPACES_SECRET_ACCESS_KEY); the backup service gets its own key, limited to
# this bucket, to store as Docker secrets.

resource "digitalocean_spaces_bucket" "backups" {
  name          = var.backup_bucket_name
  region        = var.spaces_region
  acl           = "private"
  force_destroy = false

  lifecycle_rule {
    id                                     = "backup-retention"
    enabled                                = true
    prefix                                 = "${var.backup_prefix}/"
    abort_incomplete_multipart_upload_days = 1

    expiration {
      days = var.backup_retention_days
    }
  }
}

resource "digitalocean_spaces_key" "backup" {
  count = var.create_backup_spaces_key ? 1 : 0

  name = "${local.name}-backup"

  grant {
    bucket     = digitalocean_spaces_bucket.backups.name
    permission = "readwrite"
  }
}
