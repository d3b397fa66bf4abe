output "url" {
  description = "Where taskboard is reached, once hostname's DNS record points at the load balancer."
  value       = module.taskboard.public_url
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name <this>)."
  value       = module.eks.cluster_name
}

output "database_endpoint" {
  description = "RDS PostgreSQL endpoint (host:port)."
  value       = module.db.db_instance_endpoint
}

output "redis_endpoint" {
  description = "ElastiCache primary endpoint."
  value       = module.cache.replication_group_primary_endpoint_address
}

output "files_bucket" {
  description = "S3 bucket of attachments."
  value       = module.files.s3_bucket_id
}

output "namespace" {
  description = "Namespace taskboard runs in."
  value       = module.taskboard.namespace
}
