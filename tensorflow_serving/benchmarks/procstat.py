"""What the kernel knows about the server process: resident memory, CPU time.

Read from /proc so the figures cover every thread of the process, whatever it
is written in (ours, or upstream's C++ binary).
"""

import os

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def parse_status_kib(status_text: str, field: str) -> int:
    """A memory field (VmRSS, RssAnon, ...) in KiB from /proc/<pid>/status."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            fields = line.split()
            if len(fields) < 2 or (len(fields) > 2 and fields[2] != "kB"):
                raise ValueError(f"unexpected {field} line: {line!r}")
            return int(fields[1])
    raise ValueError(f"no {field} line (is the process a zombie?)")


def parse_vm_rss_kib(status_text: str) -> int:
    """VmRSS in KiB from the text of /proc/<pid>/status."""
    return parse_status_kib(status_text, "VmRSS")


def parse_cpu_seconds(stat_text: str, clock_ticks: int = _CLOCK_TICKS) -> float:
    """utime + stime in seconds from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or ')',
    so fields are counted from the last ')'.
    """
    rest = stat_text[stat_text.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    utime, stime = int(rest[11]), int(rest[12])
    return (utime + stime) / clock_ticks


def parse_ppid(stat_text: str) -> int:
    return int(stat_text[stat_text.rindex(")") + 2:].split()[1])


def _read(path: str) -> str:
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        return f.read()


def rss_bytes(pid: int) -> int:
    return parse_vm_rss_kib(_read(f"/proc/{pid}/status")) * 1024


def anon_rss_bytes(pid: int) -> int:
    """The resident memory that is the process's own (RssAnon): RSS without
    the pages of mapped files such as shared libraries' code."""
    return parse_status_kib(_read(f"/proc/{pid}/status"), "RssAnon") * 1024


def cpu_seconds(pid: int) -> float:
    return parse_cpu_seconds(_read(f"/proc/{pid}/stat"))


def cpu_nanos(pid: int) -> int:
    """CPU time of all of `pid`'s threads in nanoseconds (schedstat), fine
    enough to measure bursts of a few hundred milliseconds; /proc/PID/stat
    counts in clock ticks (10 ms)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(_read(f"/proc/{pid}/task/{task}/schedstat").split()[0])
        except (OSError, IndexError, ValueError):
            pass  # the thread ended meanwhile
    return total


def children(pid: int) -> list[int]:
    """Direct children of `pid` (scans /proc; fine for a handful of calls)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if parse_ppid(_read(f"/proc/{entry}/stat")) == pid:
                found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return sorted(found)


def serving_pid(pid: int) -> int:
    """The process doing the work when `pid` may be a launcher (sh, Bazel's stub).

    Follows single children down while there are any: a launcher that execs
    is the server itself; one that forks has the server as its only child.
    """
    current = pid
    for _ in range(8):
        kids = children(current)
        if len(kids) != 1:
            return current
        current = kids[0]
    return current


def parse_cpu_model(cpuinfo_text: str) -> str | None:
    """The first CPU's "model name" in the text of /proc/cpuinfo, with its
    family and model numbers (None if it has no name). A virtual machine's
    name is often just "AMD EPYC", for CPUs whose speeds differ several
    times; the numbers tell them apart."""
    fields = {}
    for line in cpuinfo_text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip()
        if name == "processor" and fields:
            break
        fields.setdefault(name, value.strip())
    model_name = fields.get("model name")
    if model_name is None:
        return None
    if "cpu family" in fields and "model" in fields:
        return f"{model_name}, family {fields['cpu family']} model {fields['model']}"
    return model_name


def cpu_model() -> str:
    """This machine's CPU model, as the figures' notes name it."""
    try:
        return parse_cpu_model(_read("/proc/cpuinfo")) or "unknown CPU"
    except OSError:
        return "unknown CPU"
