"""Picking a free TCP port for a server started later.

Upstream's tests pick ports with the portpicker package; this module does the
same job without it, for the tests, the tutorial and the benchmark.

Why ports come from below the ephemeral range: a port the kernel hands out
for bind(port 0) lies in the ephemeral range, the same range it draws the
local ports of outgoing connections from. Between the pick and the server's
bind, any client connection on the machine (another test's gRPC channel,
say) may take such a port, and the server then fails to start. Ports are
therefore drawn at random from below the ephemeral range, where only explicit
binds land.
"""

import random
import socket

# Linux's default ephemeral range starts at 32768; stay below it and above
# the ports well-known services use.
_LOW, _HIGH = 15000, 32767
_ATTEMPTS = 200


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return _HIGH + 1


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def pick_unused_port() -> int:
    """A port nothing listens on now, unlikely to be taken by a client."""
    high = min(_HIGH, _ephemeral_low() - 1)
    if high > _LOW:
        for _ in range(_ATTEMPTS):
            port = random.randint(_LOW, high)
            if _bindable(port):
                return port
    # A machine whose ephemeral range covers everything: let the kernel pick.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]
