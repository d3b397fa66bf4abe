# Where and what

variable "namespace" {
  type        = string
  description = "Namespace taskboard is installed in."
  default     = "taskboard"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label: lower-case letters, digits and '-', at most 63 characters."
  }
}

variable "create_namespace" {
  type        = bool
  description = "Create the namespace (labelled to enforce the restricted Pod Security Standard); false: it exists already."
  default     = true
}

variable "release_name" {
  type        = string
  description = "Helm release name. Objects are named <release>-taskboard-<component>, or <release>-<component> when the release name contains \"taskboard\"."
  default     = "taskboard"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.release_name)) && length(var.release_name) <= 53
    error_message = "release_name must be a DNS label of at most 53 characters (Helm's limit)."
  }
}

variable "chart_path" {
  type        = string
  description = "Path of the taskboard Helm chart; null: charts/taskboard of the repository this module is in."
  default     = null
}

variable "image" {
  type = object({
    repository = optional(string, "ghcr.io/taskboard/taskboard")
    tag        = optional(string, "")
    digest     = optional(string, "")
  })
  description = "The taskboard image: repository, tag (empty: the chart's appVersion) and an optional digest (sha256:...), which then pins it exactly."
  default     = {}

  validation {
    condition     = var.image.tag != "latest"
    error_message = "image.tag must name a release: a moving tag (latest) makes every pod restart a possible upgrade."
  }

  validation {
    condition     = var.image.digest == "" || can(regex("^sha256:[a-f0-9]{64}$", var.image.digest))
    error_message = "image.digest must be empty or sha256: followed by 64 hex digits."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to the namespace, the Secret and every object the chart renders."
  default     = {}
}

# Secrets: one Kubernetes Secret, made here, mounted by the pods as files.

variable "database_url" {
  type        = string
  description = "TASKBOARD_DATABASE_URL: postgresql://user:password@host:5432/db (TLS: ?ssl=require, or libpq's ?sslmode=require). Percent-encode the password."
  sensitive   = true

  validation {
    condition     = can(regex("^postgres(ql)?://", var.database_url))
    error_message = "database_url must be a postgresql:// URL."
  }
}

variable "redis_url" {
  type        = string
  description = "TASKBOARD_REDIS_URL: redis://:password@host:6379/0, or rediss:// for TLS."
  sensitive   = true

  validation {
    condition     = can(regex("^rediss?://", var.redis_url))
    error_message = "redis_url must be a redis:// or rediss:// URL."
  }
}

variable "secret_key" {
  type        = string
  description = "TASKBOARD_SECRET_KEY: signs access tokens; at least 32 random characters."
  sensitive   = true

  validation {
    condition     = length(var.secret_key) >= 32
    error_message = "secret_key must be at least 32 characters (taskboard refuses shorter keys in production)."
  }
}

variable "secret_key_previous" {
  type        = string
  description = "TASKBOARD_SECRET_KEY_PREVIOUS: the signing key being rotated out (what it signed stays valid while it is set); null: none."
  sensitive   = true
  default     = null

  validation {
    condition     = var.secret_key_previous == null || length(coalesce(var.secret_key_previous, "x")) >= 32
    error_message = "secret_key_previous must be at least 32 characters, or null."
  }
}

variable "smtp_url" {
  type        = string
  description = "TASKBOARD_SMTP_URL: smtp://user:password@host:587 (STARTTLS) or smtps://...; null: no e-mail."
  sensitive   = true
  default     = null

  validation {
    condition     = var.smtp_url == null || can(regex("^smtps?://", coalesce(var.smtp_url, "smtp://")))
    error_message = "smtp_url must be an smtp:// or smtps:// URL, or null."
  }
}

variable "storage_s3_secret_access_key" {
  type        = string
  description = "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY, with storage.access_key_id; null with it: the pods' IAM role (IRSA), and browsers' transfers then pass through the api."
  sensitive   = true
  default     = null

  validation {
    condition     = (var.storage_s3_secret_access_key == null) == (try(var.storage.access_key_id, null) == null)
    error_message = "storage_s3_secret_access_key and storage.access_key_id go together: set both or neither."
  }
}

# Settings (a ConfigMap; not secret)

variable "public_url" {
  type        = string
  description = "TASKBOARD_PUBLIC_URL: where people reach taskboard (links in e-mails), e.g. https://taskboard.example.com."

  validation {
    condition     = can(regex("^https?://[^/]+", var.public_url))
    error_message = "public_url must be an http:// or https:// URL."
  }
}

variable "trusted_proxies" {
  type        = list(string)
  description = "TASKBOARD_FORWARDED_ALLOW_IPS: addresses or CIDRs of the proxies in front of the pods (the load balancer's or ingress controller's), whose X-Forwarded-For is believed."
  default     = []

  validation {
    condition     = alltrue([for p in var.trusted_proxies : can(cidrhost(strcontains(p, "/") ? p : (strcontains(p, ":") ? "${p}/128" : "${p}/32"), 0))])
    error_message = "trusted_proxies must be IP addresses or CIDRs."
  }
}

variable "otlp_endpoint" {
  type        = string
  description = "TASKBOARD_OTLP_ENDPOINT: OTLP/HTTP endpoint for traces, e.g. http://otel-collector.observability:4318; null: no traces."
  default     = null

  validation {
    condition     = var.otlp_endpoint == null || can(regex("^https?://", coalesce(var.otlp_endpoint, "http://")))
    error_message = "otlp_endpoint must be an http:// or https:// URL, or null."
  }
}

variable "log_level" {
  type        = string
  description = "TASKBOARD_LOG_LEVEL."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "smtp_from" {
  type        = string
  description = "TASKBOARD_SMTP_FROM: the sender of notification e-mails; empty: taskboard's default."
  default     = ""
}

variable "storage" {
  type = object({
    url                  = string
    endpoint             = optional(string)
    region               = optional(string, "us-east-1")
    access_key_id        = optional(string)
    virtual_hosted_style = optional(bool, false)
  })
  description = "Attachments: TASKBOARD_STORAGE_URL (s3://bucket/prefix) and the TASKBOARD_STORAGE_S3_* settings (endpoint: null for AWS S3; access_key_id: null to use the pods' IAM role); null: no attachments."
  default     = null

  validation {
    condition     = var.storage == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", try(var.storage.url, "")))
    error_message = "storage.url must be s3://bucket[/prefix] (pods keep nothing on their disks)."
  }

  validation {
    condition     = try(var.storage.endpoint, null) == null || can(regex("^https?://[^/]+/?$", try(var.storage.endpoint, "")))
    error_message = "storage.endpoint must be the server's http(s):// URL alone, or null for AWS S3."
  }
}

variable "settings" {
  type        = map(string)
  description = "Any other non-secret TASKBOARD_* setting by its variable name (README.md's settings table), e.g. { TASKBOARD_DB_POOL_SIZE = \"20\" }."
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.settings) : can(regex("^TASKBOARD_[A-Z0-9_]+$", k))])
    error_message = "settings keys must be TASKBOARD_* variable names."
  }

  validation {
    condition = alltrue([for k in keys(var.settings) : !contains([
      "TASKBOARD_DATABASE_URL", "TASKBOARD_REDIS_URL", "TASKBOARD_SECRET_KEY",
      "TASKBOARD_SECRET_KEY_PREVIOUS", "TASKBOARD_SMTP_URL", "TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY",
    ], k)])
    error_message = "Secrets do not belong in settings (a ConfigMap): use their sensitive variables."
  }
}

variable "service_account_annotations" {
  type        = map(string)
  description = "Annotations of taskboard's ServiceAccount, e.g. { \"eks.amazonaws.com/role-arn\" = <role> } for S3 through IRSA."
  default     = {}
}

# Capacity

variable "replicas" {
  type = object({
    api      = optional(number, 2)
    realtime = optional(number, 2)
    worker   = optional(number, 2)
  })
  description = "Pods of each Deployment; with autoscaling, the fewest its HPA keeps."
  default     = {}

  validation {
    condition     = alltrue([for n in values(var.replicas) : n >= 1 && floor(n) == n])
    error_message = "replicas must be whole numbers of at least 1."
  }
}

variable "autoscaling" {
  type = object({
    enabled               = optional(bool, false)
    api_max_replicas      = optional(number, 10)
    realtime_max_replicas = optional(number, 10)
    worker_max_replicas   = optional(number, 10)
  })
  description = "HorizontalPodAutoscalers on CPU for api, realtime and worker, from replicas.<component> up to <component>_max_replicas (the Deployments then carry no replicas)."
  default     = {}

  validation {
    condition = (
      var.autoscaling.api_max_replicas >= var.replicas.api &&
      var.autoscaling.realtime_max_replicas >= var.replicas.realtime &&
      var.autoscaling.worker_max_replicas >= var.replicas.worker
    )
    error_message = "Each autoscaling max_replicas must be at least its replicas (the HPA's minimum)."
  }
}

# Traffic

variable "ingress" {
  type = object({
    hostname        = string
    class_name      = optional(string, "")
    controller      = optional(string, "")
    annotations     = optional(map(string), {})
    tls             = optional(bool, true)
    tls_secret_name = optional(string, "")
  })
  description = "An Ingress for hostname (/ and /api to the api, /ws to realtime): class, the controller whose WebSocket timeouts the chart sets (ingress-nginx, haproxy, haproxy-ingress, traefik or empty), annotations, TLS; null: no Ingress."
  default     = null

  validation {
    condition     = var.ingress == null || contains(["", "ingress-nginx", "haproxy", "haproxy-ingress", "traefik"], try(var.ingress.controller, ""))
    error_message = "ingress.controller must be ingress-nginx, haproxy, haproxy-ingress, traefik or empty."
  }

  validation {
    condition     = var.ingress == null || can(regex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", try(var.ingress.hostname, "")))
    error_message = "ingress.hostname must be a DNS name."
  }
}

variable "network_policy" {
  type = object({
    enabled           = optional(bool, true)
    restrict_ingress  = optional(bool, true)
    restrict_egress   = optional(bool, true)
    ingress_namespace = optional(string, "ingress-nginx")
    ingress_cidrs     = optional(list(string), [])
    metrics_namespace = optional(string, "monitoring")
    database_cidrs    = optional(list(string), [])
    redis_cidrs       = optional(list(string), [])
    webhooks          = optional(bool, true)
  })
  description = "NetworkPolicies, closed by default (restrict_ingress, restrict_egress: only the peers below, DNS, OTLP, SMTP and S3 ports): who reaches api and realtime (the ingress controller's namespace, or with ingress_cidrs a load balancer's addresses), Prometheus' namespace, where PostgreSQL and Redis are (empty: any address on their ports), and the worker's webhook egress."
  default     = {}

  validation {
    condition = alltrue([
      for c in concat(var.network_policy.ingress_cidrs, var.network_policy.database_cidrs, var.network_policy.redis_cidrs) : can(cidrhost(c, 0))
    ])
    error_message = "network_policy CIDRs must be valid CIDR blocks."
  }
}

variable "monitoring" {
  type = object({
    service_monitor = optional(bool, false)
    prometheus_rule = optional(bool, false)
    dashboards      = optional(bool, false)
    labels          = optional(map(string), {})
  })
  description = "Prometheus Operator objects (ServiceMonitors, the PrometheusRule with taskboard's alerts; labels for Prometheus' selectors) and Grafana dashboard ConfigMaps."
  default     = {}
}

# The release

variable "extra_values" {
  type        = any
  description = "Helm values merged over the module's (for what no variable covers: resources, nodeSelector, KEDA...). Never secrets: they would be stored in the release."
  default     = {}
}

variable "helm_timeout_seconds" {
  type        = number
  description = "How long Helm waits for the migration hook and then for every pod to be ready."
  default     = 900

  validation {
    condition     = var.helm_timeout_seconds >= 120 && var.helm_timeout_seconds <= 3600
    error_message = "helm_timeout_seconds must be between 120 and 3600."
  }
}

variable "atomic" {
  type        = bool
  description = "Roll a failed install or upgrade back (Helm's --atomic), leaving the previous release serving."
  default     = true
}
