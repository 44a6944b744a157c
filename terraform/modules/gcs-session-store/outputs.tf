output "store_url" {
  description = "Pass this to sessionstore's open_store in every region: gs://BUCKET/PREFIX."
  value       = module.iam_condition.store_url
}

output "bucket_name" {
  description = "Name of the dual-region bucket."
  value       = google_storage_bucket.this.name
}

output "bucket_url" {
  description = "gs:// URL of the bucket itself."
  value       = google_storage_bucket.this.url
}

output "session_prefix" {
  description = "Object-name prefix of the sessions."
  value       = var.session_prefix
}

output "data_locations" {
  description = "The two regions the bucket stores data in."
  value       = var.data_locations
}

output "iam_condition_expression" {
  description = "CEL condition on the runtime's object role."
  value       = module.iam_condition.expression
}

output "runtime_iam_policy_json" {
  description = "The runtime's grants on this bucket as IAM policy bindings (JSON), for review and audit."
  value = jsonencode({
    bindings = concat(
      [{
        role    = var.runtime_role
        members = [local.member]
        condition = {
          title       = module.iam_condition.title
          description = module.iam_condition.description
          expression  = module.iam_condition.expression
        }
      }],
      var.list_access == "bucket" ? [{
        role    = local.create_list_role ? "projects/${var.project_id}/roles/${var.list_role_id}" : var.list_role
        members = [local.member]
      }] : [],
    )
  })
}
