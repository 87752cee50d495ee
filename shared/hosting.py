"""What AWS Lambda fixes for the functions it hosts, written once for the apps, the stack and `make dev`."""

from __future__ import annotations

# Lambda's request payload quota for a synchronous invocation: "6 MB", enforced as 6,291,456 bytes
# (its RequestEntityTooLargeException: "Request must be smaller than 6291456 bytes"). A function URL
# and API Gateway hand a request to the function as one such payload, so AWS itself answers a bigger
# body with 413 before the function runs; the apps refuse the same bodies locally, with their own 413.
LAMBDA_REQUEST_PAYLOAD_BYTES = 6 * 1024 * 1024

# Where the Lambda Web Adapter asks an app whether it is ready (AWS_LWA_READINESS_CHECK_PATH). The
# apps answer 200 there themselves: no table, no rate limit, no dashboard build, so a cold start
# cannot wait on any of them.
READINESS_CHECK_PATH = "/ready"

# SnapStart's two moments, bridged to an app by the Lambda Web Adapter (v1.1.0+: its
# AWS_LWA_SNAPSTART_BEFORE_CHECKPOINT_PATH and AWS_LWA_SNAPSTART_AFTER_RESTORE_PATH). The adapter posts
# to them from inside the sandbox and answers 403 to anyone else who asks for them.
SNAPSTART_BEFORE_CHECKPOINT_PATH = "/_snapstart/before-checkpoint"
SNAPSTART_AFTER_RESTORE_PATH = "/_snapstart/after-restore"
