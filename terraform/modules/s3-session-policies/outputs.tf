output "bucket_arn" {
  description = "ARN of the home bucket."
  value       = local.bucket_arn
}

output "session_objects_arn" {
  description = "ARN pattern of the session objects (bucket/prefix*), the only objects the runtime may touch."
  value       = local.session_objects_arn
}

output "store_url" {
  description = "URL to pass to sessionstore's open_store: s3://BUCKET/PREFIX (PREFIX keeps its trailing '/')."
  value       = "s3://${var.bucket_name}/${var.session_prefix}"
}

output "bucket_policy_json" {
  description = "Bucket policy for the home bucket: TLS-only, TLS >= 1.2, and (when enforce_conditional_writes) no unconditional PutObject on the session prefix."
  value       = jsonencode(local.bucket_policy)
}

output "runtime_policy_json" {
  description = "IAM policy for the agent runtime: Get/Put/DeleteObject on bucket/prefix*, ListBucket on the session bucket, kms:Decrypt + kms:GenerateDataKey on the bucket key via S3."
  value       = jsonencode(local.runtime_policy)
}

output "kms_key_policy_json" {
  description = "Key policy for a bucket key created by the caller (account-root delegation). Null when account_id is null."
  value       = local.kms_key_policy == null ? null : jsonencode(local.kms_key_policy)
}

output "replica_bucket_policy_json" {
  description = "Bucket policy for the disaster-recovery replica (TLS rules plus, when replica_read_only, a deny on every write and delete under the prefix). Null without a replica."
  value       = local.replica_bucket_policy == null ? null : jsonencode(local.replica_bucket_policy)
}

output "replication_assume_role_policy_json" {
  description = "Trust policy letting S3 assume the replication role."
  value       = jsonencode(local.replication_assume_role_policy)
}

output "replication_role_policy_json" {
  description = "Permissions of the replication role (source versions -> replica, decrypt source key, encrypt with replica key). Null without a replica."
  value       = local.replication_role_policy == null ? null : jsonencode(local.replication_role_policy)
}
