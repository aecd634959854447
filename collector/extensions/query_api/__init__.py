"""The `query_api` extension: a tenant-scoped JSON read API over the stored traces and a trace
viewer in the browser, both served on one port (docs/read-api.md)."""
