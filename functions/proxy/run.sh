#!/bin/bash
# Lambda Web Adapter start-up command (the function's handler): the adapter layer's /opt/bootstrap
# runs it, waits until the port answers, then streams every invocation through it.
# Search path: the bundle root (`functions/`, `shared/` and the dependencies), then layers, then the
# runtime's own modules, in the order Lambda itself uses.
set -euo pipefail
TASK_ROOT="${LAMBDA_TASK_ROOT:-/var/task}"
export PYTHONPATH="${TASK_ROOT}:/opt/python${LAMBDA_RUNTIME_DIR:+:$LAMBDA_RUNTIME_DIR}"
cd "$TASK_ROOT"
exec python -m uvicorn functions.proxy.app:app \
  --host 127.0.0.1 \
  --port "${PORT:-8080}" \
  --no-access-log \
  --no-server-header
