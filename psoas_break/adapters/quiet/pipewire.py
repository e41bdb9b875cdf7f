"""Quiet reasons from the PipeWire graph: "screen-sharing", "camera", "microphone".

The three detectors share ONE `PipeWireGraph` (one pw-dump process for the app). Each keeps
its answer up to date from the graph's change events (the rules in capture_rules.py run on
the reader thread), so `reasons()` is a lock and a read: no I/O, no process per check
(2.4 µs, measured). When the answer changes, `on_change(name)` is called (the app posts a
`QuietChanged` command, so a held prompt leaves as the call ends). While PipeWire is away,
`reasons()` is () and `status()` says why; a check then restarts pw-dump at most every 5 s.

- `ScreenShareDetector` ("screen-sharing"): a screencast stream exists. Wayland desktops
  (GNOME, KDE, wlroots) share the screen through PipeWire, and so do portal users anywhere.
  On X11, browsers and Zoom capture the screen with X11 calls, not PipeWire: that is not seen
  (a known gap; the microphone still tells a call).
- `PipeWireCameraDetector` ("camera", the token the /dev/video* scan uses, so titles merge):
  a camera streaming through PipeWire.
- `PipeWireMicrophoneDetector` ("microphone"): a capture through PipeWire, without libpulse.
  Only audio that goes through PipeWire: on a PulseAudio desktop (Ubuntu 22.04 runs PipeWire
  for video only) the PulseAudio detector (microphone_pulse.py) is the one that sees calls;
  the factory uses this one only when that one cannot work.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Collection

from psoas_break.adapters.quiet.capture_rules import (
    DetectorStatus,
    Graph,
    ParentOf,
    Use,
    camera_users,
    microphone_users,
    proc_parent_of,
    screencasts,
)
from psoas_break.adapters.quiet.pipewire_graph import PipeWireGraph

log = logging.getLogger(__name__)

Rule = Callable[[Graph, Collection[int], "ParentOf | None"], tuple[Use, ...]]


class _GraphDetector:
    """A QuietDetector over the shared graph (see the module docstring).

    own_pids: processes whose streams never count (default: this one); with
    `exclude_children` their descendants do not either (speech engines). Tests that start the
    streams themselves pass exclude_children=False: those streams are their children."""

    name = "pipewire"
    reason = ""
    rule: Rule

    def __init__(self, graph: PipeWireGraph, *, own_pids: Collection[int] | None = None,
                 on_change: Callable[[str], None] | None = None,
                 exclude_children: bool = True) -> None:
        self._graph = graph
        self._own = frozenset(own_pids if own_pids is not None else (os.getpid(),))
        self._parent_of = proc_parent_of() if exclude_children else None
        self._on_change = on_change
        self._lock = threading.Lock()
        self._users: tuple[Use, ...] = ()
        self._seen = False  # whether the graph was available at the last update
        graph.subscribe(self._update)
        self._update(graph.snapshot())

    def _update(self, graph: Graph | None) -> None:
        users = () if graph is None else type(self).rule(graph, self._own, self._parent_of)
        with self._lock:
            changed = users != self._users or (graph is not None) != self._seen
            self._users, self._seen = users, graph is not None
        if changed:
            log.debug("%s: %s", self.name, ", ".join(u.describe() for u in users)
                      or ("free" if graph is not None else "unavailable"))
            if self._on_change is not None:
                self._on_change(self.name)

    def status(self) -> DetectorStatus:
        """Availability and users now (starts pw-dump again if it died and may be retried:
        this may wait up to 3 s, so call it where blocking is allowed)."""
        if not self._graph.available:
            self._graph.ensure()
        reason = self._graph.reason
        with self._lock:
            users = self._users
        if reason:
            return DetectorStatus(False, False, reason)
        return DetectorStatus(True, bool(users), "", tuple(u.describe() for u in users))

    def reasons(self) -> tuple[str, ...]:
        """(reason,) while in use; () when free or unavailable; never raises."""
        try:
            return (self.reason,) if self.status().busy else ()
        except Exception:
            log.debug("%s failed", self.name, exc_info=True)
            return ()

    def close(self) -> None:
        """Stop listening; the last detector of the graph closes it."""
        self._graph.detach(self._update)


class ScreenShareDetector(_GraphDetector):
    """Quiet reason "screen-sharing": a screencast stream exists."""

    name = "screen-sharing-pipewire"
    reason = "screen-sharing"
    rule = staticmethod(screencasts)


class PipeWireCameraDetector(_GraphDetector):
    """Quiet reason "camera": a camera is streaming through PipeWire."""

    name = "camera-pipewire"
    reason = "camera"
    rule = staticmethod(camera_users)


class PipeWireMicrophoneDetector(_GraphDetector):
    """Quiet reason "microphone", from the PipeWire graph (no libpulse needed)."""

    name = "microphone-pipewire"
    reason = "microphone"
    rule = staticmethod(microphone_users)
