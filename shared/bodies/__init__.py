"""Request and response bodies: redacted, compressed, kept in S3 only, for as long as the endpoint says.

- `redaction`: secrets replaced by `[REDACTED:<kind>]` before a body leaves the proxy (queue, bucket,
  table all see only the redacted text); the bytes relayed to and from Anthropic are never changed.
- `retention`: the allowed `body_retention_days`, the object tag the bucket's lifecycle rules match,
  and when a call's bodies expire.
- `codec`: the stored form of a call's bodies, zstd-compressed, optionally against its session's base.
- `store`: where the objects live in the bucket, and writing, reading and deleting them.
"""
