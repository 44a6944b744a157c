output "store_url" {
  description = "Pass this to sessionstore's open_store in every region: s3://BUCKET/PREFIX."
  value       = module.policies.store_url
}

output "bucket_name" {
  description = "Name of the home bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the home bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_region" {
  description = "Region of the home bucket. Configure every region's S3 client for this region to avoid a redirect on first use."
  value       = var.home_region
}

output "session_prefix" {
  description = "Key prefix of the sessions."
  value       = var.session_prefix
}

output "kms_key_arn" {
  description = "KMS key the bucket encrypts with (created or given)."
  value       = local.kms_key_arn
}

output "bucket_policy_json" {
  description = "The bucket policy applied to the home bucket."
  value       = module.policies.bucket_policy_json
}

output "runtime_policy_json" {
  description = "Least-privilege IAM policy for the agent runtime (objects under the prefix, prefix-limited listing, the bucket key via S3)."
  value       = module.policies.runtime_policy_json
}

output "runtime_policy_arn" {
  description = "ARN of the managed runtime policy, or null when create_runtime_policy is false."
  value       = var.create_runtime_policy ? aws_iam_policy.runtime[0].arn : null
}

output "replica_bucket_name" {
  description = "Name of the DR read replica, or null without replication."
  value       = var.enable_replication ? aws_s3_bucket.replica[0].id : null
}

output "replica_bucket_arn" {
  description = "ARN of the DR read replica, or null without replication."
  value       = var.enable_replication ? aws_s3_bucket.replica[0].arn : null
}

output "replication_role_arn" {
  description = "ARN of the S3 replication role, or null without replication."
  value       = var.enable_replication ? aws_iam_role.replication[0].arn : null
}
