terraform {
  # Cross-variable validation (storage keys, autoscaling bounds) needs 1.9.
  required_version = ">= 1.9.0"

  required_providers {
    helm = {
      source = "hashicorp/helm"
      # 3.x: the Plugin Framework schema (`set = [...]`, `kubernetes = {...}`); 3.1.1 fixes
      # "inconsistent result after apply" on helm_release.
      version = "~> 3.1"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 3.0"
    }
  }
}
