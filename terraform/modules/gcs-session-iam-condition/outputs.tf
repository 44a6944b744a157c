output "expression" {
  description = "CEL expression for the IAM condition: resource.name.startsWith(\"projects/_/buckets/BUCKET/objects/PREFIX\")."
  value       = local.expression
}

output "title" {
  description = "Condition title (stable for a given prefix; at most 100 characters as IAM requires)."
  value       = local.title
}

output "description" {
  description = "Human-readable condition description."
  value       = local.description
}

output "object_name_prefix" {
  description = "Full resource-name prefix the condition matches."
  value       = local.object_name_prefix
}

output "store_url" {
  description = "URL to pass to sessionstore's open_store: gs://BUCKET/PREFIX (PREFIX keeps its trailing '/')."
  value       = "gs://${var.bucket_name}/${var.session_prefix}"
}
