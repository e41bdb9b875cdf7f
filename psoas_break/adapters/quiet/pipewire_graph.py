"""The live PipeWire graph, read from ONE long-lived `pw-dump --monitor --no-colors` process.

Why a subprocess: PipeWire has no maintained Python binding (PyPI's `pipewire` is an empty
placeholder, `pipewire-python` runs pw-cat/pw-cli per call, `pipewire-gobject` is experimental
and needs GObject introspection), and libpipewire's registry is reached through inline
functions and macros (pw_registry_add_listener, spa_interface method tables) that ctypes cannot
call. pw-dump is part of PipeWire (Debian: pipewire-bin), speaks the registry for us and prints
JSON: one process for the app's life, event-driven, ~6 MB RSS (measured).

Its output (0.3.65, checked): batches of JSON arrays, each opened by a line "[" and closed by a
line "]" at column 0. The first batch is the whole graph; later ones hold the objects that
changed (each printed whole) and removals {"id": N, "info": null}. Nothing is printed while the
graph is still, so the reader thread sleeps in read() with no wake-ups. When PipeWire goes away
pw-dump exits with status 0 and prints nothing: end of file is the "unavailable" signal.

Restarting is on demand: `ensure()` (a detector asked while unavailable) starts a new pw-dump at
most every `restart_after_s` and waits up to `ready_timeout_s` for its first batch. While
PipeWire is away nothing runs: no timer, no thread, no process.

Known limit: if the app is SIGKILLed, pw-dump lives on until the graph next changes, then dies
of SIGPIPE (a parent-death signal would follow the spawning thread, which varies).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psoas_break.adapters.quiet.capture_rules import Graph, graph_from_objects
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

COMMAND = ("pw-dump", "--monitor", "--no-colors")
RESTART_AFTER_S = 5.0
READY_TIMEOUT_S = 3.0
Listener = Callable[[Graph | None], None]
# What the rules read of an object's info (pw-dump also prints every node's formats, ~KBs).
_KEPT = ("props", "state", "output-node-id", "input-node-id")


class PipeWireGraph:
    """See the module docstring. Thread-safe. Listeners run on the reader thread: they must be
    quick; one that raises is logged. The graph closes itself when its last listener detaches
    (the detectors share one graph and each detaches once)."""

    def __init__(self, env: Mapping[str, str] | None = None, *,
                 command: Sequence[str] = COMMAND, restart_after_s: float = RESTART_AFTER_S,
                 ready_timeout_s: float = READY_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._env = dict(os.environ if env is None else env)
        self._command = list(command)
        self._restart_after_s = restart_after_s
        self._ready_timeout_s = ready_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._objects: dict[int, Mapping[str, Any]] = {}
        self._graph: Graph | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._reason = "not started"
        self._last_start: float | None = None
        self._listeners: list[Listener] = []
        self._closed = False
        self.batches = 0  # for tests and the benchmark

    @classmethod
    def open(cls, env: Mapping[str, str] | None = None, **kw: Any) -> PipeWireGraph:
        """Find pw-dump and start it. Raises Unavailable when pw-dump is not installed; a
        PipeWire that is not running is not an error here (it may start later): the graph
        then reports unavailable with the reason."""
        env = os.environ if env is None else env
        command = list(kw.pop("command", COMMAND))
        path = shutil.which(command[0], path=env.get("PATH"))
        if path is None:
            raise Unavailable(f"{command[0]} is not installed (Debian: pipewire-bin)")
        graph = cls(env, command=[path, *command[1:]], **kw)
        graph.ensure()
        return graph

    # ---- state ----

    @property
    def available(self) -> bool:
        with self._lock:
            return self._graph is not None

    @property
    def reason(self) -> str:
        """Why the graph is unavailable ("" when available)."""
        with self._lock:
            return "" if self._graph is not None else self._reason

    def snapshot(self) -> Graph | None:
        """The latest graph, or None while unavailable."""
        with self._lock:
            return self._graph

    @property
    def pid(self) -> int | None:
        """pw-dump's pid while it runs (for tests and the benchmark)."""
        with self._lock:
            proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    @property
    def listening(self) -> bool:
        """Whether any detector listens to this graph."""
        with self._lock:
            return bool(self._listeners)

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(graph)` after each change (None: the graph became unavailable)."""
        with self._lock:
            self._listeners.append(listener)

    def detach(self, listener: Listener) -> None:
        """Stop calling `listener`; the last one to detach closes the graph."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            last = not self._listeners
        if last:
            self.close()

    # ---- life cycle ----

    def ensure(self) -> bool:
        """Start pw-dump if it is not running and the last start is `restart_after_s` ago;
        wait up to `ready_timeout_s` for its first batch. Returns whether the graph is
        available."""
        with self._lock:
            if self._closed:
                return False
            running = self._thread is not None and self._thread.is_alive()
            recent = (self._last_start is not None
                      and self._clock() - self._last_start < self._restart_after_s)
            ready = self._ready if running or recent else self._start_locked()
        if threading.current_thread() is not self._thread:  # a listener may ask
            ready.wait(self._ready_timeout_s)
        return self.available

    def _start_locked(self) -> threading.Event:
        self._last_start = self._clock()
        self._ready = ready = threading.Event()
        self._objects = {}
        try:
            proc = subprocess.Popen(self._command, env=self._env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            self._reason = f"cannot run {self._command[0]}: {exc}"
            ready.set()
            return ready
        self._proc = proc
        self._thread = threading.Thread(target=self._read, args=(proc, ready),
                                        name="psoas-pipewire-graph", daemon=True)
        self._thread.start()
        return ready

    def close(self) -> None:
        """Stop pw-dump and the reader thread (terminating the child ends the read)."""
        with self._lock:
            self._closed = True
            proc, thread = self._proc, self._thread
            self._listeners.clear()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(2.0)
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    # ---- the reader thread ----

    def _read(self, proc: subprocess.Popen[bytes], ready: threading.Event) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        sel = selectors.DefaultSelector()
        sel.register(out_fd, selectors.EVENT_READ)
        sel.register(err_fd, selectors.EVENT_READ)
        pending = b""
        batch: list[bytes] = []
        errors: list[str] = []
        open_fds = 2
        try:
            while open_fds:
                for key, _events in sel.select():
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                        open_fds -= 1
                        continue
                    if key.fd == err_fd:
                        errors = (errors + data.decode(errors="replace").splitlines())[-5:]
                        continue
                    pending += data
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        batch.append(line)
                        if line == b"]":
                            self._apply(b"\n".join(batch), ready)
                            batch = []
        except Exception:  # output we do not understand: stop rather than guess
            log.exception("reading pw-dump failed")
            proc.kill()
        finally:
            sel.close()
            status = proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            detail = "; ".join(e.strip() for e in errors if e.strip())
            reason = (f"PipeWire not reachable (pw-dump exited with status {status}"
                      + (f": {detail}" if detail else "") + ")")
            with self._lock:
                self._graph = None
                self._reason = "closed" if self._closed else reason
                listeners = list(self._listeners)
            ready.set()
            if not self._closed:
                log.info("PipeWire graph unavailable: %s", reason)
            self._notify(listeners, None)

    def _apply(self, raw: bytes, ready: threading.Event) -> None:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise ValueError("pw-dump printed something other than a list")
        with self._lock:
            for obj in items:
                oid = obj.get("id") if isinstance(obj, dict) else None
                if not isinstance(oid, int):
                    continue
                info = obj.get("info")
                if info is None:
                    self._objects.pop(oid, None)  # removed
                elif isinstance(info, dict):
                    self._objects[oid] = {"id": oid, "type": obj.get("type"),
                                          "info": {k: info[k] for k in _KEPT if k in info}}
            self._graph = graph_from_objects(self._objects.values())
            self._reason = ""
            self.batches += 1
            graph, listeners = self._graph, list(self._listeners)
        ready.set()
        self._notify(listeners, graph)

    @staticmethod
    def _notify(listeners: Sequence[Listener], graph: Graph | None) -> None:
        for listener in listeners:
            try:
                listener(graph)
            except Exception:
                log.exception("PipeWire graph listener failed")
