# One home-region S3 bucket for sessionstore, set up the way its
# compare-and-swap guarantees assume:
#   * every region writes to this one bucket (S3 decides If-Match /
#     If-None-Match per bucket; two buckets = two independent truths);
#   * versioning on, so an overwritten or deleted session can be recovered;
#   * SSE-KMS with a customer-managed, rotated key;
#   * no public access, no ACLs (BucketOwnerEnforced);
#   * a bucket policy that refuses plain HTTP, TLS < 1.2 and (optionally)
#     any unconditional write to the session prefix;
#   * optional one-way replication to a read-only DR bucket.
# The policy JSON is built by the provider-free ../s3-session-policies module.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  create_kms_key      = var.kms_key_arn == null
  kms_key_arn         = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn
  replica_bucket_name = coalesce(var.replica_bucket_name, "${var.bucket_name}-dr")
  runtime_policy_name = coalesce(var.runtime_policy_name, "${var.bucket_name}-sessionstore-runtime")
  tags                = merge({ "sessionstore:role" = "session-store" }, var.tags)
}

module "policies" {
  source = "../s3-session-policies"

  bucket_name                = var.bucket_name
  session_prefix             = var.session_prefix
  partition                  = data.aws_partition.current.partition
  home_region                = var.home_region
  kms_key_arn                = local.kms_key_arn
  enforce_conditional_writes = var.enforce_conditional_writes
  account_id                 = data.aws_caller_identity.current.account_id

  replica_bucket_name = var.enable_replication ? local.replica_bucket_name : null
  replica_region      = var.enable_replication ? var.replica_region : null
  replica_kms_key_arn = var.enable_replication ? aws_kms_key.replica[0].arn : null
  replica_read_only   = var.replica_read_only
}

# -----------------------------------------------------------------------------
# Encryption key
# -----------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "sessionstore bucket ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = module.policies.kms_key_policy_json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/sessionstore/${var.bucket_name}"
  target_key_id = aws_kms_key.this[0].key_id
}

# -----------------------------------------------------------------------------
# Home bucket
# -----------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    # One data key per bucket instead of one KMS call per session write.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }

  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Always declared, enabled only when idle_session_expiration_days is set.
  # (A static rule rather than a dynamic block: checkov's renderer drops the
  # static rules when a dynamic "rule" sits next to them, and would then
  # misreport the multipart-abort rule as missing.) The placeholder of
  # 36500 days only applies while the rule is Disabled.
  rule {
    id     = "expire-idle-sessions"
    status = var.idle_session_expiration_days == null ? "Disabled" : "Enabled"

    filter {
      prefix = var.session_prefix
    }

    expiration {
      days = coalesce(var.idle_session_expiration_days, 36500)
    }
  }

  # Lifecycle rules on noncurrent versions need versioning in place first.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = module.policies.bucket_policy_json

  # A policy put before the public access block is in place can be rejected
  # or briefly evaluated without it.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = var.access_log_prefix
}

# -----------------------------------------------------------------------------
# Runtime policy (attach to the Lambda / ECS task / EC2 role)
# -----------------------------------------------------------------------------

resource "aws_iam_policy" "runtime" {
  count = var.create_runtime_policy ? 1 : 0

  name        = local.runtime_policy_name
  description = "sessionstore runtime: read/write/delete s3://${var.bucket_name}/${var.session_prefix} only"
  policy      = module.policies.runtime_policy_json
  tags        = local.tags
}
