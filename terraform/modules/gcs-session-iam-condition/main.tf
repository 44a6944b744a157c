# The IAM condition that limits the runtime's object role to the session
# prefix. Cloud Storage evaluates object-level permissions (get, create,
# delete, update) against the object's resource name
#   projects/_/buckets/BUCKET/objects/OBJECT
# so a startsWith() on that name confines them to the prefix.
#
# storage.objects.list is checked against the *bucket*
# (projects/_/buckets/BUCKET), which never starts with ".../objects/PREFIX":
# a binding carrying this condition therefore grants no listing at all. The
# store module grants listing separately and says why.

locals {
  object_name_prefix = "projects/_/buckets/${var.bucket_name}/objects/${var.session_prefix}"
  expression         = "resource.name.startsWith(\"${local.object_name_prefix}\")"
  title              = "sessionstore-prefix-${substr(sha256(var.session_prefix), 0, 8)}"
  description        = "Only objects under gs://${var.bucket_name}/${var.session_prefix}"
}
