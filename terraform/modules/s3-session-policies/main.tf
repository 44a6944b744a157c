# Provider-free construction of every policy document the S3 session store
# needs. Each statement is a named local (a plain HCL object) so that it can be
# asserted on both by `terraform test` (evaluated JSON) and by the Python tests
# (parsed HCL), and a weakened statement fails both.

locals {
  bucket_arn           = "arn:${var.partition}:s3:::${var.bucket_name}"
  session_objects_arn  = "arn:${var.partition}:s3:::${var.bucket_name}/${var.session_prefix}*"
  s3_kms_via_service   = "s3.${var.home_region}.amazonaws.com"
  has_replica          = var.replica_bucket_name != null
  replica_bucket_arn   = local.has_replica ? "arn:${var.partition}:s3:::${var.replica_bucket_name}" : null
  replica_objects_arn  = local.has_replica ? "arn:${var.partition}:s3:::${var.replica_bucket_name}/${var.session_prefix}*" : null
  replica_all_objects  = local.has_replica ? "arn:${var.partition}:s3:::${var.replica_bucket_name}/*" : null
  replica_via_service  = local.has_replica ? "s3.${var.replica_region}.amazonaws.com" : null
  runtime_object_verbs = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]

  # ---------------------------------------------------------------------------
  # Home bucket policy
  # ---------------------------------------------------------------------------

  # Any request over plain HTTP is refused, whoever sends it.
  deny_insecure_transport = {
    Sid       = "DenyInsecureTransport"
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:*"
    Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
    Condition = {
      Bool = { "aws:SecureTransport" = "false" }
    }
  }

  # TLS 1.0 and 1.1 are refused as well.
  deny_outdated_tls = {
    Sid       = "DenyOutdatedTls"
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:*"
    Resource  = [local.bucket_arn, "${local.bucket_arn}/*"]
    Condition = {
      NumericLessThan = { "s3:TlsVersion" = "1.2" }
    }
  }

  # Compare-and-swap cannot be bypassed: an object-creating PutObject (or
  # CompleteMultipartUpload) on the session prefix must carry If-Match or
  # If-None-Match. Both keys Null = neither header sent. The
  # s3:ObjectCreationOperation key exempts CreateMultipartUpload/UploadPart,
  # which cannot carry the headers (AWS "Enforce conditional writes" guide).
  deny_unconditional_session_writes = {
    Sid       = "DenyUnconditionalSessionWrites"
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:PutObject"
    Resource  = local.session_objects_arn
    Condition = {
      Null = {
        "s3:if-match"      = "true"
        "s3:if-none-match" = "true"
      }
      Bool = { "s3:ObjectCreationOperation" = "true" }
    }
  }

  bucket_policy_statements = concat(
    [local.deny_insecure_transport, local.deny_outdated_tls],
    var.enforce_conditional_writes ? [local.deny_unconditional_session_writes] : [],
  )

  bucket_policy = {
    Version   = "2012-10-17"
    Statement = local.bucket_policy_statements
  }

  # ---------------------------------------------------------------------------
  # Runtime identity policy (attach to the Lambda / ECS / EC2 role)
  # ---------------------------------------------------------------------------

  # Read, write and delete session objects: nothing outside the prefix, and no
  # version-level, ACL, tagging or bucket-configuration action.
  runtime_session_objects = {
    Sid      = "SessionObjectsReadWrite"
    Effect   = "Allow"
    Action   = local.runtime_object_verbs
    Resource = [local.session_objects_arn]
  }

  # ListBucket on the (dedicated) session bucket, without an s3:prefix
  # condition on purpose: S3 answers a GetObject of a missing key with 404 only
  # to callers allowed to list the bucket, and a GetObject carries no s3:prefix,
  # so a prefix-conditioned grant would turn "no such session" into 403 and
  # load() of every new session into AccessDenied. Listing reveals session
  # names only, never contents.
  runtime_list_bucket = {
    Sid      = "SessionBucketList"
    Effect   = "Allow"
    Action   = ["s3:ListBucket"]
    Resource = [local.bucket_arn]
  }

  # SSE-KMS: reads need Decrypt, writes need GenerateDataKey; only on this key
  # and only when S3 in the home region makes the call on the runtime's behalf.
  runtime_kms = {
    Sid      = "SessionKeyUseViaS3"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = [var.kms_key_arn]
    Condition = {
      StringEquals = { "kms:ViaService" = local.s3_kms_via_service }
    }
  }

  runtime_policy = {
    Version   = "2012-10-17"
    Statement = [local.runtime_session_objects, local.runtime_list_bucket, local.runtime_kms]
  }

  # ---------------------------------------------------------------------------
  # KMS key policy (the account-root delegation AWS applies by default, made
  # explicit so the key never ends up with a policy nobody can administer)
  # ---------------------------------------------------------------------------

  kms_key_policy = var.account_id == null ? null : {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EnableIamPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  }

  # ---------------------------------------------------------------------------
  # Disaster-recovery replica (one-way, read replica)
  # ---------------------------------------------------------------------------

  replica_deny_insecure_transport = local.has_replica ? merge(local.deny_insecure_transport, {
    Resource = [local.replica_bucket_arn, local.replica_all_objects]
  }) : null

  replica_deny_outdated_tls = local.has_replica ? merge(local.deny_outdated_tls, {
    Resource = [local.replica_bucket_arn, local.replica_all_objects]
  }) : null

  # Conditional writes are decided by each bucket alone: a write accepted by
  # the replica would race the home bucket's compare-and-swap. Nobody writes
  # to the replica's session prefix; S3 replication uses s3:ReplicateObject /
  # s3:ReplicateDelete, which this statement does not name.
  replica_deny_writes = {
    Sid       = "DenyWritesToReadReplica"
    Effect    = "Deny"
    Principal = "*"
    Action    = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"]
    Resource  = local.replica_objects_arn
  }

  replica_bucket_policy = local.has_replica ? {
    Version = "2012-10-17"
    Statement = concat(
      [local.replica_deny_insecure_transport, local.replica_deny_outdated_tls],
      var.replica_read_only ? [local.replica_deny_writes] : [],
    )
  } : null

  replication_assume_role_policy = {
    Version = "2012-10-17"
    Statement = [{
      Sid       = "S3ReplicationAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "s3.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  }

  replication_role_policy = local.has_replica ? {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadReplicationConfiguration"
        Effect   = "Allow"
        Action   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
        Resource = [local.bucket_arn]
      },
      {
        Sid      = "ReadSourceVersions"
        Effect   = "Allow"
        Action   = ["s3:GetObjectVersionAcl", "s3:GetObjectVersionForReplication", "s3:GetObjectVersionTagging"]
        Resource = [local.session_objects_arn]
      },
      {
        Sid      = "WriteReplicas"
        Effect   = "Allow"
        Action   = ["s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags"]
        Resource = [local.replica_objects_arn]
      },
      {
        Sid      = "DecryptSource"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [var.kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = local.s3_kms_via_service }
        }
      },
      {
        Sid      = "EncryptReplica"
        Effect   = "Allow"
        Action   = ["kms:Encrypt", "kms:GenerateDataKey"]
        Resource = [var.replica_kms_key_arn]
        Condition = {
          StringEquals = { "kms:ViaService" = local.replica_via_service }
        }
      },
    ]
  } : null
}
