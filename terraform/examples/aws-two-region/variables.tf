variable "bucket_name" {
  description = "Globally unique name of the home session bucket."
  type        = string
}

variable "home_region" {
  description = "Region of the home bucket. Both agent regions write here."
  type        = string
  default     = "us-east-1"
}

variable "dr_region" {
  description = "Region of the read-only disaster-recovery replica."
  type        = string
  default     = "us-west-2"
}

variable "lambda_package_path" {
  description = "Path to the agent's Lambda deployment zip (your handler plus sessionstore[s3])."
  type        = string
}

variable "lambda_handler" {
  description = "Handler of the agent function."
  type        = string
  default     = "agent.handler"
}

variable "lambda_reserved_concurrency" {
  description = "Reserved concurrency of each regional agent function."
  type        = number
  default     = 50
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 365
}
