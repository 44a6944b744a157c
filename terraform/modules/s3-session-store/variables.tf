variable "bucket_name" {
  description = "Name of the home-region bucket. Every region's agents write here: S3 decides a conditional write in one bucket only."
  type        = string

  validation {
    condition = (
      length(var.bucket_name) >= 3 &&
      length(var.bucket_name) <= 60 &&
      can(regex("^[a-z0-9][a-z0-9-]*[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "xn--") &&
      !startswith(var.bucket_name, "sthree-") &&
      !endswith(var.bucket_name, "-s3alias") &&
      !endswith(var.bucket_name, "--ol-s3")
    )
    error_message = "bucket_name must be 3-60 characters (60 leaves room for the \"-dr\" replica suffix) of a-z, 0-9 and '-', start and end with a letter or digit, and avoid reserved S3 prefixes/suffixes. Dots are rejected: they break TLS for virtual-hosted requests."
  }
}

variable "session_prefix" {
  description = "Key prefix the sessions live under. No leading slash, must end with '/'. The runtime can touch nothing outside it."
  type        = string
  default     = "sessions/"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._=+@:-]*(/[A-Za-z0-9._=+@:-]+)*/$", var.session_prefix)) && length(var.session_prefix) <= 512
    error_message = "session_prefix must be non-empty, must not start with '/', must end with '/', must not contain '//', and may only use A-Z a-z 0-9 . _ = + @ : - and '/'."
  }
}

variable "home_region" {
  description = "Region of the default aws provider, where the home bucket is created (e.g. us-east-1). Pins the runtime's KMS use to S3 in this region."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.home_region))
    error_message = "home_region must look like an AWS region name, e.g. us-east-1."
  }
}

variable "kms_key_arn" {
  description = "Existing KMS key ARN for default encryption. Null (default): the module creates a customer-managed key with yearly rotation."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.kms_key_arn, "x")))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before a created KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30 && floor(var.kms_key_deletion_window_days) == var.kms_key_deletion_window_days
    error_message = "kms_key_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "enforce_conditional_writes" {
  description = "Bucket policy denies PutObject/CompleteMultipartUpload on the session prefix without If-Match or If-None-Match, so no writer can bypass compare-and-swap. CopyObject into the prefix then fails (403/501)."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days a superseded (noncurrent) session version is kept before it is permanently deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days > 0 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number greater than 0."
  }
}

variable "idle_session_expiration_days" {
  description = "Expire sessions not written for this many days (S3 counts from the current version's last write). Null: sessions never expire."
  type        = number
  default     = null

  validation {
    condition     = var.idle_session_expiration_days == null || try(var.idle_session_expiration_days > 0 && floor(var.idle_session_expiration_days) == var.idle_session_expiration_days, false)
    error_message = "idle_session_expiration_days must be null or a whole number greater than 0."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which an unfinished multipart upload is aborted and its parts deleted."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days > 0 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number greater than 0."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives S3 server access logs for the session bucket. Null: no access logging (use CloudTrail data events instead)."
  type        = string
  default     = null
}

variable "access_log_prefix" {
  description = "Key prefix for access log objects in access_log_bucket."
  type        = string
  default     = "s3-access/sessionstore/"
}

variable "create_runtime_policy" {
  description = "Create a managed IAM policy from runtime_policy_json for attaching to the agent runtime's role."
  type        = bool
  default     = true
}

variable "runtime_policy_name" {
  description = "Name of the managed runtime policy. Null: \"<bucket_name>-sessionstore-runtime\"."
  type        = string
  default     = null

  validation {
    condition     = var.runtime_policy_name == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,128}$", coalesce(var.runtime_policy_name, "x")))
    error_message = "runtime_policy_name must be 1-128 characters of A-Z a-z 0-9 + = , . @ _ -."
  }
}

variable "enable_replication" {
  description = "Create a disaster-recovery bucket in replica_region and replicate the session prefix one way into it. It is a read replica, never a second writer."
  type        = bool
  default     = false
}

variable "replica_region" {
  description = "Region of the aws.replica provider, where the DR bucket is created. Required when enable_replication; must differ from home_region."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_replication || var.replica_region != null
    error_message = "replica_region is required when enable_replication is true."
  }

  validation {
    condition     = var.replica_region == null || var.replica_region != var.home_region
    error_message = "replica_region must differ from home_region."
  }

  validation {
    condition     = var.replica_region == null || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", coalesce(var.replica_region, "x")))
    error_message = "replica_region must look like an AWS region name, e.g. eu-west-1."
  }
}

variable "replica_bucket_name" {
  description = "Name of the DR bucket. Null: \"<bucket_name>-dr\"."
  type        = string
  default     = null

  validation {
    condition     = var.replica_bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", coalesce(var.replica_bucket_name, "x")))
    error_message = "replica_bucket_name must be 3-63 characters of a-z, 0-9 and '-' (no dots)."
  }
}

variable "replica_read_only" {
  description = "Replica bucket policy denies PutObject/DeleteObject/DeleteObjectVersion on the session prefix to everyone. Set false only during a declared failover, after all writers have moved."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every taggable resource."
  type        = map(string)
  default     = {}
}
