#!/bin/sh
echo "Coverage is not available in this offline build: Bazel's remote_coverage_tools cannot be downloaded here." >&2
exit 1
