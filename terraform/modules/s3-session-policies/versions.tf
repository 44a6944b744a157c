terraform {
  # 1.9 is the first release whose `validation` blocks may refer to other
  # variables (replica_region is checked against home_region).
  required_version = ">= 1.9.0"

  # No required_providers: this module builds JSON with jsonencode() only, so
  # it can be validated and `terraform test`ed without reaching a registry.
}
