"""Quiet reason "microphone" ("in a call") over the PulseAudio protocol, with pulsectl.

This works on PulseAudio desktops and on PipeWire ones (pipewire-pulse lists native PipeWire
captures such as pw-record too), so it is the first microphone detector. Which captures count
is decided in capture_rules.py (not monitors, not level meters, not psoas-break's own).

One thread owns the libpulse connection (libpulse objects are not thread-safe):
    connect (never autospawn) -> subscribe to source_output events -> list -> block in
    event_listen() with no timeout (no wake-ups while nothing changes) -> an event stops the
    loop (PulseLoopStop) -> list again -> listen again.
The answer is cached: `reasons()` only reads it (2.9 µs, measured). When it changes,
`on_change(name)` is called from that thread.

Server gone (PipeWire or PulseAudio stopped): event_listen raises PulseDisconnected, the
detector becomes unavailable and its thread ENDS. The next check starts a new thread (at most
every `retry_after_s`) and waits up to `connect_timeout_s` for its first answer, so a server
that comes back is seen at the next check and nothing runs in between.

pulsectl facts this relies on (measured with 24.12.0, /work/notes/pipewire.md):
- `connect(timeout=T)` always blocks T seconds, even when the server answers at once: connect
  without a timeout on the thread, and bound the caller's wait instead;
- `Pulse(name)` connects with autospawn by default and would start a pulseaudio daemon where
  one is installed: always `connect=False`, then `connect(autospawn=False)`;
- libpulse runs subscription callbacks inside any list operation's loop: an event that arrives
  while listing is consumed there, so the callback marks `dirty` and the list is repeated;
- `event_listen_stop()` is racy with a loop that is just starting: `close()` repeats it;
- "source" events fire on every suspend/resume of the microphone (wireplumber suspends an idle
  source after 5 s): only source_output events are subscribed;
- `import pulsectl` loads libpulse.so.0 (Debian: libpulse0, +8.5 MB RSS) and runs
  ctypes.util.find_library once (it spawns ldconfig): imported only when this detector opens.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from psoas_break.adapters.quiet.capture_rules import (
    PA_INVALID_INDEX,
    DetectorStatus,
    PulseCapture,
    PulseSource,
    Use,
    proc_parent_of,
    pulse_microphone_users,
)
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

CLIENT_NAME = "psoas-break quiet check"
REASON = "microphone"


class PulseMicrophoneDetector:
    """QuietDetector (see the module docstring); `status()` for doctor and the log."""

    name = "microphone-pulse"
    reason = REASON

    def __init__(self, pulsectl: Any, *, server: str | None = None,
                 own_pids: Collection[int] | None = None,
                 on_change: Callable[[str], None] | None = None,
                 connect_timeout_s: float = 2.0, retry_after_s: float = 5.0,
                 exclude_children: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pc = pulsectl
        self._server = server
        self._own = frozenset(own_pids if own_pids is not None else (os.getpid(),))
        self._parent_of = proc_parent_of() if exclude_children else None
        self._on_change = on_change
        self._connect_timeout_s = connect_timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._users: tuple[Use, ...] = ()
        self._reason = "not started"
        self._thread: threading.Thread | None = None
        self._pulse: Any = None
        self._answered = threading.Event()
        self._stopping = False
        self._last_start: float | None = None
        self.refreshes = 0  # lists done, for tests and the benchmark

    @classmethod
    def open(cls, **kw: Any) -> PulseMicrophoneDetector:
        """Import pulsectl and connect once. Raises Unavailable without pulsectl or libpulse;
        no sound server now is not an error: the status says so and later checks retry."""
        try:
            import pulsectl
        except ImportError as exc:
            raise Unavailable("pulsectl is not installed (PyPI: pulsectl)") from exc
        except OSError as exc:  # libpulse.so.0 could not be loaded
            raise Unavailable(f"libpulse cannot be loaded (Debian: libpulse0): {exc}") from exc
        detector = cls(pulsectl, **kw)
        detector._ensure()
        return detector

    # ---- the asking side ----

    def status(self) -> DetectorStatus:
        """Availability and users now (may wait up to `connect_timeout_s` when it reconnects)."""
        self._ensure()
        with self._lock:
            if self._reason:
                return DetectorStatus(False, False, self._reason)
            users = self._users
        return DetectorStatus(True, bool(users), "", tuple(u.describe() for u in users))

    def reasons(self) -> tuple[str, ...]:
        """("microphone",) while another program captures a real source; never raises."""
        try:
            return (REASON,) if self.status().busy else ()
        except Exception:
            log.debug("microphone check failed", exc_info=True)
            return ()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the listener thread; gives up after `timeout_s` (a server that hangs the
        connect leaves a daemon thread behind, which ends with the process)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        deadline = self._clock() + timeout_s
        while thread is not None and thread.is_alive() and self._clock() < deadline:
            pulse = self._pulse
            if pulse is not None:
                try:
                    pulse.event_listen_stop()
                except Exception:
                    log.debug("event_listen_stop failed", exc_info=True)
            thread.join(0.05)

    # ---- the listener thread ----

    def _ensure(self) -> None:
        with self._lock:
            if self._stopping:
                return
            alive = self._thread is not None and self._thread.is_alive()
            recent = (self._last_start is not None
                      and self._clock() - self._last_start < self._retry_after_s)
            if alive or recent:
                answered = self._answered
            else:
                self._last_start = self._clock()
                answered = self._answered = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(answered,),
                                                name="psoas-pulse-microphone", daemon=True)
                self._thread.start()
        if threading.current_thread() is not self._thread:  # on_change may ask from it
            answered.wait(self._connect_timeout_s)

    def _set(self, users: tuple[Use, ...], reason: str) -> None:
        with self._lock:
            changed = users != self._users or reason != self._reason
            self._users, self._reason = users, reason
        if changed:
            log.debug("microphone: %s", reason or ", ".join(u.describe() for u in users)
                      or "free")
            if self._on_change is not None:
                try:
                    self._on_change(self.name)
                except Exception:
                    log.exception("reporting a microphone change failed")

    def _run(self, answered: threading.Event) -> None:
        pc = self._pc
        pulse = None
        try:
            pulse = pc.Pulse(CLIENT_NAME, server=self._server, connect=False)
            pulse.connect(autospawn=False, wait=False)  # no timeout: see the module docstring
            dirty = threading.Event()

            def on_event(_event: Any) -> None:
                dirty.set()
                raise pc.PulseLoopStop

            pulse.event_mask_set("source_output")
            pulse.event_callback_set(on_event)
            self._pulse = pulse
            while not self._stopping:
                dirty.clear()
                users = self._list(pulse)
                self.refreshes += 1
                answered.set()
                self._set(users, "")
                if dirty.is_set():
                    continue  # an event arrived while listing and was consumed there
                pulse.event_listen(timeout=None)  # blocks until an event or a stop
        except pc.PulseDisconnected:
            self._set((), "the sound server went away (PipeWire or PulseAudio stopped)")
        except pc.PulseError as exc:
            self._set((), f"no PulseAudio/PipeWire sound server: {exc}")
        except Exception as exc:
            log.exception("microphone listener failed")
            self._set((), f"microphone listener failed: {type(exc).__name__}: {exc}")
        finally:
            self._pulse = None
            answered.set()
            if pulse is not None:
                try:
                    pulse.close()
                except Exception:
                    log.debug("closing libpulse failed", exc_info=True)

    def _list(self, pulse: Any) -> tuple[Use, ...]:
        sources = {s.index: PulseSource(s.name, _index(getattr(s, "monitor_of_sink", None)))
                   for s in pulse.source_list()}
        outputs = pulse.source_output_list()
        clients: dict[int, dict[str, str]] = {}
        if outputs:
            clients = {c.index: dict(c.proplist) for c in pulse.client_list()}
        captures = [
            PulseCapture(o.index, _index(o.source), dict(o.proplist),
                         clients.get(_index(o.client), {}),
                         _index(getattr(o, "owner_module", None)))
            for o in outputs
        ]
        return pulse_microphone_users(captures, sources, self._own, self._parent_of)


def _index(value: object) -> int:
    """A libpulse index; None (pulsectl's "none" in some fields) -> PA_INVALID_INDEX."""
    if value is None:
        return PA_INVALID_INDEX
    try:
        return int(str(value))
    except ValueError:
        return PA_INVALID_INDEX
