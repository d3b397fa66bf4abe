# The chart's values, from the variables alone (and local.fullname and local.secret_version,
# from main.tf): tests/deploy/test_terraform.py evaluates this file with terraform itself and
# renders the chart with the result.
locals {
  autoscaling = {
    for component in ["api", "realtime", "worker"] : component => {
      enabled     = var.autoscaling.enabled
      minReplicas = var.replicas[component]
      maxReplicas = var.autoscaling["${component}_max_replicas"]
    }
  }

  # Who reaches api and realtime: the load balancer's addresses when given (it reaches pod IPs
  # itself), else the ingress controller's namespace.
  ingress_namespaces = length(var.network_policy.ingress_cidrs) > 0 ? [] : [var.network_policy.ingress_namespace]

  peers = {
    ingress = concat(
      [for cidr in var.network_policy.ingress_cidrs : { ipBlock = { cidr = cidr } }],
      [for ns in local.ingress_namespaces : { namespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = ns } } }],
    )
    metrics    = [{ namespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = var.network_policy.metrics_namespace } } }]
    postgresql = [for cidr in var.network_policy.database_cidrs : { ipBlock = { cidr = cidr } }]
    redis      = [for cidr in var.network_policy.redis_cidrs : { ipBlock = { cidr = cidr } }]
  }

  # The chart's values (charts/taskboard/values.yaml documents each). No secret is among them:
  # they live in the Secret below, which the chart takes as existingSecret.
  values = {
    commonLabels = var.labels
    image = {
      repository = var.image.repository
      digest     = var.image.digest
    }
    config = {
      env            = "production"
      logLevel       = var.log_level
      publicUrl      = var.public_url
      trustedProxies = var.trusted_proxies
      otlpEndpoint   = var.otlp_endpoint == null ? "" : var.otlp_endpoint
      extra          = var.settings
    }
    smtp = {
      from = var.smtp_from
    }
    storage = {
      url = try(var.storage.url, "")
      s3 = {
        endpoint           = try(var.storage.endpoint, null) == null ? "" : var.storage.endpoint
        region             = try(var.storage.region, "us-east-1")
        accessKeyId        = try(var.storage.access_key_id, null) == null ? "" : var.storage.access_key_id
        virtualHostedStyle = try(var.storage.virtual_hosted_style, false)
      }
    }
    serviceAccount = {
      create      = true
      name        = local.fullname
      annotations = var.service_account_annotations
    }
    podAnnotations = {
      "taskboard.io/secret-version" = local.secret_version
    }
    migrations = {
      mode = "hook"
    }
    api = {
      replicaCount = var.replicas.api
      autoscaling  = local.autoscaling.api
    }
    realtime = {
      replicaCount = var.replicas.realtime
      autoscaling  = local.autoscaling.realtime
    }
    worker = {
      replicaCount = var.replicas.worker
      autoscaling  = local.autoscaling.worker
    }
    ingress = {
      enabled     = var.ingress != null
      hostname    = try(var.ingress.hostname, "taskboard.local")
      className   = try(var.ingress.class_name, "")
      controller  = try(var.ingress.controller, "")
      annotations = try(var.ingress.annotations, {})
      tls = {
        enabled    = try(var.ingress.tls, false)
        secretName = try(var.ingress.tls_secret_name, "")
      }
    }
    networkPolicy = {
      enabled             = var.network_policy.enabled
      allowExternal       = !var.network_policy.restrict_ingress
      allowExternalEgress = !var.network_policy.restrict_egress
      allowFrom           = local.peers.ingress
      metricsFrom         = local.peers.metrics
      egress = {
        postgresql = { to = local.peers.postgresql }
        redis      = { to = local.peers.redis }
        webhooks   = { enabled = var.network_policy.webhooks }
      }
    }
    metrics = {
      serviceMonitor = {
        enabled = var.monitoring.service_monitor
        labels  = var.monitoring.labels
      }
      prometheusRule = {
        enabled = var.monitoring.prometheus_rule
        labels  = var.monitoring.labels
      }
      dashboards = {
        enabled = var.monitoring.dashboards
      }
    }
  }
}
