terraform {
  # 1.9: validation blocks that refer to other variables (data_locations is
  # checked against location).
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # soft_delete_policy on google_storage_bucket needs 5.22 or later.
      version = ">= 5.22.0, < 8.0.0"
    }
  }
}
