#!/bin/bash
# The streaming export's Lambda handler (infra: UsageExport function), run by the Lambda Web Adapter
# layer's /opt/bootstrap: the same FastAPI app as the buffered API function, under uvicorn, so that
# API Gateway can stream `GET /api/usage/export.csv` (Mangum buffers a whole response, 6 MB at most).
# Search path as Lambda's own: the bundle root, then layers, then the runtime's modules.
set -euo pipefail
cd "${LAMBDA_TASK_ROOT:-/var/task}"
export PYTHONPATH="$PWD:/opt/python${LAMBDA_RUNTIME_DIR:+:$LAMBDA_RUNTIME_DIR}"
exec python -m uvicorn functions.api.app:app --host 127.0.0.1 --port "${PORT:-8080}" \
  --no-access-log --no-server-header
