terraform {
  # terraform-aws-modules/rds 7 takes the master password as a write-only argument (1.11).
  required_version = ">= 1.11.1"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # terraform-aws-modules/s3-bucket 5.15 needs 6.42.
      version = "~> 6.42"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }
}
