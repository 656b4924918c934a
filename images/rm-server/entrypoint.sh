#!/bin/sh
# rm-server entrypoint for plain `docker run` / single-container use: fetch the model named by VERM_MODEL_URI
# from MinIO (skipped when unset: VERM_MODEL_DIR must then already hold a model), then exec `vllm serve` on it
# with the arguments given to the container. The Helm chart does the same in two steps instead (an init
# container running `verm-fetch-model`, then `vllm serve`), so a failed fetch is visible as Init:Error.
set -eu
MODEL_DIR="${VERM_MODEL_DIR:-/models/model}"
if [ -n "${VERM_MODEL_URI:-}" ]; then
  if [ -n "${VERM_MODEL_MARKER:-}" ]; then
    verm-fetch-model "$VERM_MODEL_URI" "$MODEL_DIR" --marker "$VERM_MODEL_MARKER"
  else
    verm-fetch-model "$VERM_MODEL_URI" "$MODEL_DIR"
  fi
fi
exec vllm serve "$MODEL_DIR" --host 0.0.0.0 --port "${VERM_PORT:-8000}" "$@"
