output "namespace" {
  description = "Namespace taskboard runs in."
  value       = local.namespace
}

output "release_name" {
  description = "Name of the Helm release."
  value       = helm_release.this.name
}

output "release_status" {
  description = "Status of the Helm release (deployed once every pod is ready)."
  value       = helm_release.this.status
}

output "secret_name" {
  description = "The Secret holding taskboard's secrets (the chart's existingSecret), one key per setting."
  value       = kubernetes_secret_v1.this.metadata[0].name
}

output "service_account_name" {
  description = "taskboard's ServiceAccount, for an IAM role's trust policy (IRSA: system:serviceaccount:<namespace>:<name>)."
  value       = local.fullname
}

output "api_service" {
  description = "The api's Service (port http, 8000): the REST API and the web client."
  value       = "${local.fullname}-api"
}

output "realtime_service" {
  description = "The realtime Service (port http, 8000, appProtocol kubernetes.io/ws): the /ws WebSocket endpoint."
  value       = "${local.fullname}-realtime"
}

output "public_url" {
  description = "Where people reach taskboard (TASKBOARD_PUBLIC_URL)."
  value       = var.public_url
}
