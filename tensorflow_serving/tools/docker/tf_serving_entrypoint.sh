#!/bin/bash
# The image's entrypoint, as upstream's image has it: the model server on
# gRPC port 8500 and REST port 8501, serving ${MODEL_BASE_PATH}/${MODEL_NAME}
# (the image sets MODEL_NAME=model and MODEL_BASE_PATH=/models), with the
# container's arguments appended so they can add or override flags.
#
# Unlike upstream's script, the server replaces the shell (exec): it is then
# PID 1 and receives SIGTERM itself, so `docker stop`, `podman stop` and a
# Kubernetes pod's termination drain in-flight requests instead of waiting
# out the grace period and ending in SIGKILL.
exec tensorflow_model_server --port=8500 --rest_api_port=8501 \
  --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" \
  "$@"
