variable "bucket_name" {
  description = "Name of the home-region S3 bucket that every region writes sessions to."
  type        = string

  validation {
    condition = (
      length(var.bucket_name) >= 3 &&
      length(var.bucket_name) <= 63 &&
      can(regex("^[a-z0-9][a-z0-9-]*[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "xn--") &&
      !startswith(var.bucket_name, "sthree-") &&
      !endswith(var.bucket_name, "-s3alias") &&
      !endswith(var.bucket_name, "--ol-s3")
    )
    error_message = "bucket_name must be 3-63 characters of a-z, 0-9 and '-', start and end with a letter or digit, and not use a reserved S3 prefix or suffix. Dots are rejected: they break TLS certificate matching for virtual-hosted requests, and this bucket refuses plain HTTP."
  }
}

variable "session_prefix" {
  description = "Key prefix the sessions live under, e.g. \"sessions/\" or \"agents/prod/\". No leading slash, must end with '/'. Every runtime grant is scoped to it."
  type        = string

  validation {
    # The character set excludes '*', '?' and '$', which IAM would read as
    # wildcards or policy variables inside the ARN and the s3:prefix condition.
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._=+@:-]*(/[A-Za-z0-9._=+@:-]+)*/$", var.session_prefix)) && length(var.session_prefix) <= 512
    error_message = "session_prefix must be non-empty, must not start with '/', must end with '/', must not contain empty segments ('//'), and may only use A-Z a-z 0-9 . _ = + @ : - and '/'."
  }
}

variable "partition" {
  description = "AWS partition of every ARN built here."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.partition)
    error_message = "partition must be one of aws, aws-cn, aws-us-gov."
  }
}

variable "home_region" {
  description = "Region of the home bucket. Used to pin the runtime's KMS use to S3 in that region (kms:ViaService)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", var.home_region))
    error_message = "home_region must look like an AWS region name, e.g. us-east-1."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key the bucket encrypts with (a key ARN, not an alias: grants on aliases do not cover the key)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "enforce_conditional_writes" {
  description = "Deny every PutObject/CompleteMultipartUpload on the session prefix that carries neither If-Match nor If-None-Match, so no writer (however privileged) can bypass compare-and-swap. Side effect: CopyObject into the prefix stops working."
  type        = bool
  default     = true
}

variable "account_id" {
  description = "Account that owns the KMS key. When set, kms_key_policy_json is produced (the account-root delegation that lets IAM policies grant key use). Null: no key policy output."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "replica_bucket_name" {
  description = "Name of the disaster-recovery replica bucket, or null when there is no replica. The replica is a read replica: its policy denies writes and deletes on the session prefix to everyone (replication itself uses s3:Replicate*, which that deny does not cover)."
  type        = string
  default     = null

  validation {
    condition = var.replica_bucket_name == null || (
      length(coalesce(var.replica_bucket_name, "x")) >= 3 &&
      length(coalesce(var.replica_bucket_name, "x")) <= 63 &&
      can(regex("^[a-z0-9][a-z0-9-]*[a-z0-9]$", coalesce(var.replica_bucket_name, "x")))
    )
    error_message = "replica_bucket_name must follow the same rules as bucket_name (3-63 characters of a-z, 0-9, '-', no dots)."
  }

  validation {
    condition     = var.replica_bucket_name != var.bucket_name
    error_message = "replica_bucket_name must differ from bucket_name."
  }
}

variable "replica_region" {
  description = "Region of the replica bucket. Must differ from home_region. Required when replica_bucket_name is set."
  type        = string
  default     = null

  validation {
    condition     = (var.replica_bucket_name == null) == (var.replica_region == null)
    error_message = "Set replica_region exactly when replica_bucket_name is set."
  }

  validation {
    condition     = var.replica_region == null || var.replica_region != var.home_region
    error_message = "replica_region must differ from home_region: a same-region replica protects against nothing this module is for."
  }

  validation {
    condition     = var.replica_region == null || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+$", coalesce(var.replica_region, "x")))
    error_message = "replica_region must look like an AWS region name, e.g. eu-west-1."
  }
}

variable "replica_kms_key_arn" {
  description = "ARN of the KMS key (in replica_region) that replicas are encrypted with. Required when replica_bucket_name is set."
  type        = string
  default     = null

  validation {
    condition     = (var.replica_bucket_name == null) == (var.replica_kms_key_arn == null)
    error_message = "Set replica_kms_key_arn exactly when replica_bucket_name is set."
  }

  validation {
    condition     = var.replica_kms_key_arn == null || can(regex("^arn:aws(-cn|-us-gov)?:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.replica_kms_key_arn, "x")))
    error_message = "replica_kms_key_arn must be a KMS key ARN."
  }
}

variable "replica_read_only" {
  description = "Deny PutObject/DeleteObject/DeleteObjectVersion on the replica's session prefix to every principal. Turn off only during a declared failover, after every writer has been moved."
  type        = bool
  default     = true
}
