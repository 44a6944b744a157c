variable "project_id" {
  description = "Project that owns the bucket (and the list-only custom role, when the module creates it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be 6-30 characters of a-z, 0-9 and '-', starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the dual-region bucket every region's agents write to."
  type        = string

  validation {
    condition = (
      length(var.bucket_name) >= 3 &&
      length(var.bucket_name) <= 63 &&
      can(regex("^[a-z0-9][a-z0-9_-]*[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "goog") &&
      !strcontains(var.bucket_name, "google")
    )
    error_message = "bucket_name must be 3-63 characters of a-z, 0-9, '-' and '_', start and end with a letter or digit, and not begin with \"goog\" or contain \"google\"."
  }
}

variable "session_prefix" {
  description = "Object-name prefix the sessions live under. No leading slash, must end with '/'. The runtime's object role is conditioned on it."
  type        = string
  default     = "sessions/"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._=+@:-]*(/[A-Za-z0-9._=+@:-]+)*/$", var.session_prefix)) && length(var.session_prefix) <= 512
    error_message = "session_prefix must be non-empty, must not start with '/', must end with '/', must not contain '//', and may only use A-Z a-z 0-9 . _ = + @ : - and '/'."
  }
}

variable "location" {
  description = "Multi-region that contains both data_locations: US, EU or ASIA (configurable dual-region)."
  type        = string

  validation {
    condition     = contains(["US", "EU", "ASIA"], var.location)
    error_message = "location must be US, EU or ASIA (upper case): a configurable dual-region is named by the multi-region that contains its two regions."
  }
}

variable "data_locations" {
  description = "The two regions of the dual-region, upper case, e.g. [\"US-CENTRAL1\", \"US-EAST4\"]. Both must lie in location."
  type        = list(string)

  validation {
    condition     = length(var.data_locations) == 2 && length(distinct(var.data_locations)) == 2
    error_message = "data_locations must name exactly two different regions."
  }

  validation {
    condition     = alltrue([for r in var.data_locations : can(regex("^[A-Z]+-[A-Z]+[0-9]+$", r))])
    error_message = "data_locations must be upper-case region names such as US-EAST4 or EUROPE-WEST1."
  }

  validation {
    condition = alltrue([
      for r in var.data_locations : anytrue([
        for p in lookup({
          US   = ["US-", "NORTHAMERICA-"]
          EU   = ["EUROPE-"]
          ASIA = ["ASIA-"]
        }, var.location, []) : startswith(r, p)
      ])
    ])
    error_message = "Both data_locations must lie in location (US: US-*/NORTHAMERICA-*, EU: EUROPE-*, ASIA: ASIA-*). Google's list of dual-region pairs is authoritative."
  }
}

variable "turbo_replication" {
  description = "Turbo replication (rpo = ASYNC_TURBO): Google targets replication of new objects to both regions within 15 minutes. Consistency does not depend on it; it shortens the window in which a regional outage can hide the newest version."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days a superseded (noncurrent) session generation is kept before deletion."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days > 0 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number greater than 0."
  }
}

variable "idle_session_expiration_days" {
  description = "Delete live sessions not written for this many days (GCS age counts from the current generation's creation, i.e. the last write). Null: never."
  type        = number
  default     = null

  validation {
    condition     = var.idle_session_expiration_days == null || try(var.idle_session_expiration_days > 0 && floor(var.idle_session_expiration_days) == var.idle_session_expiration_days, false)
    error_message = "idle_session_expiration_days must be null or a whole number greater than 0."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which an unfinished XML-API multipart upload is aborted."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days > 0 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number greater than 0."
  }
}

variable "soft_delete_retention_days" {
  description = "Soft delete retention: deleted or overwritten objects stay restorable this many days. 0 disables soft delete; otherwise 7-90."
  type        = number
  default     = 7

  validation {
    condition     = var.soft_delete_retention_days == 0 || (var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90 && floor(var.soft_delete_retention_days) == var.soft_delete_retention_days)
    error_message = "soft_delete_retention_days must be 0 or a whole number from 7 to 90."
  }
}

variable "kms_key_name" {
  description = "Cloud KMS key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for default CMEK encryption. Null: Google-managed encryption."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_name == null || can(regex("^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$", coalesce(var.kms_key_name, "x")))
    error_message = "kms_key_name must be projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY."
  }
}

variable "grant_kms_to_storage_service_agent" {
  description = "Grant the project's Cloud Storage service agent roles/cloudkms.cryptoKeyEncrypterDecrypter on kms_key_name (needed for CMEK). Set false if the key's IAM is managed elsewhere."
  type        = bool
  default     = true
}

variable "runtime_service_account_email" {
  description = "Service account the agent runtime (Cloud Run, GKE, Functions) runs as."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9-]+@[a-z0-9-]+\\.iam\\.gserviceaccount\\.com$", var.runtime_service_account_email)) || can(regex("^[0-9]+-compute@developer\\.gserviceaccount\\.com$", var.runtime_service_account_email))
    error_message = "runtime_service_account_email must be a service account email (NAME@PROJECT.iam.gserviceaccount.com)."
  }
}

variable "runtime_role" {
  description = "Object role granted on the session prefix (under an IAM condition): roles/storage.objectUser (default: read, create, overwrite, delete) or roles/storage.objectAdmin (adds object IAM/ACL permissions the runtime does not need)."
  type        = string
  default     = "roles/storage.objectUser"

  validation {
    condition     = contains(["roles/storage.objectUser", "roles/storage.objectAdmin"], var.runtime_role)
    error_message = "runtime_role must be roles/storage.objectUser or roles/storage.objectAdmin."
  }
}

variable "list_access" {
  description = "How the runtime may list objects. \"bucket\" (default): storage.objects.list on this bucket only, unconditioned (see README: listing cannot be prefix-conditioned like object access). \"none\": no listing; sessionstore's list operation then fails with 403."
  type        = string
  default     = "bucket"

  validation {
    condition     = contains(["bucket", "none"], var.list_access)
    error_message = "list_access must be \"bucket\" or \"none\"."
  }
}

variable "list_role" {
  description = "Role granting storage.objects.list, bound on this bucket when list_access = \"bucket\". Null: the module creates a project custom role holding exactly that permission."
  type        = string
  default     = null
}

variable "list_role_id" {
  description = "role_id of the custom list-only role the module creates when list_role is null. Custom roles are per project: give each module instance in one project its own id, or create the role once and pass it as list_role."
  type        = string
  default     = "sessionstoreObjectLister"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.]{3,64}$", var.list_role_id))
    error_message = "list_role_id must be 3-64 characters of letters, digits, '_' and '.'."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives usage logs for the session bucket. Null: none (use Cloud Audit Logs data access logs instead)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels applied to the bucket."
  type        = map(string)
  default     = {}
}
