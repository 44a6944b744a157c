output "store_url" {
  description = "The one URL both regions open."
  value       = module.session_store.store_url
}

output "service_uris" {
  description = "Cloud Run service URIs by region."
  value       = { for r, s in google_cloud_run_v2_service.agent : r => s.uri }
}

output "runtime_iam_policy_json" {
  description = "What the agents may do on the bucket (review this)."
  value       = module.session_store.runtime_iam_policy_json
}
