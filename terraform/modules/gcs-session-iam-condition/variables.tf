variable "bucket_name" {
  description = "Name of the GCS bucket the sessions live in."
  type        = string

  validation {
    condition = (
      length(var.bucket_name) >= 3 &&
      length(var.bucket_name) <= 63 &&
      can(regex("^[a-z0-9][a-z0-9_-]*[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "goog") &&
      !strcontains(var.bucket_name, "google")
    )
    error_message = "bucket_name must be 3-63 characters of a-z, 0-9, '-' and '_', start and end with a letter or digit, and not begin with \"goog\" or contain \"google\". Dotted (domain) names are not accepted here."
  }
}

variable "session_prefix" {
  description = "Object-name prefix the sessions live under, e.g. \"sessions/\". No leading slash, must end with '/'."
  type        = string

  validation {
    # No quotes or backslashes can reach the CEL string literal below.
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9._=+@:-]*(/[A-Za-z0-9._=+@:-]+)*/$", var.session_prefix)) && length(var.session_prefix) <= 512
    error_message = "session_prefix must be non-empty, must not start with '/', must end with '/', must not contain empty segments ('//'), and may only use A-Z a-z 0-9 . _ = + @ : - and '/'."
  }
}
