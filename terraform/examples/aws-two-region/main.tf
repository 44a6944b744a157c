# Two-region serverless agents sharing one home S3 bucket.
#
#   Lambda (us-east-1) --\
#                         >--> s3://BUCKET/sessions/  (home region, CAS decided here)
#   Lambda (eu-west-1) --/              |
#                                       | one-way replication (read replica)
#                                       v
#                                 s3://BUCKET-dr/sessions/  (dr_region, writes denied)
#
# A session started in us-east-1 can be resumed in eu-west-1: both functions
# read and conditionally write the same objects in the same bucket, so a
# stale writer in either region gets 412 Precondition Failed instead of
# silently overwriting.

module "session_store" {
  source = "../../modules/s3-session-store"

  providers = {
    aws         = aws
    aws.replica = aws.dr
  }

  bucket_name                        = var.bucket_name
  session_prefix                     = "sessions/"
  home_region                        = var.home_region
  enforce_conditional_writes         = true
  idle_session_expiration_days       = 90
  noncurrent_version_expiration_days = 14

  enable_replication = true
  replica_region     = var.dr_region

  tags = { app = "agents" }
}

# One execution role for both regional functions (IAM is global).
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "agent" {
  name               = local.agent_name
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# The only data-plane permission the agent has: sessions under the prefix.
resource "aws_iam_role_policy_attachment" "agent_sessions" {
  role       = aws_iam_role.agent.name
  policy_arn = module.session_store.runtime_policy_arn
}

# Logs and X-Ray traces only.
resource "aws_iam_role_policy_attachment" "agent_logs" {
  role       = aws_iam_role.agent.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy_attachment" "agent_xray" {
  role       = aws_iam_role.agent.name
  policy_arn = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

locals {
  # Lambda function and IAM role names are limited to 64 characters.
  agent_name = "${substr(var.bucket_name, 0, 58)}-agent"

  agent_environment = {
    # Passed by the handler to sessionstore's open_store. The variable names
    # are this example's choice, not something the library reads by itself.
    SESSIONSTORE_URL       = module.session_store.store_url
    SESSIONSTORE_S3_REGION = module.session_store.bucket_region
  }
}

resource "aws_cloudwatch_log_group" "agent_us" {
  provider          = aws.us_east_1
  name              = "/aws/lambda/${local.agent_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_log_group" "agent_eu" {
  provider          = aws.eu_west_1
  name              = "/aws/lambda/${local.agent_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "agent_us" {
  provider = aws.us_east_1

  function_name                  = local.agent_name
  role                           = aws_iam_role.agent.arn
  runtime                        = "python3.12"
  handler                        = var.lambda_handler
  filename                       = var.lambda_package_path
  source_code_hash               = filebase64sha256(var.lambda_package_path)
  timeout                        = 60
  memory_size                    = 512
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = local.agent_environment
  }

  depends_on = [aws_cloudwatch_log_group.agent_us]
}

resource "aws_lambda_function" "agent_eu" {
  provider = aws.eu_west_1

  function_name                  = local.agent_name
  role                           = aws_iam_role.agent.arn
  runtime                        = "python3.12"
  handler                        = var.lambda_handler
  filename                       = var.lambda_package_path
  source_code_hash               = filebase64sha256(var.lambda_package_path)
  timeout                        = 60
  memory_size                    = 512
  reserved_concurrent_executions = var.lambda_reserved_concurrency

  tracing_config {
    mode = "Active"
  }

  environment {
    variables = local.agent_environment
  }

  depends_on = [aws_cloudwatch_log_group.agent_eu]
}
