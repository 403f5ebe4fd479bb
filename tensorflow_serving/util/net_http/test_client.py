"""A raw-socket HTTP client for tests (upstream's net_http/client/test_client).

Sends bytes exactly as given, so tests can send what no well-behaved client
would, and reads whatever comes back until the server closes.
"""

import socket

_TIMEOUT = 60.0


def read_until_closed(sock, timeout: float = _TIMEOUT) -> bytes:
    """Everything `sock` receives until the peer closes (or resets) it."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def exchange(port: int, raw: bytes, host: str = "127.0.0.1",
             timeout: float = _TIMEOUT) -> bytes:
    """Sends `raw` on a new connection; returns all received until closed."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(raw)
        return read_until_closed(sock, timeout)


def host_has_ipv6() -> bool:
    """Whether this host can use IPv6 loopback (::1)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False
