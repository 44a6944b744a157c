# Offline tests of the S3 policy documents: no provider, no credentials.
# Run from the module directory: terraform init -backend=false && terraform test

variables {
  bucket_name    = "acme-agent-sessions"
  session_prefix = "sessions/"
  home_region    = "us-east-1"
  kms_key_arn    = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  account_id     = "111122223333"
}

run "bucket_policy_denies_plain_http_and_old_tls" {
  command = apply

  assert {
    condition = one([
      for s in jsondecode(output.bucket_policy_json).Statement : s
      if s.Sid == "DenyInsecureTransport"
      && s.Effect == "Deny"
      && s.Principal == "*"
      && s.Action == "s3:*"
      && toset(s.Resource) == toset(["arn:aws:s3:::acme-agent-sessions", "arn:aws:s3:::acme-agent-sessions/*"])
      && s.Condition == { Bool = { "aws:SecureTransport" = "false" } }
    ]) != null
    error_message = "The bucket policy must deny s3:* on the bucket and its objects when aws:SecureTransport is false."
  }

  assert {
    condition = one([
      for s in jsondecode(output.bucket_policy_json).Statement : s
      if s.Sid == "DenyOutdatedTls"
      && s.Effect == "Deny"
      && s.Principal == "*"
      && s.Action == "s3:*"
      && toset(s.Resource) == toset(["arn:aws:s3:::acme-agent-sessions", "arn:aws:s3:::acme-agent-sessions/*"])
      && s.Condition == { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
    ]) != null
    error_message = "The bucket policy must deny s3:* when s3:TlsVersion is below 1.2."
  }

  assert {
    condition     = length([for s in jsondecode(output.bucket_policy_json).Statement : s if s.Effect != "Deny"]) == 0
    error_message = "The bucket policy must only deny; grants belong on the runtime role."
  }
}

run "conditional_writes_enforced_by_default" {
  command = apply

  assert {
    condition = one([
      for s in jsondecode(output.bucket_policy_json).Statement : s
      if s.Sid == "DenyUnconditionalSessionWrites"
      && s.Effect == "Deny"
      && s.Principal == "*"
      && s.Action == "s3:PutObject"
      && s.Resource == "arn:aws:s3:::acme-agent-sessions/sessions/*"
      && s.Condition == {
        Null = { "s3:if-match" = "true", "s3:if-none-match" = "true" }
        Bool = { "s3:ObjectCreationOperation" = "true" }
      }
    ]) != null
    error_message = "With enforce_conditional_writes (default true) the policy must deny PutObject on the prefix when both If-Match and If-None-Match are absent."
  }

  assert {
    condition     = length(jsondecode(output.bucket_policy_json).Statement) == 3
    error_message = "Expected exactly the TLS deny, the TLS 1.2 deny and the CAS deny."
  }
}

run "conditional_writes_not_enforced_when_off" {
  command = apply

  variables {
    enforce_conditional_writes = false
  }

  assert {
    condition     = length([for s in jsondecode(output.bucket_policy_json).Statement : s if s.Sid == "DenyUnconditionalSessionWrites"]) == 0
    error_message = "The CAS deny must be absent when enforce_conditional_writes is false."
  }

  assert {
    condition     = !strcontains(output.bucket_policy_json, "s3:if-none-match")
    error_message = "No statement may mention s3:if-none-match when enforcement is off."
  }

  assert {
    condition     = toset([for s in jsondecode(output.bucket_policy_json).Statement : s.Sid]) == toset(["DenyInsecureTransport", "DenyOutdatedTls"])
    error_message = "The TLS denies must stay when CAS enforcement is off."
  }
}

run "runtime_policy_is_least_privilege" {
  command = apply

  assert {
    condition     = length(jsondecode(output.runtime_policy_json).Statement) == 3
    error_message = "The runtime policy must have exactly three statements (objects, list, kms)."
  }

  assert {
    condition     = alltrue([for s in jsondecode(output.runtime_policy_json).Statement : s.Effect == "Allow" && !contains(s.Resource, "*")])
    error_message = "Every runtime statement must allow on named resources, never on \"*\"."
  }

  assert {
    condition = toset(flatten([for s in jsondecode(output.runtime_policy_json).Statement : s.Action])) == toset([
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey",
    ])
    error_message = "The runtime may use exactly Get/Put/DeleteObject, ListBucket, kms:Decrypt and kms:GenerateDataKey."
  }

  assert {
    condition = one([
      for s in jsondecode(output.runtime_policy_json).Statement : s
      if toset(s.Action) == toset(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
      && s.Resource == ["arn:aws:s3:::acme-agent-sessions/sessions/*"]
      && !can(s.Condition)
    ]) != null
    error_message = "Object actions must be scoped to arn:aws:s3:::BUCKET/PREFIX* only."
  }

  assert {
    condition = one([
      for s in jsondecode(output.runtime_policy_json).Statement : s
      if s.Action == ["s3:ListBucket"]
      && s.Resource == ["arn:aws:s3:::acme-agent-sessions"]
      && !can(s.Condition)
    ]) != null
    error_message = "ListBucket must be on the session bucket only, unconditioned (a GetObject of a missing key needs it to answer 404, not 403)."
  }

  assert {
    condition = one([
      for s in jsondecode(output.runtime_policy_json).Statement : s
      if toset(s.Action) == toset(["kms:Decrypt", "kms:GenerateDataKey"])
      && s.Resource == ["arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
      && s.Condition == { StringEquals = { "kms:ViaService" = "s3.us-east-1.amazonaws.com" } }
    ]) != null
    error_message = "KMS use must be limited to the bucket key, via S3 in the home region."
  }

  assert {
    condition     = output.store_url == "s3://acme-agent-sessions/sessions/"
    error_message = "store_url must be s3://BUCKET/PREFIX."
  }

  assert {
    condition     = output.session_objects_arn == "arn:aws:s3:::acme-agent-sessions/sessions/*"
    error_message = "session_objects_arn must be bucket/prefix*."
  }
}

run "nested_prefix_and_other_partition" {
  command = apply

  variables {
    partition      = "aws-us-gov"
    session_prefix = "agents/prod/"
    home_region    = "us-gov-west-1"
    kms_key_arn    = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = one([for s in jsondecode(output.runtime_policy_json).Statement : s.Resource if s.Sid == "SessionObjectsReadWrite"]) == ["arn:aws-us-gov:s3:::acme-agent-sessions/agents/prod/*"]
    error_message = "The object ARN must follow partition and prefix."
  }

  assert {
    condition     = one([for s in jsondecode(output.runtime_policy_json).Statement : s.Resource if s.Sid == "SessionBucketList"]) == ["arn:aws-us-gov:s3:::acme-agent-sessions"]
    error_message = "The list grant must follow the partition."
  }
}

run "kms_key_policy_delegates_to_account" {
  command = apply

  assert {
    condition = jsondecode(output.kms_key_policy_json).Statement == [{
      Sid       = "EnableIamPolicies"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::111122223333:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
    error_message = "The key policy must be the account-root delegation only."
  }
}

run "no_replica_by_default" {
  command = apply

  assert {
    condition     = output.replica_bucket_policy_json == null && output.replication_role_policy_json == null
    error_message = "Without a replica there must be no replica or replication policy."
  }
}

run "replica_is_read_only" {
  command = apply

  variables {
    replica_bucket_name = "acme-agent-sessions-dr"
    replica_region      = "eu-west-1"
    replica_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abcd1234-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition = one([
      for s in jsondecode(output.replica_bucket_policy_json).Statement : s
      if s.Sid == "DenyWritesToReadReplica"
      && s.Effect == "Deny"
      && s.Principal == "*"
      && toset(s.Action) == toset(["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"])
      && s.Resource == "arn:aws:s3:::acme-agent-sessions-dr/sessions/*"
    ]) != null
    error_message = "The replica must deny every write and delete on the session prefix."
  }

  assert {
    condition = toset([for s in jsondecode(output.replica_bucket_policy_json).Statement : s.Sid]) == toset([
      "DenyInsecureTransport", "DenyOutdatedTls", "DenyWritesToReadReplica",
    ])
    error_message = "The replica policy must keep the TLS denies."
  }

  assert {
    condition     = !strcontains(output.replica_bucket_policy_json, "s3:Replicate")
    error_message = "The replica deny must not block replication itself."
  }

  assert {
    condition = one([
      for s in jsondecode(output.replication_role_policy_json).Statement : s.Resource if s.Sid == "WriteReplicas"
    ]) == ["arn:aws:s3:::acme-agent-sessions-dr/sessions/*"]
    error_message = "Replication may only write replicas of the session prefix."
  }

  assert {
    condition = one([
      for s in jsondecode(output.replication_role_policy_json).Statement : s if s.Sid == "EncryptReplica"
    ]).Condition == { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" } }
    error_message = "The replica key may only be used via S3 in the replica region."
  }

  assert {
    condition     = !strcontains(output.replication_role_policy_json, "s3:PutObject")
    error_message = "Replication must not be granted PutObject."
  }
}

run "replica_writable_during_failover" {
  command = apply

  variables {
    replica_bucket_name = "acme-agent-sessions-dr"
    replica_region      = "eu-west-1"
    replica_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abcd1234-12ab-34cd-56ef-1234567890ab"
    replica_read_only   = false
  }

  assert {
    condition     = length([for s in jsondecode(output.replica_bucket_policy_json).Statement : s if s.Sid == "DenyWritesToReadReplica"]) == 0
    error_message = "replica_read_only = false must drop the replica write deny."
  }
}

# --- input validation -------------------------------------------------------

run "rejects_prefix_with_leading_slash" {
  command = plan
  variables {
    session_prefix = "/sessions/"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_prefix_without_trailing_slash" {
  command = plan
  variables {
    session_prefix = "sessions"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_prefix_with_wildcard" {
  command = plan
  variables {
    session_prefix = "sess*/"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_empty_segment" {
  command = plan
  variables {
    session_prefix = "a//b/"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_uppercase_bucket" {
  command = plan
  variables {
    bucket_name = "Acme_Sessions"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_dotted_bucket" {
  command = plan
  variables {
    bucket_name = "acme.sessions"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_kms_alias" {
  command = plan
  variables {
    kms_key_arn = "arn:aws:kms:us-east-1:111122223333:alias/sessions"
  }
  expect_failures = [var.kms_key_arn]
}

run "rejects_same_region_replica" {
  command = plan
  variables {
    replica_bucket_name = "acme-agent-sessions-dr"
    replica_region      = "us-east-1"
    replica_kms_key_arn = "arn:aws:kms:us-east-1:111122223333:key/abcd1234-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [var.replica_region]
}

run "rejects_replica_without_region" {
  command = plan
  variables {
    replica_bucket_name = "acme-agent-sessions-dr"
    replica_kms_key_arn = "arn:aws:kms:eu-west-1:111122223333:key/abcd1234-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [var.replica_region]
}
