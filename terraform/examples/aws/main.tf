# taskboard on AWS: a VPC over three zones, EKS with a managed node group and the AWS Load
# Balancer Controller, RDS PostgreSQL (Multi-AZ), ElastiCache Valkey (Redis protocol, TLS, a
# replica in another zone), an S3 bucket for attachments reached through an IAM role (IRSA), and
# taskboard itself through the module, with every endpoint wired in.

locals {
  # Three zones, named: a list that AWS adding a zone cannot change under the subnets.
  azs       = var.availability_zones != null ? var.availability_zones : [for zone in ["a", "b", "c"] : "${var.region}${zone}"]
  namespace = "taskboard"
  tags = {
    Application = "taskboard"
    ManagedBy   = "terraform"
  }
}

################################################################################
# Network
################################################################################

module "vpc" {
  # terraform-aws-modules/vpc/aws 6.6.0, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-vpc.git?ref=82d1929e669efef4e2ad00611b8a68e7a56e049c"

  name = var.name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets     = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets      = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 48)]
  database_subnets    = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]
  elasticache_subnets = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 56)]

  create_database_subnet_group    = true
  create_elasticache_subnet_group = true

  enable_nat_gateway     = true
  one_nat_gateway_per_az = true

  public_subnet_tags  = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = 1 }
}

################################################################################
# Kubernetes
################################################################################

module "eks" {
  # terraform-aws-modules/eks/aws 21.19.0, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-eks.git?ref=bef29c4d9523523e57fe898643fde2895106b339"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  endpoint_public_access                   = true
  enable_cluster_creator_admin_permissions = true
  # The OIDC provider for IRSA: taskboard's S3 client (obstore) takes a web identity token.
  enable_irsa = true

  addons = {
    coredns                = {}
    kube-proxy             = {}
    eks-pod-identity-agent = { before_compute = true }
    vpc-cni = {
      before_compute = true
      # The VPC CNI enforces NetworkPolicies only when asked; the chart renders them.
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
  }

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_ARM_64_STANDARD"
      instance_types = var.node_instance_types
      min_size       = var.node_count.min
      max_size       = var.node_count.max
      desired_size   = var.node_count.desired
    }
  }
}

# The AWS Load Balancer Controller turns the chart's Ingress into an ALB.
module "lb_controller_pod_identity" {
  # terraform-aws-modules/eks-pod-identity/aws 2.8.1, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-eks-pod-identity.git?ref=2cbd87e243fcbf74385331dcf983e273eeb7aa36"

  name                            = "${var.name}-aws-lbc"
  attach_aws_lb_controller_policy = true

  associations = {
    this = {
      cluster_name    = module.eks.cluster_name
      namespace       = "kube-system"
      service_account = "aws-load-balancer-controller"
    }
  }
}

resource "helm_release" "aws_load_balancer_controller" {
  name       = "aws-load-balancer-controller"
  namespace  = "kube-system"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = "1.17.1"

  set = [
    { name = "clusterName", value = module.eks.cluster_name },
    { name = "region", value = var.region },
    { name = "vpcId", value = module.vpc.vpc_id },
    { name = "serviceAccount.name", value = "aws-load-balancer-controller" },
  ]

  wait    = true
  atomic  = true
  timeout = 600

  depends_on = [module.lb_controller_pod_identity]
}

################################################################################
# PostgreSQL
################################################################################

resource "random_password" "db" {
  length  = 40
  special = false
}

resource "aws_security_group" "db" {
  #checkov:skip=CKV2_AWS_5:attached to the RDS instance through module.db's vpc_security_group_ids, which checkov does not follow into the module
  name_prefix = "${var.name}-postgresql-"
  description = "PostgreSQL of taskboard: reached from the EKS nodes (their pods) only"
  vpc_id      = module.vpc.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "db_from_nodes" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the EKS nodes and their pods"
  referenced_security_group_id = module.eks.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

module "db" {
  # terraform-aws-modules/rds/aws 7.2.0, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-rds.git?ref=bc8c1e240a98fd54a12c61c70de91cbabec71863"

  identifier = var.name

  engine               = "postgres"
  engine_version       = "17"
  family               = "postgres17"
  major_engine_version = "17"
  instance_class       = var.db_instance_class

  allocated_storage     = var.db_allocated_storage_gib
  max_allocated_storage = var.db_allocated_storage_gib * 10
  storage_encrypted     = true

  db_name  = "taskboard"
  username = "taskboard"
  port     = 5432
  # The password goes into taskboard's URL, so Terraform makes it (RDS-managed passwords live
  # in Secrets Manager, out of Terraform's reach).
  manage_master_user_password = false
  password_wo                 = random_password.db.result
  password_wo_version         = 1

  multi_az               = true
  db_subnet_group_name   = module.vpc.database_subnet_group_name
  vpc_security_group_ids = [aws_security_group.db.id]

  parameters = [
    # Refuse unencrypted connections (taskboard's URL asks for TLS: ssl=require).
    { name = "rds.force_ssl", value = "1" },
  ]

  backup_retention_period               = 14
  deletion_protection                   = true
  skip_final_snapshot                   = false
  final_snapshot_identifier_prefix      = "${var.name}-final"
  performance_insights_enabled          = true
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  create_cloudwatch_log_group           = true
  monitoring_interval                   = 60
  create_monitoring_role                = true
  auto_minor_version_upgrade            = true
  copy_tags_to_snapshot                 = true
  iam_database_authentication_enabled   = false
  performance_insights_retention_period = 7
}

################################################################################
# Redis (Valkey)
################################################################################

resource "random_password" "cache" {
  # ElastiCache AUTH tokens: 16 to 128 printable characters, none of @ " /.
  length  = 64
  special = false
}

module "cache" {
  # terraform-aws-modules/elasticache/aws 1.10.3, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-elasticache.git?ref=3e17c95a0b932ed162839a1aeaf0a2bfb436ac6a"

  replication_group_id = var.name
  description          = "taskboard: event streams, presence and Dramatiq queues"

  engine         = "valkey"
  engine_version = "8.0"
  node_type      = var.cache_node_type

  # A primary and a replica in another zone, promoted if the primary fails.
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true

  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.cache.result
  snapshot_retention_limit   = 7

  vpc_id = module.vpc.vpc_id
  security_group_rules = {
    ingress_nodes = {
      description                  = "Valkey from the EKS nodes and their pods"
      referenced_security_group_id = module.eks.node_security_group_id
    }
  }

  create_subnet_group = false
  subnet_group_name   = module.vpc.elasticache_subnet_group_name

  create_parameter_group = true
  parameter_group_name   = "${var.name}-valkey8"
  parameter_group_family = "valkey8"
  parameters = [
    # Queues and streams must never be evicted to make room: Redis refuses writes instead,
    # which taskboard reports, rather than losing jobs silently.
    { name = "maxmemory-policy", value = "noeviction" },
  ]
}

################################################################################
# Attachments: S3, reached with the pods' IAM role
################################################################################

module "files" {
  # terraform-aws-modules/s3-bucket/aws 5.15.4, by commit: a moved tag cannot change what runs.
  source = "git::https://github.com/terraform-aws-modules/terraform-aws-s3-bucket.git?ref=dd0c434de5e74d8864e249ee020d917b076b6e32"

  bucket_prefix = "${var.name}-files-"

  # Private: browsers only ever get presigned URLs (docs/operations.md, File storage).
  block_public_acls        = true
  block_public_policy      = true
  ignore_public_acls       = true
  restrict_public_buckets  = true
  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  attach_deny_insecure_transport_policy = true

  versioning = { enabled = true }

  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = { sse_algorithm = "aws:kms" }
      bucket_key_enabled                      = true
    }
  }

  lifecycle_rule = [
    {
      # A pod killed mid-upload leaves parts nobody sees but everybody pays for.
      id                                     = "abort-incomplete-uploads"
      enabled                                = true
      abort_incomplete_multipart_upload_days = 1
      # Deleted attachments stay recoverable for a month.
      noncurrent_version_expiration = { days = 30 }
    },
  ]

  cors_rule = [
    {
      allowed_methods = ["GET", "PUT"]
      allowed_origins = ["https://${var.hostname}"]
      allowed_headers = ["Content-Type", "Content-Length", "x-amz-checksum-sha256"]
      expose_headers  = ["ETag"]
      max_age_seconds = 3600
    },
  ]
}

data "aws_iam_policy_document" "taskboard_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = ["system:serviceaccount:${local.namespace}:${module.taskboard.service_account_name}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# What docs/operations.md lists for taskboard's key, on this bucket only.
data "aws_iam_policy_document" "taskboard_files" {
  statement {
    sid       = "List"
    actions   = ["s3:ListBucket"]
    resources = [module.files.s3_bucket_arn]
  }

  statement {
    sid       = "Objects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${module.files.s3_bucket_arn}/*"]
  }
}

resource "aws_iam_role" "taskboard" {
  name_prefix        = "${var.name}-files-"
  description        = "taskboard's pods: the attachments bucket"
  assume_role_policy = data.aws_iam_policy_document.taskboard_assume.json
}

resource "aws_iam_role_policy" "taskboard_files" {
  name   = "attachments"
  role   = aws_iam_role.taskboard.id
  policy = data.aws_iam_policy_document.taskboard_files.json
}

################################################################################
# taskboard
################################################################################

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

module "taskboard" {
  source = "../../modules/taskboard"

  namespace = local.namespace
  image     = { tag = var.image_tag }

  database_url = "postgresql://${module.db.db_instance_username}:${urlencode(random_password.db.result)}@${module.db.db_instance_address}:${module.db.db_instance_port}/taskboard?ssl=require"
  redis_url    = "rediss://:${urlencode(random_password.cache.result)}@${module.cache.replication_group_primary_endpoint_address}:${module.cache.replication_group_port}/0"
  secret_key   = random_password.secret_key.result
  smtp_url     = var.smtp_url
  public_url   = "https://${var.hostname}"

  # No key pair: the IAM role (IRSA). Presigned URLs need a key pair, so browsers' uploads and
  # downloads pass through the api pods (docs/operations.md, File storage).
  storage = {
    url    = "s3://${module.files.s3_bucket_id}"
    region = var.region
  }
  service_account_annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.taskboard.arn }

  # The ALB reaches the pods directly (target type ip) from the public subnets: those are the
  # proxies whose X-Forwarded-For to believe, and the only peers let through to api and realtime.
  trusted_proxies = module.vpc.public_subnets_cidr_blocks
  network_policy = {
    ingress_cidrs  = module.vpc.public_subnets_cidr_blocks
    database_cidrs = module.vpc.database_subnets_cidr_blocks
    redis_cidrs    = module.vpc.elasticache_subnets_cidr_blocks
  }

  ingress = {
    hostname   = var.hostname
    class_name = "alb"
    tls        = false # TLS ends at the ALB, with the ACM certificate
    annotations = {
      "alb.ingress.kubernetes.io/scheme"          = "internet-facing"
      "alb.ingress.kubernetes.io/target-type"     = "ip"
      "alb.ingress.kubernetes.io/listen-ports"    = jsonencode([{ HTTPS = 443 }])
      "alb.ingress.kubernetes.io/certificate-arn" = var.certificate_arn
      "alb.ingress.kubernetes.io/ssl-policy"      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
      # WebSockets stay open for hours: the ALB's idle timeout (60 s by default) must not cut
      # them between two pings.
      "alb.ingress.kubernetes.io/load-balancer-attributes" = "idle_timeout.timeout_seconds=3600"
      "alb.ingress.kubernetes.io/healthcheck-path"         = "/readyz"
    }
  }

  replicas = {
    api      = 3
    realtime = 3
    worker   = 3
  }
  autoscaling = {
    enabled               = true
    api_max_replicas      = 12
    realtime_max_replicas = 12
    worker_max_replicas   = 6
  }

  depends_on = [helm_release.aws_load_balancer_controller]
}
