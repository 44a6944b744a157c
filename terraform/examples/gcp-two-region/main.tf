# Two-region Cloud Run agents sharing one dual-region GCS bucket.
#
#   Cloud Run (us-central1) --\
#                              >--> gs://BUCKET/sessions/  dual-region US-CENTRAL1 + US-EAST4
#   Cloud Run (us-east4)    --/     (strongly consistent across both regions;
#                                    ifGenerationMatch decided once for the bucket)
#
# Each service runs in one of the bucket's two data locations, so reads and
# writes stay in-region while a session started in one region can be resumed
# in the other.

resource "google_service_account" "agent" {
  project      = var.project_id
  account_id   = "sessionstore-agent"
  display_name = "Agent runtime (sessionstore)"
}

module "session_store" {
  source = "../../modules/gcs-session-store"

  project_id     = var.project_id
  bucket_name    = var.bucket_name
  session_prefix = "sessions/"
  location       = "US"
  data_locations = [for r in var.regions : upper(r)]

  turbo_replication                  = true
  idle_session_expiration_days       = 90
  noncurrent_version_expiration_days = 14
  soft_delete_retention_days         = 7

  runtime_service_account_email = google_service_account.agent.email
  runtime_role                  = "roles/storage.objectUser"
  list_access                   = "bucket"

  labels = { app = "agents" }
}

resource "google_cloud_run_v2_service" "agent" {
  for_each = toset(var.regions)

  project  = var.project_id
  name     = "agent-${each.key}"
  location = each.key
  ingress  = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"

  template {
    service_account = google_service_account.agent.email

    containers {
      image = var.agent_image

      env {
        # Passed by the server to sessionstore's open_store (the variable
        # name is this example's choice).
        name  = "SESSIONSTORE_URL"
        value = module.session_store.store_url
      }
    }
  }
}
