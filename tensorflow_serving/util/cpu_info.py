"""The CPUs this process may run on, as upstream counts them.

Upstream's thread-count defaults (--rest_api_num_threads, --grpc_max_threads,
the initial load threads, the batch threads) are multiples of TensorFlow's
port::NumSchedulableCPUs(), the CPUs in the process's affinity mask. Under
`taskset`, a container's cpuset or a Kubernetes static CPU policy that is
fewer than the machine has, and os.cpu_count() would count the machine's:
twice the threads on a 2-core host pinned to one core, each extra one a
context switch per request.
"""

import os


def num_schedulable_cpus() -> int:
    """The CPUs in this process's affinity mask (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity mask on this platform
        return os.cpu_count() or 1
