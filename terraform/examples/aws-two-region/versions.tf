terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40.0, < 7.0.0"
    }
  }
}

# The home region holds the one bucket every agent writes to.
provider "aws" {
  region = var.home_region
}

# Agent regions. Lambda functions are regional; IAM is global.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

provider "aws" {
  alias  = "eu_west_1"
  region = "eu-west-1"
}

# Disaster-recovery region for the read replica.
provider "aws" {
  alias  = "dr"
  region = var.dr_region
}
