# Offline tests of the GCS IAM condition: no provider, no credentials.

variables {
  bucket_name    = "acme-agent-sessions"
  session_prefix = "sessions/"
}

run "expression_limits_to_prefix" {
  command = apply

  assert {
    condition     = output.expression == "resource.name.startsWith(\"projects/_/buckets/acme-agent-sessions/objects/sessions/\")"
    error_message = "The condition must be resource.name.startsWith(\"projects/_/buckets/BUCKET/objects/PREFIX\")."
  }

  assert {
    condition     = output.object_name_prefix == "projects/_/buckets/acme-agent-sessions/objects/sessions/"
    error_message = "object_name_prefix must end with the session prefix including its '/'."
  }

  assert {
    condition     = output.store_url == "gs://acme-agent-sessions/sessions/"
    error_message = "store_url must be gs://BUCKET/PREFIX."
  }

  assert {
    condition     = length(output.title) <= 100 && startswith(output.title, "sessionstore-prefix-")
    error_message = "The title must be short and recognisable."
  }
}

run "nested_prefix" {
  command = apply

  variables {
    session_prefix = "agents/prod/"
  }

  assert {
    condition     = output.expression == "resource.name.startsWith(\"projects/_/buckets/acme-agent-sessions/objects/agents/prod/\")"
    error_message = "A nested prefix must appear verbatim."
  }
}

run "rejects_leading_slash" {
  command = plan
  variables {
    session_prefix = "/sessions/"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_missing_trailing_slash" {
  command = plan
  variables {
    session_prefix = "sessions"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_quote_injection" {
  command = plan
  variables {
    session_prefix = "x\") || true || (\"/"
  }
  expect_failures = [var.session_prefix]
}

run "rejects_google_bucket_name" {
  command = plan
  variables {
    bucket_name = "google-sessions"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_uppercase_bucket_name" {
  command = plan
  variables {
    bucket_name = "Acme-Sessions"
  }
  expect_failures = [var.bucket_name]
}
