locals {
  chart_path = coalesce(var.chart_path, "${path.module}/../../../charts/taskboard")

  # The chart's object names (its taskboard.fullname helper): a release whose name holds the
  # chart's is not prefixed twice.
  fullname = strcontains(var.release_name, "taskboard") ? var.release_name : "${var.release_name}-taskboard"

  # Not the chart's own name (<fullname>): the chart renders no Secret with existingSecret, and
  # the two cannot be mistaken for each other.
  secret_name = "${local.fullname}-terraform"

  namespace = var.create_namespace ? kubernetes_namespace_v1.this[0].metadata[0].name : var.namespace

  # Keys named like the settings: the pods mount each as a file in /run/secrets/taskboard, which
  # taskboard reads as that setting. These are the chart's existingSecretKeys defaults.
  secret_data = merge(
    {
      TASKBOARD_DATABASE_URL = var.database_url
      TASKBOARD_REDIS_URL    = var.redis_url
      TASKBOARD_SECRET_KEY   = var.secret_key
    },
    var.secret_key_previous == null ? {} : { TASKBOARD_SECRET_KEY_PREVIOUS = var.secret_key_previous },
    var.smtp_url == null ? {} : { TASKBOARD_SMTP_URL = var.smtp_url },
    var.storage_s3_secret_access_key == null ? {} : { TASKBOARD_STORAGE_S3_SECRET_ACCESS_KEY = var.storage_s3_secret_access_key },
  )

  # Pods read the Secret when they start: a new resourceVersion (any change to it) goes into their
  # annotations (values.tf), so a rotated secret rolls every Deployment.
  secret_version = kubernetes_secret_v1.this.metadata[0].resource_version
}

resource "kubernetes_namespace_v1" "this" {
  count = var.create_namespace ? 1 : 0

  metadata {
    name = var.namespace
    labels = merge(var.labels, {
      "app.kubernetes.io/part-of"                  = "taskboard"
      "pod-security.kubernetes.io/enforce"         = "restricted"
      "pod-security.kubernetes.io/enforce-version" = "latest"
      "pod-security.kubernetes.io/warn"            = "restricted"
      "pod-security.kubernetes.io/audit"           = "restricted"
    })
  }
}

# taskboard's secrets, made before the release so that everything in it, the pre-install
# migration hook first, finds them. Terraform's state holds these values: keep it encrypted.
resource "kubernetes_secret_v1" "this" {
  metadata {
    name      = local.secret_name
    namespace = local.namespace
    labels = merge(var.labels, {
      "app.kubernetes.io/name"       = "taskboard"
      "app.kubernetes.io/instance"   = var.release_name
      "app.kubernetes.io/part-of"    = "taskboard"
      "app.kubernetes.io/managed-by" = "terraform"
    })
  }

  type = "Opaque"
  data = local.secret_data
}

resource "helm_release" "this" {
  name      = var.release_name
  namespace = local.namespace
  chart     = local.chart_path

  values = [yamlencode(local.values), yamlencode(var.extra_values)]

  # Strings, whatever they look like ("1.10" stays a tag, not a number).
  set = [
    { name = "existingSecret", value = kubernetes_secret_v1.this.metadata[0].name, type = "string" },
    { name = "image.tag", value = var.image.tag, type = "string" },
  ]

  # `wait` is safe with this chart, unlike with charts whose migration is a post-install hook
  # (which waits for the release to be ready while the pods wait for it: apache/airflow#11979).
  # Here the migration is a pre-install/pre-upgrade hook Job: Helm runs it to completion before
  # it creates or changes anything else, and it reads the database URL from the Secret above,
  # which exists before the release (existingSecret: the chart renders no Secret of its own, so
  # nothing the hook needs is created after it). Every pod then starts with an init container
  # waiting for the schema, already there, so the Deployments become ready and `wait` returns.
  # A failed migration fails the hook, and `atomic` leaves the previous release serving.
  wait            = true
  wait_for_jobs   = true
  atomic          = var.atomic
  cleanup_on_fail = true
  timeout         = var.helm_timeout_seconds
  max_history     = 10
}
