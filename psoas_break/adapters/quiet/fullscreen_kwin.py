"""Is the active window fullscreen on KWin (Plasma on Wayland)? A KWin script tells us.

Why a script: KWin's Wayland window list (org_kde_plasma_window_management) is a restricted
global, offered only to an executable a desktop file authorises by path; for a Python app that
executable is the interpreter, and authorising it would authorise every Python program. KWin's
scripting is public and documented (develop.kde.org/docs/plasma/kwin/api; ActivityWatch's KDE
window watcher uses it the same way): `org.kde.KWin /Scripting loadScript(file, name)`, then
`run()` on the script's object. The script pushes the active window's fullscreen state to us with
`callDBus` whenever it changes, so nothing polls on either side: `reasons()` only reads it.

Our side, on the app's one session-bus connection (adapters/dbus.py): an exported object whose
`Fullscreen(b)` the script calls at our unique name (baked into the script's text). The script
is unloaded on close, and a leftover from a crashed run (same name) is unloaded first; a probe
(`doctor`) loads its own under another name, so it never unloads the running app's. KWin
restarting, or our bus connection being renewed (a new unique name): the script is loaded again.
KWin 6 renamed the API (activeWindow, windowActivated...): the script uses whichever exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

from psoas_break.adapters.dbus import Bus, CallFailed, Interface, Method
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

KWIN = "org.kde.KWin"
SCRIPTING = ("/Scripting", "org.kde.kwin.Scripting")
OBJECT_PATH = "/org/psoas_break/Quiet"
INTERFACE = "org.psoas_break.Quiet"
PLUGIN_NAME = "psoas-break-fullscreen"
CALL_TIMEOUT_S = 3.0
RELOAD_GIVE_UP_S = 16.0  # the last wait between tries (0.25 s doubling: ~30 s in all)

SCRIPT = """// psoas-break: tells the app whether the active window is fullscreen.
var ws = workspace;
function active() {
    return ws.activeWindow !== undefined ? ws.activeWindow : ws.activeClient;
}
function report() {
    var w = active();
    callDBus(%(service)s, %(path)s, %(iface)s, "Fullscreen", !!(w && w.fullScreen));
}
function watch(w) {
    if (w && w.fullScreenChanged) {
        w.fullScreenChanged.connect(report);
    }
}
(ws.windowList ? ws.windowList() : ws.clientList()).forEach(watch);
(ws.windowAdded || ws.clientAdded).connect(function (w) { watch(w); report(); });
(ws.windowRemoved || ws.clientRemoved).connect(report);
(ws.windowActivated || ws.clientActivated).connect(report);
report();
"""


class KWinFullscreenDetector:
    """QuietDetector: "fullscreen" while KWin's active window is fullscreen."""

    name = "fullscreen-kwin"

    def __init__(self, bus: Bus, folder: str, plugin_name: str) -> None:
        self._bus = bus
        self._folder = folder
        self._plugin = plugin_name
        self._fullscreen = False
        self._script_path: str | None = None
        self._loaded_for = ""  # our unique name the loaded script calls
        self._kwin_owner = ""
        self._stopped = threading.Event()  # set by close(): a reload in progress gives up
        self._tokens: list[object] = []
        self.on_change: Callable[[bool], None] | None = None

    @classmethod
    def open(cls, env: Mapping[str, str], *, probe: bool = False) -> KWinFullscreenDetector:
        """Load the script into the session's KWin; raises Unavailable when there is no KWin
        or it refuses. `probe`: a check that is closed at once (doctor), under its own name."""
        bus = Bus.open(env)
        name = f"{PLUGIN_NAME}-probe-{os.getpid()}" if probe else PLUGIN_NAME
        detector = cls(bus, env.get("XDG_RUNTIME_DIR") or tempfile.gettempdir(), name)
        try:
            if not bus.name_has_owner(KWIN):
                raise Unavailable(f"no {KWIN} on the session bus (not KDE)")
            bus.export(OBJECT_PATH, Interface(INTERFACE, methods={
                "Fullscreen": Method("b", "", detector._report)}))
            detector._load()
            (detector._kwin_owner,) = bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                               "org.freedesktop.DBus", "GetNameOwner", "s",
                                               (KWIN,))
            detector._tokens.append(bus.watch_name(KWIN, detector._kwin_changed))
        except CallFailed as exc:
            detector.close()
            raise Unavailable(f"KWin scripting did not answer ({exc})") from None
        except BaseException:
            detector.close()
            raise
        return detector

    def _call(self, path: str, interface: str, member: str, signature: str = "",
              *args: Any) -> tuple[Any, ...]:
        return self._bus.call(KWIN, path, interface, member, signature, args,
                              timeout_s=CALL_TIMEOUT_S)

    def _load(self) -> None:
        """Write the script for our unique name and load it (replacing an older one)."""
        me = self._bus.unique_name
        text = SCRIPT % {"service": json.dumps(me), "path": json.dumps(OBJECT_PATH),
                         "iface": json.dumps(INTERFACE)}
        fd, path = tempfile.mkstemp(prefix="psoas-break-kwin-", suffix=".js", dir=self._folder)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        old, self._script_path = self._script_path, path
        if old:
            with contextlib.suppress(OSError):
                os.unlink(old)
        (loaded,) = self._call(*SCRIPTING, "isScriptLoaded", "s", self._plugin)
        if loaded:  # ours from before (a crash, a renewed connection): it calls a dead name
            self._call(*SCRIPTING, "unloadScript", "s", self._plugin)
        (script_id,) = self._call(*SCRIPTING, "loadScript", "ss", path, self._plugin)
        if int(script_id) < 0:
            raise Unavailable("KWin refused to load the fullscreen script")
        for obj in (f"/Scripting/Script{script_id}", f"/{script_id}"):  # KWin 6, KWin 5
            try:
                self._call(obj, "org.kde.kwin.Script", "run")
            except CallFailed:
                continue
            self._loaded_for = me
            log.info("KWin fullscreen script running (%s)", obj)
            return
        raise Unavailable("KWin loaded the fullscreen script but would not run it")

    def _report(self, fullscreen: bool) -> None:
        """Fullscreen(b), called by the script (bus receiver thread)."""
        value = bool(fullscreen)
        log.debug("KWin: the active window is %sfullscreen", "" if value else "not ")
        if value != self._fullscreen:
            self._fullscreen = value
            if self.on_change is not None:
                self.on_change(value)

    def _kwin_changed(self, owner: str) -> None:
        """KWin's owner after each (re)connection and each change (bus receiver thread)."""
        previous, self._kwin_owner = self._kwin_owner, owner
        if not owner:
            self._report(False)
            return
        same = owner == previous and self._loaded_for == self._bus.unique_name
        if self._stopped.is_set() or same:
            return  # the same KWin, and our script still calls our name
        # KWin came back, or we have a new unique name: load again, off this thread (loading
        # calls KWin, whose script then calls us).
        threading.Thread(target=self._reload, name="psoas-kwin-script", daemon=True).start()

    def _reload(self) -> None:
        """Load the script again; a KWin just started takes its bus name before it serves
        /Scripting, so a few tries, 0.25 s apart and doubling, for about half a minute."""
        delay_s = 0.25
        while not self._stopped.is_set() and self._kwin_owner:
            try:
                self._load()
                return
            except (Unavailable, CallFailed) as exc:
                if delay_s > RELOAD_GIVE_UP_S:
                    log.warning("loading the KWin fullscreen script again failed: %s", exc)
                    return
            self._stopped.wait(delay_s)
            delay_s *= 2

    def reasons(self) -> tuple[str, ...]:
        """("fullscreen",) while KWin's active window is fullscreen; a read, never blocks."""
        return ("fullscreen",) if self._fullscreen and self._kwin_owner != "" else ()

    def close(self) -> None:
        """Unload the script, stop serving, release the bus."""
        self._stopped.set()
        for token in self._tokens:
            self._bus.unsubscribe(token)
        if self._loaded_for:
            try:
                self._call(*SCRIPTING, "unloadScript", "s", self._plugin)
            except CallFailed:
                log.debug("unloading the KWin script failed", exc_info=True)
        self._bus.unexport(OBJECT_PATH)
        self._bus.close()
        if self._script_path:
            with contextlib.suppress(OSError):
                os.unlink(self._script_path)
