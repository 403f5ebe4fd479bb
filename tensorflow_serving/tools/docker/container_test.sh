#!/usr/bin/env bash
# The container test: builds the image, loads it into podman and runs
# container_test.py (upstream-style and KServe-style starts, gRPC and REST
# from the host, a two-replica rollover over one model store, SIGTERM drain).
#
# Run by .ci/run after `tools/bazel test //...`; needs root. It installs podman
# and runc with apt when missing and uses its own containers.conf (rlimits
# within this machine's hard limits; runc with cgroupfs, since crun refuses
# hybrid cgroups) and its own storage under $TFS_CONTAINER_STATE. Where podman
# cannot run a container at all it prints why in one line and exits 0; once a
# container runs, every failure is a failure.
#
# The last line is "container test: N passed, N failed" or
# "container test: skipped: <why>".
set -uo pipefail
cd "$(dirname "$0")/../../.."

state=${TFS_CONTAINER_STATE:-/var/tmp/tf_serving_container_test}
skip() { echo "container test: skipped: $*"; exit 0; }
fail() { echo "container test: $*" >&2; echo "container test: 0 passed, 1 failed"; exit 1; }

[[ "$(id -u)" == 0 ]] || skip "needs root (rootful podman)"

missing=()
for pair in podman:podman runc:runc slirp4netns:slirp4netns fuse-overlayfs:fuse-overlayfs; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if (( ${#missing[@]} )); then
  echo "container test: installing ${missing[*]} with apt-get (one time)..."
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      >"$state.apt.log" 2>&1; then
    skip "could not install ${missing[*]} with apt-get ($(tail -n 1 "$state.apt.log"))"
  fi
fi

mkdir -p "$state"
cat >"$state/containers.conf" <<'CONF'
[containers]
# Podman's default rlimits exceed this machine's hard limits, and without
# CAP_SYS_RESOURCE the runtime cannot raise them.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses cgroup v1/v2 "hybrid" hosts; runc with cgroupfs works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat >"$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
export CONTAINERS_CONF="$state/containers.conf" CONTAINERS_STORAGE_CONF="$state/storage.conf"

# Can this machine run a container at all? Try the smallest one there is: a
# root file system holding only /bin/true and the libraries it needs.
probe="$state/probe-rootfs"
rm -rf "$probe" && mkdir -p "$probe/bin"
cp /bin/true "$probe/bin/true"
for lib in $(ldd /bin/true | grep -oE '/[^ ]+'); do
  mkdir -p "$probe$(dirname "$lib")" && cp -L "$lib" "$probe$lib"
done
if ! out=$(podman run --rm --network=none --rootfs "$probe" /bin/true 2>&1); then
  skip "podman cannot run containers here: $(tail -n 1 <<<"$out")"
fi

start=$(date +%s)
echo "container test: building //tensorflow_serving/tools/docker:image"
tools/bazel build //tensorflow_serving/tools/docker:image //tensorflow_serving/tools/docker:container_test \
  || fail "the image did not build"
built=$(date +%s)
image=localhost/tensorflow-serving:latest
# `podman load` of the archive re-imports every layer (~40 s); pulling from
# the unpacked OCI layout reuses the layers already stored (under 1 s after
# an edit of the server).
echo "container test: loading the image into podman (about 40 s for a new base)"
rm -rf "$state/oci" && mkdir -p "$state/oci" \
  && tar -xf bazel-bin/tensorflow_serving/tools/docker/image.oci.tar -C "$state/oci" \
  && id=$(podman pull -q "oci:$state/oci:tensorflow-serving:latest") \
  && podman untag "$id" && podman tag "$id" "$image" \
  || fail "could not load the image into podman"
rm -rf "$state/oci"
loaded=$(date +%s)
echo "container test: image $(podman image inspect "$image" --format '{{.Id}} {{.Size}}' | \
  awk '{printf "%s, %.2f GB unpacked", substr($1,1,12), $2/1e9}'), archive" \
  "$(du -m bazel-bin/tensorflow_serving/tools/docker/image.oci.tar | cut -f1) MB;" \
  "build $((built - start)) s, load $((loaded - built)) s"

# Bazel's launcher starts with "#!/usr/bin/env python", which a machine may
# lack: run it with the project's venv interpreter.
venv=$(cat "$(tools/bazel info output_base 2>/dev/null)/external/python_venv/venv_path.txt")
"$venv/bin/python3" bazel-bin/tensorflow_serving/tools/docker/container_test \
  --image "$image" --podman "$(command -v podman)"
rc=$?
# Old images of earlier builds would pile up in the private storage.
podman image prune -f >/dev/null 2>&1 || true
echo "container test: total $(( $(date +%s) - start )) s"
if (( rc == 0 )); then
  echo "container test: 1 passed, 0 failed"
else
  echo "container test: 0 passed, 1 failed"
fi
exit "$rc"
