# One configurable dual-region GCS bucket for sessionstore. Cloud Storage is
# strongly consistent for object reads, writes, deletes and listings across
# both regions of a dual-region bucket, and ifGenerationMatch preconditions
# are decided by the bucket as a whole, so Cloud Run services in either
# region can hand a session over through this one bucket. Replication
# between the two regions (default or turbo) only affects durability if a
# region is lost, never what a reader or a conditional writer sees.

locals {
  member           = "serviceAccount:${var.runtime_service_account_email}"
  use_cmek         = var.kms_key_name != null
  create_list_role = var.list_access == "bucket" && var.list_role == null
  labels           = merge({ "sessionstore-role" = "session-store" }, var.labels)
}

module "iam_condition" {
  source = "../gcs-session-iam-condition"

  bucket_name    = var.bucket_name
  session_prefix = var.session_prefix
}

# -----------------------------------------------------------------------------
# CMEK (optional)
# -----------------------------------------------------------------------------

data "google_storage_project_service_account" "this" {
  count   = local.use_cmek && var.grant_kms_to_storage_service_agent ? 1 : 0
  project = var.project_id
}

resource "google_kms_crypto_key_iam_member" "storage_agent" {
  count = local.use_cmek && var.grant_kms_to_storage_service_agent ? 1 : 0

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.this[0].email_address}"
}

# -----------------------------------------------------------------------------
# Bucket
# -----------------------------------------------------------------------------

resource "google_storage_bucket" "this" {
  name          = var.bucket_name
  project       = var.project_id
  location      = var.location
  storage_class = "STANDARD"
  force_destroy = false
  labels        = local.labels

  custom_placement_config {
    data_locations = var.data_locations
  }

  rpo = var.turbo_replication ? "ASYNC_TURBO" : "DEFAULT"

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_days * 86400
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_expiration_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = var.abort_incomplete_multipart_days
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = var.idle_session_expiration_days == null ? [] : [var.idle_session_expiration_days]

    content {
      condition {
        age            = lifecycle_rule.value
        matches_prefix = [var.session_prefix]
        with_state     = "LIVE"
      }
      action {
        type = "Delete"
      }
    }
  }

  dynamic "encryption" {
    for_each = local.use_cmek ? [var.kms_key_name] : []

    content {
      default_kms_key_name = encryption.value
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]

    content {
      log_bucket = logging.value
    }
  }

  # The storage service agent must be able to use the key before the bucket
  # is created with it as default.
  depends_on = [google_kms_crypto_key_iam_member.storage_agent]
}

# -----------------------------------------------------------------------------
# Runtime identity
# -----------------------------------------------------------------------------

# Object access (get, create, overwrite, delete) on the session prefix only.
# The condition matches object resource names; it never matches the bucket
# itself, so this binding grants no listing (see runtime_list below).
resource "google_storage_bucket_iam_member" "runtime_objects" {
  bucket = google_storage_bucket.this.name
  role   = var.runtime_role
  member = local.member

  condition {
    title       = module.iam_condition.title
    description = module.iam_condition.description
    expression  = module.iam_condition.expression
  }
}

# Listing. storage.objects.list is authorised against the bucket resource
# (projects/_/buckets/BUCKET), so a resource.name prefix condition cannot
# express "list only under PREFIX": it would simply never match. We choose a
# list-only role (exactly storage.objects.list) on this bucket, unconditioned.
# It reveals object names elsewhere in this bucket, never their contents, and
# nothing in other buckets. Keep the bucket dedicated to sessions, or set
# list_access = "none" if the application never lists.
resource "google_project_iam_custom_role" "lister" {
  count = local.create_list_role ? 1 : 0

  project     = var.project_id
  role_id     = var.list_role_id
  title       = "sessionstore object lister"
  description = "Exactly storage.objects.list; bound per bucket by the gcs-session-store module."
  permissions = ["storage.objects.list"]
}

resource "google_storage_bucket_iam_member" "runtime_list" {
  count = var.list_access == "bucket" ? 1 : 0

  bucket = google_storage_bucket.this.name
  role   = local.create_list_role ? google_project_iam_custom_role.lister[0].name : var.list_role
  member = local.member
}
