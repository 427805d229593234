terraform {
  required_version = ">= 1.6.0"

  required_providers {
    digitalocean = {
      source  = "digitalocean/digitalocean"
      version = "~> 2.59"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # Remote state in a DigitalOcean Spaces bucket through the S3 backend.
  # Partial configuration: bucket, key and endpoint come from
  #   terraform init -backend-config=backend.hcl
  # (see backend.hcl.example) and the Spaces key from the environment
  # (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Spaces is not AWS, so every
  # AWS-only check is switched off.
  backend "s3" {
    region                      = "us-east-1"
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
    skip_s3_checksum            = true
  }
}
