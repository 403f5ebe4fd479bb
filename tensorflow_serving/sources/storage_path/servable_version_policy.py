"""Which of the versions found on disk a model should serve.

The policy is ModelConfig.model_version_policy, i.e.
FileSystemStoragePathSourceConfig.ServableVersionPolicy: `latest` (the N
highest, N >= 1; also the default when unset), `all`, or `specific` versions.
Upstream applies it where it lists a base path, in
sources/storage_path/file_system_storage_path_source.cc (AspireAllVersions,
AspireLatestVersions, AspireSpecificVersions); so does this package.
"""

from typing import Iterable, List, Tuple


def policy_name(policy) -> str:
    """'latest', 'all' or 'specific' (unset means latest)."""
    return policy.WhichOneof("policy_choice") or "latest"


def describe(policy) -> str:
    """A short human-readable form for logs and errors."""
    kind = policy_name(policy)
    if kind == "latest":
        return f"latest {max(policy.latest.num_versions, 1)}"
    if kind == "specific":
        return "specific " + str(sorted(policy.specific.versions))
    return "all"


def select_versions(policy, versions: Iterable[int]) -> Tuple[List[int], List[int]]:
    """Applies the policy to the versions present on disk.

    Returns (aspired versions in ascending order, specific versions requested
    by the policy but not present on disk).
    """
    present = sorted(set(versions))
    kind = policy_name(policy)
    if kind == "all":
        return present, []
    if kind == "specific":
        wanted = set(policy.specific.versions)
        return ([v for v in present if v in wanted],
                sorted(wanted.difference(present)))
    num = max(policy.latest.num_versions, 1)
    return present[-num:], []

