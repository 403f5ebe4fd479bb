#!/usr/bin/env bash
# Runs validate_manifests_test.py under the manifest check's own venv
# (@k8s_validate), not the server's toolchain.
set -euo pipefail
runfiles=${TEST_SRCDIR:-$0.runfiles}
exec "$runfiles/k8s_validate/python" \
  "$runfiles/tf_serving/tensorflow_serving/example/k8s/validate_manifests_test.py" \
  "$runfiles/k8s_validate/kserve_sdk" "$@"
