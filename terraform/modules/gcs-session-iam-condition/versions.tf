terraform {
  required_version = ">= 1.9.0"

  # No required_providers: this module only builds the IAM condition
  # expression, so it can be validated and `terraform test`ed offline.
}
