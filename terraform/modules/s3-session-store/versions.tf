terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 7.0.0"
      # aws.replica: the provider for the disaster-recovery region. Pass the
      # default provider again when enable_replication is false.
      configuration_aliases = [aws.replica]
    }
  }
}
