variable "region" {
  type        = string
  description = "AWS region of everything."
  default     = "eu-west-1"
}

variable "availability_zones" {
  type        = list(string)
  description = "The three availability zones of the subnets, the database and the cache; null: <region>a, <region>b and <region>c."
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) == 3, false)
    error_message = "availability_zones must name exactly three zones."
  }
}

variable "name" {
  type        = string
  description = "Name of the cluster, the database, the cache and the prefix of the rest."
  default     = "taskboard"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 32 lower-case letters, digits and '-', starting with a letter."
  }
}

variable "hostname" {
  type        = string
  description = "Host name taskboard is reached at (point its DNS record at the load balancer)."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", var.hostname))
    error_message = "hostname must be a DNS name."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ARN of the ACM certificate for hostname, served by the load balancer."

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes version (taskboard supports 1.29 to 1.33)."
  default     = "1.33"

  validation {
    condition     = contains(["1.29", "1.30", "1.31", "1.32", "1.33"], var.kubernetes_version)
    error_message = "kubernetes_version must be one taskboard supports: 1.29 to 1.33."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR of the VPC."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a CIDR block."
  }
}

variable "node_instance_types" {
  type        = list(string)
  description = "Instance types of the EKS managed node group."
  default     = ["m7g.large"]
}

variable "node_count" {
  type        = object({ min = number, max = number, desired = number })
  description = "Nodes of the managed node group (spread over three zones)."
  default     = { min = 3, max = 9, desired = 3 }

  validation {
    condition     = var.node_count.min >= 1 && var.node_count.min <= var.node_count.desired && var.node_count.desired <= var.node_count.max
    error_message = "node_count must satisfy 1 <= min <= desired <= max."
  }
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of PostgreSQL."
  default     = "db.m7g.large"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS instance class (db.*)."
  }
}

variable "db_allocated_storage_gib" {
  type        = number
  description = "Initial PostgreSQL storage in GiB (it grows to ten times this by itself)."
  default     = 50

  validation {
    condition     = var.db_allocated_storage_gib >= 20
    error_message = "db_allocated_storage_gib must be at least 20."
  }
}

variable "cache_node_type" {
  type        = string
  description = "ElastiCache node type of Valkey (Redis)."
  default     = "cache.m7g.large"

  validation {
    condition     = startswith(var.cache_node_type, "cache.")
    error_message = "cache_node_type must be an ElastiCache node type (cache.*)."
  }
}

variable "smtp_url" {
  type        = string
  description = "SMTP URL for e-mail notifications (e.g. Amazon SES SMTP: smtp://<user>:<password>@email-smtp.<region>.amazonaws.com:587); null: none."
  sensitive   = true
  default     = null
}

variable "image_tag" {
  type        = string
  description = "taskboard image tag; empty: the chart's appVersion."
  default     = ""
}
