output "url" {
  description = "Where taskboard is reached."
  value       = module.taskboard.public_url
}

output "namespace" {
  description = "Namespace taskboard runs in."
  value       = module.taskboard.namespace
}

output "secret_name" {
  description = "Secret holding taskboard's secrets."
  value       = module.taskboard.secret_name
}
