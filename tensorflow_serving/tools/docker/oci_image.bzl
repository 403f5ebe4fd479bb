"""`oci_image`: a py_binary's runfiles as the top layer of an OCI image archive.

The stand-in for upstream's `docker build` of tensorflow_serving/tools/docker/
Dockerfile. The lower layers (Debian base, venv) come from the
`tf_serving_image_base` repository rule; this rule adds every runfile of
`binary` (Python sources, data, native libraries alike) at its runfiles path,
so whatever the binary needs at run time lands in the image with no change
here, and writes `<name>.oci.tar` for `podman load` or `skopeo copy`.
"""

def _runfiles_path(f, workspace_name):
    # External files have short paths "../<repo>/<path>"; the runfiles tree
    # keeps them at "<repo>/<path>", and the main repository's under its name.
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return workspace_name + "/" + f.short_path

def _oci_image_impl(ctx):
    ws = ctx.workspace_name
    binary_info = ctx.attr.binary[DefaultInfo]
    runfiles = binary_info.default_runfiles
    launcher = binary_info.files_to_run.executable
    files = {}
    inputs = []
    for f in runfiles.files.to_list():
        if f == launcher:
            continue  # Bazel's launcher names the host's interpreter; ours replaces it
        files[_runfiles_path(f, ws)] = f.path
        inputs.append(f)
    repositories = sorted({p.split("/")[0]: None for p in files}.keys())
    imports = ctx.attr.binary[PyInfo].imports.to_list() if PyInfo in ctx.attr.binary else []
    manifest = struct(
        name = ctx.attr.binary.label.name,
        main = _runfiles_path(ctx.file.main, ws),
        files = files,
        empty_files = [ws + "/" + p for p in runfiles.empty_filenames.to_list()],
        symlinks = {ws + "/" + s.path: s.target_file.path for s in runfiles.symlinks.to_list()},
        imports = sorted(imports),
        repositories = repositories,
    )
    manifest_file = ctx.actions.declare_file(ctx.label.name + ".manifest.json")
    ctx.actions.write(manifest_file, manifest.to_json())

    out = ctx.actions.declare_file(ctx.label.name + ".oci.tar")
    args = ctx.actions.args()
    args.add("--manifest", manifest_file)
    args.add("--base_info", ctx.file.base_info)
    args.add("--base_layer", ctx.file.base_layer)
    args.add("--venv_layer", ctx.file.venv_layer)
    args.add("--entrypoint", ctx.file.entrypoint)
    args.add("--ref_name", ctx.attr.ref_name)
    args.add("--out", out)

    # Bazel's Python launcher starts with `#!/usr/bin/env python`, which a
    # build action's PATH may lack; run it with the toolchain's interpreter.
    python = ctx.toolchains["@bazel_tools//tools/python:toolchain_type"].py3_runtime
    ctx.actions.run(
        executable = python.interpreter_path,
        arguments = [ctx.executable._builder.path, args],
        tools = [ctx.attr._builder[DefaultInfo].files_to_run],
        inputs = inputs + [
            manifest_file,
            ctx.file.base_info,
            ctx.file.base_layer,
            ctx.file.venv_layer,
            ctx.file.entrypoint,
        ],
        outputs = [out],
        mnemonic = "OciImage",
        progress_message = "Writing OCI image %s (app layer, then the base and venv layers: ~0.7 GB)" % out.short_path,
    )
    return [DefaultInfo(files = depset([out]))]

oci_image = rule(
    implementation = _oci_image_impl,
    attrs = {
        "binary": attr.label(mandatory = True, executable = True, cfg = "target"),
        "main": attr.label(mandatory = True, allow_single_file = [".py"]),
        "entrypoint": attr.label(mandatory = True, allow_single_file = True),
        "base_info": attr.label(mandatory = True, allow_single_file = [".json"]),
        "base_layer": attr.label(mandatory = True, allow_single_file = True),
        "venv_layer": attr.label(mandatory = True, allow_single_file = True),
        "ref_name": attr.string(default = "latest"),
        "_builder": attr.label(
            default = "//tensorflow_serving/tools/docker:build_oci_image",
            executable = True,
            cfg = "exec",
        ),
    },
    toolchains = ["@bazel_tools//tools/python:toolchain_type"],
)
