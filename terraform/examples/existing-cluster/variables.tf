variable "kubeconfig_path" {
  type        = string
  description = "kubeconfig file of the cluster."
  default     = "~/.kube/config"
}

variable "kubeconfig_context" {
  type        = string
  description = "kubeconfig context to use; null: the current one."
  default     = null
}

variable "namespace" {
  type        = string
  description = "Namespace to install taskboard in (created)."
  default     = "taskboard"
}

variable "hostname" {
  type        = string
  description = "Host name taskboard is reached at, served over TLS by the ingress controller."

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", var.hostname))
    error_message = "hostname must be a DNS name."
  }
}

variable "database_url" {
  type        = string
  description = "PostgreSQL URL: postgresql://user:password@host:5432/db?ssl=require."
  sensitive   = true
}

variable "redis_url" {
  type        = string
  description = "Redis URL: rediss://:password@host:6379/0."
  sensitive   = true
}

variable "smtp_url" {
  type        = string
  description = "SMTP URL for e-mail notifications; null: none."
  sensitive   = true
  default     = null
}

variable "storage" {
  type = object({
    url                  = string
    endpoint             = optional(string)
    region               = optional(string, "us-east-1")
    access_key_id        = optional(string)
    virtual_hosted_style = optional(bool, false)
  })
  description = "S3-compatible bucket for attachments (see the module's storage variable); null: no attachments."
  default     = null
}

variable "storage_s3_secret_access_key" {
  type        = string
  description = "Secret key of storage.access_key_id; null when the pods use an IAM role."
  sensitive   = true
  default     = null
}

variable "trusted_proxies" {
  type        = list(string)
  description = "Pod CIDR of the ingress controller, whose X-Forwarded-For taskboard believes."
  default     = []
}

variable "ingress_class_name" {
  type        = string
  description = "IngressClass of the cluster's ingress controller."
  default     = "nginx"
}

variable "ingress_controller" {
  type        = string
  description = "Which controller it is, for the WebSocket timeouts the chart sets (ingress-nginx, haproxy, haproxy-ingress, traefik, or empty)."
  default     = "ingress-nginx"
}

variable "ingress_annotations" {
  type        = map(string)
  description = "Annotations of the Ingress, e.g. cert-manager's cluster issuer."
  default     = {}
}

variable "ingress_namespace" {
  type        = string
  description = "Namespace of the ingress controller (the only one let through to api and realtime)."
  default     = "ingress-nginx"
}
