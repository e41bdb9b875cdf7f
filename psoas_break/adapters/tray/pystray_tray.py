"""The tray icon and menu through pystray, fed with `TrayView`s from the runtime.

Threads: `run()` blocks the main thread in pystray's loop (a macOS rule; GTK likes it too; sni
waits there while the D-Bus receiver thread serves the panels). `render()` may be called from
the engine thread: pystray's backends marshal icon, title and menu updates onto their own loop.
A menu callback only posts its entry's Command to the engine's inbox and returns at once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from psoas_break import APP_NAME
from psoas_break.core.commands import Command
from psoas_break.core.tray_view import MenuEntry, TrayView
from psoas_break.ui.icon import IconArt, render_icon

log = logging.getLogger(__name__)

ICON_PX = 64


def _const(value: Any) -> Callable[[Any], Any]:
    def get(_item: Any) -> Any:
        return value

    return get


def _nothing(_icon: Any, _item: Any) -> None:
    """The callback of a menu line that does nothing (pystray needs one)."""


def _import_pystray(backend: str) -> Any:
    if backend == "sni":  # ours: pystray's model only, no backend of its own loaded
        from psoas_break.adapters.tray import sni

        return sni
    # pystray chooses its backend when first imported, from PYSTRAY_BACKEND.
    if backend not in ("win32", "darwin"):
        os.environ["PYSTRAY_BACKEND"] = backend
    import pystray

    if backend == "xorg":
        _patch_xorg()
    return pystray


def _patch_xorg() -> None:
    """Two fixes to pystray 0.19.5's xorg backend.

    Its window never selects ButtonPressMask, so clicks never arrive (pystray issue #151): add
    the mask right after the window is created. And its loop marks the icon ready (which starts
    the setup thread) before it records its own thread; a setup that sets `visible` in between
    dies on the missing `_thread` and the app never starts (seen once on a loaded CI machine):
    record the thread first."""
    from pystray import _xorg

    icon_cls = _xorg.Icon
    if getattr(icon_cls, "_psoas_click_patch", False):
        return
    original = icon_cls._create_window

    def create_window(self: Any) -> Any:
        import Xlib.X

        window = original(self)
        window.change_attributes(event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask
                                 | Xlib.X.ButtonPressMask)
        return window

    def run_loop(self: Any) -> None:
        self._thread = threading.current_thread()
        self._mark_ready()
        self._mainloop()

    icon_cls._create_window = create_window
    icon_cls._run = run_loop
    icon_cls._psoas_click_patch = True


class PystrayTray:
    """One tray icon (implements ports.Tray). Construct on the main thread; `render` from
    any thread."""

    def __init__(self, backend: str, post: Callable[[Command], None]) -> None:
        self.name = backend
        self._post = post
        self._pystray = _import_pystray(backend)
        self._lock = threading.Lock()
        self._view: TrayView | None = None
        self._icon = self._pystray.Icon(APP_NAME, title=APP_NAME)
        self.has_menu = bool(getattr(self._icon, "HAS_MENU", True))
        self.has_notification = bool(getattr(self._icon, "HAS_NOTIFICATION", False))
        # sni: Status NeedsAttention while a prompt is due (panels highlight the item).
        self._has_status = hasattr(type(self._icon), "status")
        # sni: the icon draws itself at each size the panels get, and Pillow stays unloaded.
        self._draws_art = bool(getattr(self._icon, "DRAWS_ART", False))

    def _callback(self, command: Command) -> Callable[[Any, Any], None]:
        # No default arguments: pystray matches callbacks by their argument count.
        post = self._post

        def clicked(_icon: Any, _item: Any) -> None:
            post(command)

        return clicked

    def _item(self, entry: MenuEntry) -> Any:
        pystray = self._pystray
        if entry.label == "-":
            return pystray.Menu.SEPARATOR
        if entry.children:
            sub = pystray.Menu(*(self._item(c) for c in entry.children))
            return pystray.MenuItem(entry.label, sub, enabled=entry.enabled, visible=entry.visible)
        action = self._callback(entry.action) if entry.action else _nothing
        checked = _const(entry.checked) if entry.toggle else None
        return pystray.MenuItem(entry.label, action, checked=checked,
                                radio=entry.toggle == "radio", default=entry.default,
                                visible=entry.visible,
                                enabled=entry.enabled and entry.action is not None)

    def render(self, view: TrayView) -> None:
        """Show `view`: only the parts that changed are pushed to the backend."""
        with self._lock:
            old = self._view
            self._view = view
            icon = self._icon
            if old is None or old.icon != view.icon:
                icon.icon = (IconArt(view.icon) if self._draws_art
                             else render_icon(view.icon, ICON_PX))
            if old is None or old.title != view.title:
                icon.title = view.title
            if self._has_status and (old is None or old.icon.state != view.icon.state):
                icon.status = "NeedsAttention" if view.icon.state == "prompt_due" else "Active"
            menu_changed = old is None or old.menu != view.menu
            if menu_changed and not (old and self._relabel_status_only(old, view)):
                icon.menu = self._pystray.Menu(*(self._item(e) for e in view.menu))

    def _relabel_status_only(self, old: TrayView, new: TrayView) -> bool:
        """When only the text of information lines changed, relabel them in place (GTK).

        pystray's GTK backends rebuild the whole menu on update_menu(), which gives every
        dbusmenu item a new id: a click that a panel sends during the rebuild is lost ("The ID
        supplied does not refer to a menu item"). The status line and the "Today" figures
        change every minute, so relabel those Gtk.MenuItems instead and rebuild only when
        something else changed. (The sni backend keeps ids itself: tray/dbusmenu.py.)
        """
        if self.name not in ("appindicator", "gtk"):
            return False
        if _shape(old.menu) != _shape(new.menu):
            return False
        handle = getattr(self._icon, "_menu_handle", None)
        if handle is None:
            return False
        try:
            from gi.repository import GLib
        except ImportError:
            return False
        entries = new.menu

        def relabel() -> bool:
            try:
                _relabel(handle, entries)
            except Exception:
                log.debug("relabelling the menu failed", exc_info=True)
            return False  # run once

        GLib.idle_add(relabel)
        return True

    def run(self, setup: Callable[[], None]) -> None:
        """Block in the tray loop; `setup` runs once the icon is up (starts the engine)."""

        def on_ready(icon: Any) -> None:
            try:
                icon.visible = True
            except Exception:  # pystray's setup thread would die silently: the app still runs
                log.exception("the tray icon could not be shown")
            setup()

        try:
            self._icon.run(setup=on_ready)
        except Exception:
            # pystray's GTK finaliser hides its notification through D-Bus and raises when no
            # notification server exists; the icon is gone by then, so this is not an error.
            log.debug("tray loop ended with an error", exc_info=True)

    def stop(self) -> None:
        try:
            self._icon.visible = False
        except Exception:  # the icon may be half gone during shutdown
            log.debug("hiding the icon failed", exc_info=True)
        self._icon.stop()

    def notify(self, title: str, message: str) -> None:
        """pystray's own notification (a fallback notifier where the backend has one)."""
        self._icon.notify(message, title)


def _visible(entries: tuple[MenuEntry, ...]) -> list[MenuEntry]:
    """The entries pystray shows: visible ones, separators trimmed and never doubled."""
    out: list[MenuEntry] = []
    for entry in entries:
        if not entry.visible:
            continue
        if entry.label == "-" and (not out or out[-1].label == "-"):
            continue
        out.append(entry)
    while out and out[-1].label == "-":
        out.pop()
    return out


def _shape(entries: tuple[MenuEntry, ...]) -> tuple[Any, ...]:
    """Everything about a menu except the text of lines that do nothing."""
    return tuple((e.label if e.action is not None or e.children else None, e.action, e.enabled,
                  e.visible, e.toggle, e.checked, e.default, _shape(e.children)) for e in entries)


def _relabel(gtk_menu: Any, entries: tuple[MenuEntry, ...]) -> None:
    for entry, item in zip(_visible(entries), gtk_menu.get_children(), strict=False):
        if entry.children:
            submenu = item.get_submenu()
            if submenu is not None:
                _relabel(submenu, entry.children)
        elif entry.action is None and entry.label != "-" and item.get_label() != entry.label:
            item.set_label(entry.label)
