"""An HTTP/1.1 server on a fixed pool of threads, with every resource bounded.

Upstream's counterpart is tensorflow_serving/util/net_http/server/internal/
evhttp_server.cc: libevent's event loop reads requests and an executor of
--rest_api_num_threads threads runs the handlers. Here the same `num_threads`
threads do both. Each waits on one shared epoll set whose registrations are
one-shot, so a connection is served by one thread at a time; it reads what has
arrived and, once a request is complete, runs the handler. No thread ever
blocks on a client, so a slow or idle connection costs a socket, not a thread.
One more thread accepts connections and enforces the deadlines.

Limits:
  - at most `max_connections` open; at the cap, the connection that has waited
    longest for its next request (idle, or still sending a request head; at
    least a second, and none whose request has arrived unread) is closed to
    admit the new one, so a flood of slow connections cannot lock other
    clients out;
  - a request head must be complete within `read_timeout` of its first byte,
    and an idle keep-alive connection is closed after `read_timeout`;
  - a body must arrive within `read_timeout` of its start, plus one second
    for every MIN_RATE bytes received, so that large uploads over slow links
    finish while a trickle does not; replies are held to the same rule;
  - a body larger than UNMETERED_BODY_BYTES is read only while its request
    holds one of `num_threads` slots (until its reply is ready), so at most
    that many large bodies are in memory at once, and `max_body_bytes` caps
    each body, declared by Content-Length or chunked;
  - a handler that runs past `request_timeout` is answered by
    `on_request_timeout` in its place.

A handler may return a concurrent.futures.Future instead of a Response: the
thread is then released, the connection waits without one, and the reply is
sent when the future completes. That is how a slow step (parsing a large body,
say) can move to another executor without changing the transport.

stop(grace) refuses new requests and lets those in flight finish.
"""

import collections
import dataclasses
import errno
import functools
import heapq
import itertools
import os
import select
import socket
import threading
import time
from concurrent import futures

from absl import logging

from tensorflow_serving.util.net_http import wire

UNMETERED_BODY_BYTES = 64 * 1024
MIN_RATE = 64 * 1024  # bytes a second that extend a body's or reply's deadline

_RECV_BYTES = 256 * 1024
_HEAD_RECV_BYTES = 64 * 1024
# Bytes one thread reads from one connection before serving other events.
_STEP_BYTES = 4 * 1024 * 1024
# After a reply that closes the connection, what the client still sends is
# read and dropped for a while, so that the reply is not lost to a reset.
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 4 * 1024 * 1024
# At the connection cap, a connection waiting for a request this long is
# closed to admit a new one; a younger one is spared.
_EVICT_AFTER_SECONDS = 1.0
_ACCEPT_BATCH = 64
_ACCEPT_PAUSE_SECONDS = 0.05
_BACKLOG = 1024
_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

_IN = select.EPOLLIN | select.EPOLLONESHOT
_OUT = select.EPOLLOUT | select.EPOLLONESHOT
_KICK = select.EPOLLIN | select.EPOLLOUT | select.EPOLLONESHOT

# Connection states.
_HEAD = "head"            # waiting for (the rest of) a request head
_WAIT_SLOT = "wait_slot"  # a large body waits for a slot
_BODY = "body"            # reading a body
_PROCESSING = "processing"  # the handler has the request
_WRITING = "writing"      # sending a reply (or a 100 Continue)
_LINGER = "linger"        # reply sent, dropping what the client still sends
_CLOSED = "closed"

_MORE = object()  # a state step that wants the state machine to go on


@dataclasses.dataclass
class Response:
    """A reply: Date, Content-Length and Connection are added on the wire."""
    status: int
    headers: list = dataclasses.field(default_factory=list)
    body: bytes = b""
    close: bool = False


class Request:
    """A complete request, as a handler sees it."""

    __slots__ = ("head", "body", "peer")

    def __init__(self, head: wire.RequestHead, body: bytes, peer):
        self.head = head
        self.body = body
        self.peer = peer

    @property
    def method(self) -> str:
        return self.head.method

    @property
    def uri_path(self) -> str:
        """Path and query, as upstream's ServerRequestInterface::uri_path()."""
        return self.head.uri_path

    @property
    def path(self) -> str:
        return self.head.uri_path.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        return self.head.header(name)


def error_response(status: int, message: str = "") -> Response:
    headers, body = wire.error_page(status, message)
    return Response(status, headers, body, close=True)


class _Conn:
    __slots__ = ("sock", "fd", "peer", "lock", "state", "armed", "inbuf",
                 "scan", "started", "fresh", "head", "body", "body_len",
                 "decoder", "expect_continue", "out", "after_write",
                 "close_after", "keep_alive", "phase_start", "progress",
                 "deadline", "scheduled", "idle_seq", "in_flight", "slot",
                 "processing", "gen")

    def __init__(self, sock, peer):
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        self.lock = threading.Lock()
        self.state = _HEAD
        self.armed = False
        self.inbuf = bytearray()
        self.scan = 0
        self.started = False
        self.fresh = False
        self.head = None
        self.body = None
        self.body_len = None
        self.decoder = None
        self.expect_continue = False
        self.out = None
        self.after_write = None
        self.close_after = False
        self.keep_alive = True
        self.phase_start = 0.0
        self.progress = 0
        self.deadline = None
        self.scheduled = None
        self.idle_seq = 0
        self.in_flight = False
        self.slot = False
        self.processing = False
        self.gen = 0


def _dual_stack_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    return sock


def listen(host: str | None, port: int) -> socket.socket:
    """A listening socket: `host`, or when None "::" (IPv4 and IPv6, as
    upstream binds), falling back to 0.0.0.0 on a host without IPv6."""
    if host is None:
        sock = None
        try:
            sock = _dual_stack_socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::", port))
        except OSError as e:
            if sock is not None:
                sock.close()
            if e.errno not in _NO_IPV6:
                raise
            host = "0.0.0.0"
        else:
            sock.listen(_BACKLOG)
            sock.setblocking(False)
            return sock
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Server:
    """See the module docstring. Binds in the constructor; start() serves."""

    def __init__(self, handler, port: int, *, host: str | None = None,
                 num_threads: int = 4, max_connections: int = 4096,
                 max_body_bytes: int | None = None, read_timeout: float = 50.0,
                 request_timeout: float | None = None,
                 on_request_timeout=None):
        if num_threads < 1 or max_connections < 1 or read_timeout <= 0:
            raise ValueError("num_threads, max_connections and read_timeout "
                             "must be positive")
        self._handler = handler
        self._num_threads = num_threads
        self._max_connections = max_connections
        self._max_body = max_body_bytes
        self._read_timeout = read_timeout
        self._request_timeout = request_timeout
        self._on_request_timeout = on_request_timeout
        self._listener = listen(host, port)
        self.address = self._listener.getsockname()[:2]
        self._epoll = None
        self._conns = {}
        self._local = threading.local()
        self._threads = []
        self._started = False
        self._stopping = False
        self._shutdown = False
        self._stop_lock = threading.Lock()
        self._drained = True
        self._listener_closed = threading.Event()
        # Requests from a complete head until their reply is sent.
        self._in_flight = 0
        self._in_flight_cond = threading.Condition()
        # Slots for bodies over UNMETERED_BODY_BYTES.
        self._slot_lock = threading.Lock()
        self._free_slots = num_threads
        self._slot_waiters = collections.deque()
        # Connections waiting for a request, oldest first (eviction order);
        # entries go stale when the connection moves on and are skipped.
        self._idle_lock = threading.Lock()
        self._idle = collections.deque()
        # Deadlines: (time, seq, conn), at most one live entry a connection.
        self._timer_lock = threading.Lock()
        self._timers = []
        self._timer_seq = itertools.count()
        self._next_wake = float("inf")
        self._retry = []
        self._accept_paused_until = 0.0
        self._listening = True
        self._polling_listener = False
        self._wake_fd = None
        self._stop_fd = None
        self._steps = {_HEAD: self._step_head, _BODY: self._step_body,
                       _WRITING: self._step_write, _LINGER: self._step_linger,
                       _WAIT_SLOT: self._step_wait_slot}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._epoll = select.epoll()
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._stop_fd, select.EPOLLIN)
        self._started = True
        for i in range(self._num_threads):
            self._spawn(self._work, f"http_worker_{i}")
        self._spawn(self._housekeep, "http_accept")

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace: float) -> bool:
        """Stops accepting and closes connections that wait for a request;
        waits up to `grace` seconds for requests in flight, then closes the
        rest. Returns whether everything in flight finished. Idempotent."""
        with self._stop_lock:
            if self._stopping:
                return self._drained
            self._stopping = True
            if not self._started:
                self._listener.close()
                return True
            self._drained = self._stop(grace)
            return self._drained

    def _stop(self, grace: float) -> bool:
        self._wake()
        self._listener_closed.wait(5)
        # Connections waiting for a request: one whose request has already
        # arrived is served, the others are closed.
        for conn in self._conns.copy().values():
            with conn.lock:
                request = None
                if conn.state == _HEAD:
                    conn.armed = False  # this thread serves it now
                    request = self._advance(conn)
            if request is not None:
                self._spawn(functools.partial(self._serve_all, conn, request),
                            "http_drain")
        with self._in_flight_cond:
            drained = self._in_flight_cond.wait_for(
                lambda: self._in_flight == 0, grace)
        self._shutdown = True
        os.eventfd_write(self._stop_fd, 1)
        self._wake()
        for conn in self._conns.copy().values():
            if conn.lock.acquire(timeout=1):
                try:
                    self._close(conn)
                finally:
                    conn.lock.release()
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self._threads):
            self._epoll.close()
            os.close(self._wake_fd)
            os.close(self._stop_fd)
        return drained

    def stats(self) -> dict:
        with self._slot_lock:
            free, waiting = self._free_slots, len(self._slot_waiters)
        return {"connections": len(self._conns), "in_flight": self._in_flight,
                "free_slots": free, "slot_waiters": waiting,
                "threads": len(self._threads)}

    # -------------------------------------------------------------- workers
    def _scratch(self) -> memoryview:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = memoryview(bytearray(_RECV_BYTES))
        return scratch

    def _work(self) -> None:
        epoll = self._epoll
        while not self._shutdown:
            try:
                events = epoll.poll(1.0, 1)
            except OSError:
                if self._shutdown:
                    return
                raise
            for fd, _ in events:
                if fd == self._stop_fd:
                    return
                conn = self._conns.get(fd)
                if conn is None:
                    continue
                try:
                    with conn.lock:
                        if not conn.armed:
                            continue  # stale event for a reused descriptor
                        conn.armed = False
                        request = self._advance(conn)
                    self._serve_all(conn, request)
                except Exception:  # pylint: disable=broad-except
                    # A bug must cost one connection, not a thread.
                    logging.exception("HTTP connection from %s failed", conn.peer)
                    with conn.lock:
                        self._close(conn)

    def _serve_all(self, conn, request) -> None:
        while request is not None:
            request = self._serve(conn, request)

    def _serve(self, conn, request):
        """Runs the handler (no lock held); returns a pipelined next request."""
        gen = conn.gen
        try:
            response = self._handler(request)
        except Exception:  # pylint: disable=broad-except
            logging.exception("HTTP handler failed for %s %s", request.method,
                              request.path)
            response = error_response(500)
        if isinstance(response, futures.Future):
            response.add_done_callback(
                functools.partial(self._on_future_done, conn, gen))
            return None
        return self._complete(conn, gen, response)

    def _on_future_done(self, conn, gen, future) -> None:
        try:
            response = future.result()
        except Exception:  # pylint: disable=broad-except
            logging.exception("HTTP handler failed")
            response = error_response(500)
        self._serve_all(conn, self._complete(conn, gen, response))

    def _complete(self, conn, gen, response):
        with conn.lock:
            conn.processing = False
            if conn.slot:
                self._release_slot(conn)
            if conn.state != _PROCESSING or conn.gen != gen:
                return None  # timed out or closed meanwhile
            self._begin_write(conn, response)
            return self._advance(conn)

    # -------------------------------------------------- the state machine
    def _advance(self, conn):
        """Moves `conn` on as far as it can without blocking (conn.lock held).

        Returns a Request to process, or None when the connection is armed,
        parked (waiting for a slot or a handler) or closed."""
        steps = self._steps
        while True:
            step = steps.get(conn.state)
            if step is None:
                return None
            result = step(conn)
            if result is not _MORE:
                return result

    def _recv(self, conn, limit: int, into=None) -> int:
        """Appends up to `limit` bytes to `into` (default conn.inbuf): >0
        read, 0 would block, -1 closed (end of stream or error)."""
        scratch = self._scratch()
        try:
            n = conn.sock.recv_into(scratch, min(limit, len(scratch)))
        except BlockingIOError:
            return 0
        except OSError:
            self._close(conn)
            return -1
        if not n:
            self._close(conn)
            return -1
        if into is None:
            into = conn.inbuf
        into += scratch[:n]
        return n

    def _step_head(self, conn):
        inbuf = conn.inbuf
        skip = wire.skip_blank_lines(inbuf, 0)
        if skip:
            del inbuf[:skip]
            conn.scan = 0
        if inbuf:
            try:
                head, end = wire.parse_head(inbuf, 0, conn.scan)
            except wire.ProtocolError as e:
                return self._fail(conn, e)
            if head is not None:
                del inbuf[:end]
                conn.scan = 0
                return self._start_request(conn, head)
            conn.scan = end
        elif conn.fresh and not self._stopping:
            # Just replied: wait for the next request rather than try a read
            # that would almost always find nothing.
            conn.fresh = False
            self._arm(conn, _IN)
            return None
        n = self._recv(conn, _HEAD_RECV_BYTES)
        if n < 0:
            return None
        if not n:
            if self._stopping:
                # Stopping: only a request that has already arrived is served.
                self._close(conn)
                return None
            self._arm(conn, _IN)
            return None
        if not conn.started:
            # The request starts with its first byte: its head has
            # read_timeout from now, whatever the idle time before.
            conn.started = True
            self._set_deadline(conn, time.monotonic() + self._read_timeout)
        return _MORE

    def _start_request(self, conn, head):
        conn.head = head
        conn.in_flight = True
        conn.idle_seq += 1  # no longer evictable
        self._in_flight_add(1)
        conn.keep_alive = head.keep_alive
        conn.expect_continue = head.expect_continue
        if head.chunked:
            conn.decoder = wire.ChunkedDecoder(self._max_body)
            conn.body_len = None
        elif head.content_length:
            if self._max_body is not None and head.content_length > self._max_body:
                return self._fail(conn, wire.body_too_large(self._max_body))
            conn.body_len = head.content_length
            conn.body = bytearray()
        else:
            return self._to_processing(conn)
        self._begin_body(conn)
        return _MORE

    def _begin_body(self, conn):
        conn.state = _BODY
        now = time.monotonic()
        conn.phase_start = now
        conn.progress = 0
        self._set_deadline(conn, now + self._read_timeout)

    def _body_complete(self, conn) -> bool:
        inbuf = conn.inbuf
        if conn.decoder is not None:
            pos = conn.decoder.feed(inbuf, 0)
            if pos:
                del inbuf[:pos]
            return conn.decoder.done
        need = conn.body_len - len(conn.body)
        if inbuf and need:
            take = min(need, len(inbuf))
            conn.body += memoryview(inbuf)[:take]
            del inbuf[:take]
            need -= take
        return not need

    def _needs_slot(self, conn) -> bool:
        if conn.decoder is not None:
            return len(conn.decoder.body) + len(conn.inbuf) >= UNMETERED_BODY_BYTES
        return conn.body_len > UNMETERED_BODY_BYTES

    def _step_body(self, conn):
        read = 0
        while True:
            try:
                if self._body_complete(conn):
                    return self._to_processing(conn)
            except wire.ProtocolError as e:
                return self._fail(conn, e)
            if not conn.slot and self._needs_slot(conn) and \
                    not self._acquire_slot(conn):
                return None  # parked until a slot is released
            if conn.expect_continue:
                conn.expect_continue = False
                if not conn.inbuf and not conn.body and (
                        conn.decoder is None or not conn.decoder.body):
                    conn.out = [memoryview(wire.CONTINUE)]
                    conn.after_write = _BODY
                    conn.state = _WRITING
                    return _MORE
            if read >= _STEP_BYTES:
                self._arm(conn, _IN)  # let other connections have a turn
                return None
            if conn.decoder is not None:
                n = self._recv(conn, _HEAD_RECV_BYTES)
            else:
                # Straight into the body: never past it, into the next request.
                n = self._recv(conn, conn.body_len - len(conn.body), conn.body)
            if n < 0:
                return None
            if not n:
                self._arm(conn, _IN)
                return None
            read += n
            conn.progress += n
            self._set_deadline(conn, conn.phase_start + self._read_timeout +
                               conn.progress / MIN_RATE)

    def _step_wait_slot(self, conn):
        if not conn.slot:
            return None
        self._begin_body(conn)  # the wait was the server's, not the client's
        return _MORE

    def _to_processing(self, conn):
        conn.state = _PROCESSING
        conn.processing = True
        conn.gen += 1
        if conn.decoder is not None:
            body = bytes(conn.decoder.body)
        else:
            body = bytes(conn.body) if conn.body else b""
        conn.body = conn.decoder = None
        if self._request_timeout:
            self._set_deadline(conn, time.monotonic() + self._request_timeout)
        else:
            conn.deadline = None
        return Request(conn.head, body, conn.peer)

    def _fail(self, conn, error: wire.ProtocolError):
        logging.vlog(1, "HTTP %s from %s: %s", error.status, conn.peer,
                     error.message)
        self._begin_write(conn, error_response(error.status, error.message))
        return _MORE

    def _begin_write(self, conn, response: Response) -> None:
        head = conn.head
        close = (response.close or not conn.keep_alive or self._stopping or
                 head is None)
        body = response.body
        version = head.version if head is not None else (1, 1)
        out = [memoryview(wire.response_head(
            version, response.status, response.headers, len(body), close))]
        if body and (head is None or head.method != "HEAD"):
            out.append(memoryview(body))
        conn.out = out
        conn.after_write = None
        conn.close_after = close
        conn.state = _WRITING
        now = time.monotonic()
        conn.phase_start = now
        conn.progress = 0
        self._set_deadline(conn, now + self._read_timeout)

    def _step_write(self, conn):
        out = conn.out
        while out:
            try:
                n = conn.sock.sendmsg(out)
            except BlockingIOError:
                self._arm(conn, _OUT)
                return None
            except OSError:
                self._close(conn)
                return None
            conn.progress += n
            while n:
                if n >= len(out[0]):
                    n -= len(out[0])
                    out.pop(0)
                else:
                    out[0] = out[0][n:]
                    n = 0
            if out:
                self._set_deadline(conn, conn.phase_start + self._read_timeout +
                                   conn.progress / MIN_RATE)
        conn.out = None
        if conn.after_write == _BODY:
            conn.after_write = None
            conn.state = _BODY
            return _MORE
        return self._finish_request(conn)

    def _finish_request(self, conn):
        if conn.in_flight:
            conn.in_flight = False
            self._in_flight_add(-1)
        if conn.slot and not conn.processing:
            self._release_slot(conn)
        conn.head = None
        if conn.close_after:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close(conn)
                return None
            conn.state = _LINGER
            conn.progress = 0
            self._set_deadline(conn, time.monotonic() + _LINGER_SECONDS)
            return _MORE
        self._enter_head(conn)
        conn.fresh = True
        return _MORE

    def _step_linger(self, conn):
        while conn.progress < _LINGER_BYTES:
            conn.inbuf.clear()
            n = self._recv(conn, _RECV_BYTES)
            if n < 0:
                return None
            if not n:
                self._arm(conn, _IN)
                return None
            conn.progress += n
        self._close(conn)
        return None

    def _enter_head(self, conn) -> None:
        conn.state = _HEAD
        conn.phase_start = time.monotonic()
        conn.started = False
        conn.idle_seq += 1
        with self._idle_lock:
            self._idle.append((conn, conn.idle_seq))
        self._set_deadline(conn, time.monotonic() + self._read_timeout)

    def _arm(self, conn, mask) -> None:
        conn.armed = True
        try:
            self._epoll.modify(conn.fd, mask)
        except OSError:
            conn.armed = False
            self._close(conn)

    def _close(self, conn) -> None:
        """Closes `conn` (its lock held); safe to call more than once."""
        if conn.state == _CLOSED:
            return
        with self._slot_lock:
            conn.state = _CLOSED
            release = conn.slot and not conn.processing
        if release:
            self._release_slot(conn)
        conn.armed = False
        try:
            self._epoll.unregister(conn.fd)
        except (OSError, ValueError):
            pass
        if self._conns.get(conn.fd) is conn:
            del self._conns[conn.fd]
        if conn.in_flight:
            conn.in_flight = False
            self._in_flight_add(-1)
        try:
            conn.sock.close()
        except OSError:
            pass
        conn.inbuf = bytearray()
        conn.body = conn.decoder = conn.out = None
        if self._accept_paused_until:
            self._wake()

    def _in_flight_add(self, delta: int) -> None:
        with self._in_flight_cond:
            self._in_flight += delta
            if not self._in_flight:
                self._in_flight_cond.notify_all()

    # ------------------------------------------------------------- slots
    def _acquire_slot(self, conn) -> bool:
        with self._slot_lock:
            if self._free_slots > 0:
                self._free_slots -= 1
                conn.slot = True
                return True
            conn.state = _WAIT_SLOT
            conn.deadline = None
            self._slot_waiters.append(conn)
            return False

    def _release_slot(self, conn) -> None:
        grant = None
        with self._slot_lock:
            conn.slot = False
            while self._slot_waiters:
                waiter = self._slot_waiters.popleft()
                if waiter.state == _WAIT_SLOT and not waiter.slot:
                    waiter.slot = True
                    grant = waiter
                    break
            else:
                self._free_slots += 1
        if grant is not None:
            # Any event will do: the woken thread resumes the body.
            grant.armed = True
            try:
                self._epoll.modify(grant.fd, _KICK)
            except OSError:
                pass  # closed meanwhile; its _close gives the slot back

    # ---------------------------------------------------------- deadlines
    def _set_deadline(self, conn, when: float) -> None:
        conn.deadline = when
        if conn.scheduled is not None and conn.scheduled <= when:
            return  # an earlier entry exists; it re-arms itself lazily
        conn.scheduled = when
        with self._timer_lock:
            heapq.heappush(self._timers, (when, next(self._timer_seq), conn))
            wake = when < self._next_wake
        if wake:
            self._wake()

    def _run_timers(self) -> None:
        now = time.monotonic()
        due, self._retry = self._retry, []
        with self._timer_lock:
            while self._timers and self._timers[0][0] <= now:
                entry = heapq.heappop(self._timers)
                due.append((entry[0], entry[2]))
        for when, conn in due:
            if not conn.lock.acquire(blocking=False):
                self._retry.append((when, conn))
                continue
            try:
                if conn.scheduled != when or conn.state == _CLOSED:
                    continue
                conn.scheduled = None
                if conn.deadline is None:
                    continue
                if conn.deadline > now:
                    self._set_deadline(conn, conn.deadline)
                    continue
                self._expire(conn)
            finally:
                conn.lock.release()

    def _expire(self, conn) -> None:
        state = conn.state
        if state == _PROCESSING:
            response = None
            if self._on_request_timeout is not None:
                response = self._on_request_timeout(
                    Request(conn.head, b"", conn.peer))
            if response is None:
                response = error_response(504, "Request timed out")
            response.close = True
            conn.gen += 1  # the handler's late reply is dropped
            self._begin_write(conn, response)
            self._advance(conn)
            return
        if (state == _HEAD and conn.inbuf) or state == _BODY:
            # A request that stopped arriving: say so, without waiting.
            headers, body = wire.error_page(408, "Request not received in time")
            try:
                conn.sock.send(wire.response_head((1, 1), 408, headers,
                                                  len(body), True) + body)
            except OSError:
                pass
        self._close(conn)

    # ------------------------------------------------- accept and timers
    def _wake(self) -> None:
        try:
            os.eventfd_write(self._wake_fd, 1)
        except (OSError, TypeError):
            pass

    def _housekeep(self) -> None:
        poller = select.poll()
        poller.register(self._wake_fd, select.POLLIN)
        poller.register(self._listener.fileno(), select.POLLIN)
        self._polling_listener = True
        while not self._shutdown:
            now = time.monotonic()
            with self._timer_lock:
                self._next_wake = self._timers[0][0] if self._timers else now + 1
                timeout = max(0.0, min(self._next_wake - now, 1.0))
            if self._retry:
                timeout = min(timeout, 0.01)
            if self._listening and not self._polling_listener:
                timeout = min(timeout, max(0.0, self._accept_paused_until - now))
            events = poller.poll(timeout * 1000)
            try:
                os.eventfd_read(self._wake_fd)
            except BlockingIOError:
                pass
            try:
                self._housekeep_once(poller, events)
            except Exception:  # pylint: disable=broad-except
                # Accepting and deadlines must go on whatever happened.
                logging.exception("HTTP housekeeping failed")
                time.sleep(0.1)
        self._close_listener(poller)

    def _close_listener(self, poller) -> None:
        if not self._listening:
            return
        self._listening = False
        if self._polling_listener:
            self._polling_listener = False
            poller.unregister(self._listener.fileno())
        self._listener.close()
        self._listener_closed.set()

    def _housekeep_once(self, poller, events) -> None:
        listener = self._listener
        if self._stopping:
            self._close_listener(poller)
        if self._listening and not self._polling_listener and \
                time.monotonic() >= self._accept_paused_until:
            poller.register(listener.fileno(), select.POLLIN)
            self._polling_listener = True
            self._accept_paused_until = 0.0
        if self._polling_listener and any(fd == listener.fileno()
                                          for fd, _ in events):
            if not self._accept_batch():
                poller.unregister(listener.fileno())
                self._polling_listener = False
                self._accept_paused_until = (
                    time.monotonic() + _ACCEPT_PAUSE_SECONDS)
        self._run_timers()
        self._prune_idle()

    def _accept_batch(self) -> bool:
        """Accepts what is waiting; False when accepting must pause."""
        for _ in range(_ACCEPT_BATCH):
            if len(self._conns) >= self._max_connections and not self._evict():
                return False
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return True
            except OSError as e:
                if e.errno in _OUT_OF_DESCRIPTORS:
                    logging.log_every_n_seconds(
                        logging.WARNING, "HTTP accept failed: %s", 10, e)
                    if not self._evict():
                        return False
                    continue
                if e.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EPERM):
                    continue
                raise
            self._admit(sock, peer)
        return True

    def _admit(self, sock, peer) -> None:
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            sock.close()
            return
        conn = _Conn(sock, peer[:2])
        with conn.lock:
            self._conns[conn.fd] = conn
            self._enter_head(conn)
            conn.armed = True
            try:
                self._epoll.register(conn.fd, _IN)
            except OSError:
                self._close(conn)

    def _evict(self) -> bool:
        """Closes the connection that has waited longest for a request.

        Spared: connections that waited less than _EVICT_AFTER_SECONDS (a
        new client gets time to send its request) and those whose request
        has arrived but was not read yet."""
        now = time.monotonic()
        with self._idle_lock:
            candidates = len(self._idle)
        for _ in range(candidates):
            with self._idle_lock:
                if not self._idle:
                    return False
                conn, seq = self._idle.popleft()
                if conn.idle_seq != seq or conn.state != _HEAD:
                    continue
                if now - conn.phase_start < _EVICT_AFTER_SECONDS:
                    self._idle.appendleft((conn, seq))  # all later ones are newer
                    return False
            if conn.lock.acquire(blocking=False):
                try:
                    if conn.idle_seq != seq or conn.state != _HEAD:
                        continue
                    if not self._has_unread_bytes(conn):
                        self._close(conn)
                        return True
                finally:
                    conn.lock.release()
            with self._idle_lock:
                self._idle.append((conn, seq))  # busy or about to be: later
        return False

    @staticmethod
    def _has_unread_bytes(conn) -> bool:
        try:
            return bool(conn.sock.recv(1, socket.MSG_PEEK))
        except BlockingIOError:
            return False
        except OSError:
            return False

    def _prune_idle(self) -> None:
        with self._idle_lock:
            if len(self._idle) <= 2 * len(self._conns) + 64:
                return
            self._idle = collections.deque(
                (c, s) for c, s in self._idle
                if c.idle_seq == s and c.state == _HEAD)
