terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.22.0, < 8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
}
