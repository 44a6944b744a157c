variable "project_id" {
  description = "Project for the bucket, the service account and both Cloud Run services."
  type        = string
}

variable "bucket_name" {
  description = "Globally unique name of the dual-region session bucket."
  type        = string
}

variable "agent_image" {
  description = "Container image of the agent (your server plus sessionstore[gcs])."
  type        = string
}

variable "regions" {
  description = "The two Cloud Run regions, lower case. They are also the bucket's two data locations."
  type        = list(string)
  default     = ["us-central1", "us-east4"]

  validation {
    condition     = length(var.regions) == 2 && length(distinct(var.regions)) == 2
    error_message = "regions must name two different regions."
  }
}
