"""The process's one Wayland connection per display, served by one thread with no wakeups.

Why one: pywayland 0.4.19 attaches a proxy the compositor creates in an *event* (a toplevel
handle) to the display of whichever registry it finds first in a process-wide table, not to
the connection the event came on; with two connections in one process the proxy lands on the
wrong one and the garbage collector later destroys it on freed memory (a segfault, found with
gdb). So the idle source and the fullscreen detector share one connection, as the app's D-Bus
users share one bus connection (adapters/dbus.py), and `adopt()` re-homes event-made proxies
all the same (a lost connection's registry may linger until collected).

The thread owns the pywayland Display and every proxy: nothing else touches them (pywayland's
dispatch is not built for threads). It blocks in poll() on the display fd and a self-pipe with
no timeout, so while the compositor sends nothing it never wakes; work from other threads is
queued and the pipe wakes it (`Lease.submit`). libwayland's roundtrip would block forever on a
compositor that accepted the connection but never answers, and a thread stuck there cannot be
stopped: every round trip here is a `sync` driven by the same poll, with a deadline.

The compositor going away (killed, crashed, session over): poll reports POLLIN/POLLHUP, the read
gets EOF, libwayland marks the display broken and pywayland raises RuntimeError. Then every
lease's `on_lost(reason)` runs (on the thread), the connection leaves the registry, and the
thread ends: no retry and no spinning on a dead fd. A later `attach` makes a new connection.

pywayland rules kept here: a dispatcher callback must return None (cffi prints "an integer is
required" for every event otherwise); a proxy nobody references is destroyed: keep them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from psoas_break.adapters.wayland import PYWAYLAND_FIX
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
RELEASE_WAIT_S = 1.0  # a release waits this long for its teardown to reach the compositor
STOP_JOIN_S = 5.0


@dataclass(frozen=True)
class GlobalInfo:
    """One global the compositor offers: registry name, interface, highest version."""

    name: int
    interface: str
    version: int


Setup = Callable[[Any, Any, Mapping[str, GlobalInfo]], "Callable[[], None] | None"]
"""setup(display, registry, globals by interface) binds and creates proxies, on the connection's
thread; it returns the teardown to run there on release (destroy what it made) or None, and
raises Unavailable to refuse (e.g. the protocol is not offered)."""


class _Lost(Exception):
    pass


class _Stopped(Exception):
    pass


class Lease:
    """One user's share of a connection (see `attach`). Thread-safe."""

    def __init__(self, conn: _Connection, on_lost: Callable[[str], None] | None) -> None:
        self._conn = conn
        self.on_lost = on_lost
        self.state: dict[str, Any] = {}  # "teardown" once the setup ran (loop thread)
        self.released = False

    @property
    def alive(self) -> bool:
        """Connected and not released."""
        return self._conn.alive and not self.released

    @property
    def lost_reason(self) -> str | None:
        """Why the connection ended, None while it works (or when it was only released)."""
        return self._conn.lost_reason

    @property
    def thread_id(self) -> int | None:
        """The kernel id of the connection's thread (for wakeup measurements)."""
        return self._conn.native_thread_id

    def submit(self, job: Callable[[Any], None]) -> None:
        """Run `job(display)` on the connection's thread soon; requests it makes are flushed
        right after. Dropped when the connection is gone."""
        if not self.released:
            self._conn.submit(job)

    def release(self) -> None:
        """Undo this user's setup (its teardown runs on the thread) and leave; the last one to
        leave closes the connection. Idempotent; returns within about a second."""
        if self.released:
            return
        self.released = True
        conn = self._conn
        if conn.alive and threading.current_thread() is not conn.thread:
            ran = threading.Event()

            def teardown(_display: Any) -> None:
                try:
                    undo = self.state.get("teardown")
                    if undo is not None:
                        undo()
                except Exception:
                    log.warning("Wayland teardown failed", exc_info=True)
                finally:
                    ran.set()

            conn.submit(teardown)
            ran.wait(RELEASE_WAIT_S)
        _Connection.leave(conn, self)


def attach(path: str, setup: Setup, *, on_lost: Callable[[str], None] | None = None,
           timeout_s: float = START_TIMEOUT_S) -> Lease:
    """Join (or open) the process's connection to the display at `path` and run `setup` there;
    returns once the compositor answered what setup created. Raises Unavailable with a plain
    reason (no pywayland, cannot connect, protocol not offered, no answer in time).
    `on_lost(reason)` runs on the connection's thread if the compositor goes away."""
    conn = _Connection.join(path, timeout_s)
    lease = Lease(conn, on_lost)
    try:
        conn.add(lease, setup, timeout_s)
    except BaseException:
        lease.release()
        raise
    return lease


def adopt(proxy: Any, display: Any) -> None:
    """Attach a proxy the compositor made in an event to `display`, the connection it came on
    (pywayland 0.4.19 may attach it to another one: see the module docstring)."""
    old = getattr(proxy, "_display", None)
    if old is display:
        return
    children = getattr(old, "_children", None)
    if children is not None:
        children.discard(proxy)
    proxy._display = display
    display._children.add(proxy)


def _forget_registries(display: Any) -> None:
    """Drop this display's registry from pywayland's process-wide table before disconnecting,
    so no later event-made proxy is attached to a dead display."""
    from pywayland.protocol.wayland import WlRegistry

    for key, proxy in list(WlRegistry.registry.items()):
        if getattr(proxy, "_display", None) is display:
            WlRegistry.registry.pop(key, None)


class _Connection:
    """A connection to one display and its thread; shared by the leases on it."""

    # The process-wide registry, display path -> live connection (the point of this module).
    _by_path: ClassVar[dict[str, _Connection]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._jobs: deque[Callable[[Any], None]] = deque()
        self._ready = threading.Event()
        self._start_error: str | None = None
        self.thread: threading.Thread | None = None
        self._stopping = False
        self.alive = False
        self.lost_reason: str | None = None
        self.native_thread_id: int | None = None
        self.leases: list[Lease] = []
        self._pending: list[tuple[threading.Event, dict[str, Any]]] = []
        self._globals: dict[str, GlobalInfo] = {}
        self._registry: Any = None
        self._keep: list[Any] = []  # sync callbacks in flight (pywayland frees unreferenced)

    # ---- the registry of connections ----

    @classmethod
    def join(cls, path: str, timeout_s: float) -> _Connection:
        with cls._lock:
            conn = cls._by_path.get(path)
            if conn is None or not conn.alive:
                conn = cls(path)
                conn.start(timeout_s)
                cls._by_path[path] = conn
            return conn

    @classmethod
    def leave(cls, conn: _Connection, lease: Lease) -> None:
        with cls._lock:
            if lease in conn.leases:
                conn.leases.remove(lease)
            last = not conn.leases
            if last and cls._by_path.get(conn.path) is conn:
                del cls._by_path[conn.path]
        if last:
            conn.stop()

    # ---- owner side ----

    def start(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self.thread = threading.Thread(target=self._run, args=(deadline,), name="psoas-wayland",
                                       daemon=True)
        self.thread.start()
        if not self._ready.wait(timeout_s + 1.0):
            self._start_error = "the Wayland thread did not report back"
        if self._start_error is not None:
            self.stop()
            raise Unavailable(self._start_error)

    def add(self, lease: Lease, setup: Setup, timeout_s: float) -> None:
        """Run `setup` for `lease` on the thread, then one round trip; raises Unavailable."""
        done = threading.Event()
        outcome = lease.state
        with self._lock:
            if not self.alive:
                raise Unavailable(f"the Wayland connection is gone ({self.lost_reason})")
            self.leases.append(lease)
            self._pending.append((done, outcome))

        def job(display: Any) -> None:
            if lease.released:
                done.set()
                return
            try:
                outcome["teardown"] = setup(display, self._registry, dict(self._globals))
            except Unavailable as exc:
                outcome["error"] = str(exc)
                done.set()
                return
            except Exception as exc:
                log.warning("Wayland setup failed", exc_info=True)
                outcome["error"] = f"failed: {type(exc).__name__}: {exc}"
                done.set()
                return
            callback = display.sync()
            self._keep.append(callback)

            def synced(*_args: Any) -> None:
                with contextlib.suppress(ValueError):
                    self._keep.remove(callback)
                done.set()

            callback.dispatcher["done"] = synced

        self.submit(job)
        answered = done.wait(timeout_s)
        with self._lock, contextlib.suppress(ValueError):
            self._pending.remove((done, outcome))
        if not answered:
            raise Unavailable("the compositor did not answer in time")
        if "error" in outcome:
            raise Unavailable(str(outcome["error"]))

    def submit(self, job: Callable[[Any], None]) -> None:
        if self._stopping:
            return
        self._jobs.append(job)
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"j")

    def stop(self) -> None:
        """Ask the thread to leave, wait for it, close the pipe. Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._stop_w, b"x")
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(STOP_JOIN_S)
            if self.thread.is_alive():
                log.warning("the Wayland thread did not stop in time")
                return  # it still polls the pipe: leave it open
        for fd in (self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.alive = False

    # ---- the connection's thread ----

    def _run(self, deadline: float) -> None:
        self.native_thread_id = threading.get_native_id()
        try:
            from pywayland.client.display import Display
        except ImportError as exc:  # not installed, or its bundled libwayland does not load
            self._fail_start(f"pywayland is not importable ({exc}); {PYWAYLAND_FIX}")
            return
        display = Display(self.path)
        try:
            display.connect()
        except ValueError:
            self._fail_start(f"cannot connect to the Wayland display {self.path}")
            return
        try:
            self._serve(display, deadline)
        finally:
            self.alive = False
            _forget_registries(display)
            try:
                display.disconnect()
            except Exception:  # a broken display may refuse to destroy its proxies cleanly
                log.debug("Wayland disconnect failed", exc_info=True)

    def _fail_start(self, reason: str) -> None:
        self._start_error = reason
        self._ready.set()

    def _serve(self, display: Any, deadline: float) -> None:
        poller = select.poll()
        fd = display.get_fd()
        poller.register(fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        registry = display.get_registry()
        self._registry = registry

        def on_global(_registry: Any, name: int, interface: str, version: int) -> None:
            self._globals.setdefault(interface, GlobalInfo(name, interface, version))

        def on_global_remove(_registry: Any, name: int) -> None:
            for key, info in list(self._globals.items()):
                if info.name == name:
                    del self._globals[key]

        registry.dispatcher["global"] = on_global
        registry.dispatcher["global_remove"] = on_global_remove
        try:
            if not self._roundtrip(display, poller, fd, deadline):
                self._fail_start("the compositor did not answer in time")
                return
        except _Lost as exc:
            self._fail_start(f"the compositor closed the connection ({exc})")
            return
        except _Stopped:
            self._fail_start("stopped while connecting")
            return
        self.alive = True
        self._ready.set()
        try:
            while True:
                self._pump(display, poller, fd, None)
        except _Stopped:
            return
        except _Lost as exc:
            self._lose(str(exc))

    def _lose(self, reason: str) -> None:
        log.warning("Wayland connection to %s lost: %s", self.path, reason)
        with self._lock:
            self.lost_reason = reason
            self.alive = False
            if self._by_path.get(self.path) is self:
                del self._by_path[self.path]
            leases = list(self.leases)
            pending = list(self._pending)
        for done, outcome in pending:
            outcome["error"] = f"the compositor went away ({reason})"
            done.set()
        for lease in leases:
            if lease.on_lost is not None and not lease.released:
                try:
                    lease.on_lost(reason)
                except Exception:
                    log.exception("a Wayland on_lost callback failed")

    def _roundtrip(self, display: Any, poller: Any, fd: int, deadline: float) -> bool:
        """wl_display.sync driven by our poll; False when the deadline passes first."""
        done: list[bool] = []
        callback = display.sync()
        callback.dispatcher["done"] = lambda *_args: done.append(True)
        while not done:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._pump(display, poller, fd, remaining)
        return True

    def _pump(self, display: Any, poller: Any, fd: int, timeout_s: float | None) -> None:
        """Dispatch what is queued, flush, sleep in poll, read what arrived, run jobs."""
        try:
            display.dispatch(block=False)
            display.flush()
        except RuntimeError as exc:
            raise _Lost(str(exc)) from None
        timeout_ms = None if timeout_s is None else max(0, int(timeout_s * 1000) + 1)
        events = dict(poller.poll(timeout_ms))
        if self._stop_r in events:
            try:
                wake = os.read(self._stop_r, 4096)
            except BlockingIOError:
                wake = b""
            if b"x" in wake or self._stopping:
                raise _Stopped
            while self._jobs:
                job = self._jobs.popleft()
                try:
                    job(display)
                except Exception:
                    log.exception("a Wayland job failed")
            try:
                display.flush()
            except RuntimeError as exc:
                raise _Lost(str(exc)) from None
        mask = events.get(fd, 0)
        if mask & select.POLLIN:
            try:
                display.read()
                display.dispatch(block=False)
            except RuntimeError as exc:
                raise _Lost(f"read failed: {exc}") from None
        elif mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
            raise _Lost("hang-up on the display socket")
