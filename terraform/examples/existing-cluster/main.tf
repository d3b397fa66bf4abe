# taskboard on a cluster you already run, with PostgreSQL and Redis you already have: only the
# module, and the providers pointed at your kubeconfig.

provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kubeconfig_context
}

provider "helm" {
  kubernetes = {
    config_path    = var.kubeconfig_path
    config_context = var.kubeconfig_context
  }
}

# The token signing key, made once and kept in the state.
resource "random_password" "secret_key" {
  length  = 64
  special = false
}

module "taskboard" {
  source = "../../modules/taskboard"

  namespace    = var.namespace
  database_url = var.database_url
  redis_url    = var.redis_url
  secret_key   = random_password.secret_key.result
  smtp_url     = var.smtp_url
  public_url   = "https://${var.hostname}"

  storage                      = var.storage
  storage_s3_secret_access_key = var.storage_s3_secret_access_key

  trusted_proxies = var.trusted_proxies

  ingress = {
    hostname    = var.hostname
    class_name  = var.ingress_class_name
    controller  = var.ingress_controller
    annotations = var.ingress_annotations
  }

  network_policy = {
    ingress_namespace = var.ingress_namespace
  }

  replicas = {
    api      = 2
    realtime = 2
    worker   = 2
  }
}
