output "store_url" {
  description = "The one URL both regions open."
  value       = module.session_store.store_url
}

output "bucket_region" {
  description = "Home region of the session bucket."
  value       = module.session_store.bucket_region
}

output "replica_bucket_name" {
  description = "Read-only DR replica (do not point writers at it)."
  value       = module.session_store.replica_bucket_name
}

output "agent_function_arns" {
  description = "The two regional agent functions."
  value = {
    "us-east-1" = aws_lambda_function.agent_us.arn
    "eu-west-1" = aws_lambda_function.agent_eu.arn
  }
}

output "runtime_policy_json" {
  description = "What the agents may do (review this)."
  value       = module.session_store.runtime_policy_json
}
