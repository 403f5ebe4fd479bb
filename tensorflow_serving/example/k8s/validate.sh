#!/usr/bin/env bash
# `tools/bazel run //tensorflow_serving/example/k8s:validate -- FILE.yaml...`:
# validate_manifests.py under the manifest check's venv. Relative paths are
# taken from where the command was run.
set -euo pipefail
runfiles=${RUNFILES_DIR:-$0.runfiles}
cd "${BUILD_WORKING_DIRECTORY:-.}"
exec "$runfiles/k8s_validate/python" \
  "$runfiles/tf_serving/tensorflow_serving/example/k8s/validate_manifests.py" \
  --kserve_sdk "$runfiles/k8s_validate/kserve_sdk" "$@"
