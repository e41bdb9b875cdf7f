"""A pystray backend without GTK: the icon as a StatusNotifierItem with a com.canonical.dbusmenu
menu, served on the app's one D-Bus layer (psoas_break.adapters.dbus).

Use it as `pystray.Icon` with pystray's `Menu`/`MenuItem`, re-exported here (import them from
here: `import pystray` picks a backend when first imported and raises where none works, e.g.
python-xlib's DisplayNameError on Wayland without X; `_pystray_base()` loads only the abstract
model, with PYSTRAY_BACKEND=dummy, and neither GTK nor python-xlib):

    icon = Icon("psoas-break", image, "psoas-break", Menu(MenuItem("Quit", on_quit)))
    icon.run(setup)          # setup sets icon.visible = True

Extras: `icon` may be an object that draws itself at each size (`argb(size)`, see `pixmaps`),
`status` ("Active", "NeedsAttention": panels highlight the item, "Passive": hidden),
`registered` (an Event set while a watcher has the item), `on_secondary_activate(x, y)`
(middle click).

What panels need (read in xfce4-panel 4.18, waybar 0.9.17, KDE Plasma's systemtray, libdbusmenu
and GNOME's AppIndicator extension; xfce4-panel and waybar checked here, tests/test_tray_sni*):
- The item owns `org.kde.StatusNotifierItem-<pid>-<n>` before it calls the watcher's
  RegisterStatusNotifierItem with that name (KDE's watcher ignores a name nobody owns), and
  registers again with each new watcher owner (panel restarted, GNOME extension enabled late)
  and after the bus came back. The name leaving the bus drops the item from every host.
- Id and Category non-empty (waybar drops the item, xfce never shows it); property types exact
  (waybar's GDBusProxy drops mistyped ones); Menu of type `o` (KDE). Hosts re-read everything
  (GetAll) on NewTitle/NewIcon/NewToolTip/NewStatus; xfce takes the status from NewStatus.
- IconPixmap: ARGB32 big-endian (A, R, G, B bytes), not premultiplied, several sizes: xfce
  and waybar scale the largest, KDE picks the nearest. IconName stays "" (a name wins over
  pixmaps in waybar and KDE).
- Left click: Activate(x, y) unless ItemIsMenu, then the menu opens; so ItemIsMenu = "the menu
  has no default item", and Activate answers UnknownMethod without one (GNOME's extension then
  stops calling it, KDE opens the menu). GNOME decides from Introspect whether Activate exists.
- dbusmenu Version 3: libdbusmenu (xfce, waybar) then sends only EventGroup and
  AboutToShowGroup, KDE and GNOME Event and AboutToShow: all four are served.

Threads: handlers, menu callbacks and the default action run on the bus's receiver thread
(`psoas-dbus-session`), one at a time, and must be short (post to a queue); setters (`icon`,
`title`, `menu`, `status`) work from any thread. `run()` blocks its thread until `stop()`.
Errors: the constructor raises Unavailable when the session bus cannot be reached (the caller
picks another backend); later losses of the bus are mended by the D-Bus layer.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from psoas_break.adapters.dbus import (
    ERROR_INVALID_ARGS,
    ERROR_UNKNOWN_METHOD,
    Bus,
    CallFailed,
    Interface,
    Method,
    Property,
)
from psoas_break.adapters.tray.dbusmenu import MenuChanges, MenuModel, UnknownItem

log = logging.getLogger(__name__)

WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM_IFACE = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
DBUSMENU_VERSION = 3
STATUSES = ("Passive", "Active", "NeedsAttention")
#: Panel sizes 16-24 (GNOME, xfce, waybar), 32/48 (KDE, HiDPI), 64.
ICON_SIZES_PX = (16, 22, 24, 32, 48, 64)

Pixmap = tuple[int, int, bytes]

_instances = itertools.count(1)


def _pystray_base() -> ModuleType:
    """pystray's abstract model, whatever backend pystray would pick (see module docstring)."""
    if "pystray" not in sys.modules:
        saved = os.environ.get("PYSTRAY_BACKEND")
        os.environ["PYSTRAY_BACKEND"] = "dummy"
        try:
            import pystray  # noqa: F401
        finally:
            if saved is None:
                del os.environ["PYSTRAY_BACKEND"]
            else:
                os.environ["PYSTRAY_BACKEND"] = saved
    from pystray import _base

    module: ModuleType = _base
    return module


_base = _pystray_base()
_IconBase: Any = _base.Icon
Menu: Any = _base.Menu
MenuItem: Any = _base.MenuItem


def pixmaps(image: Any, sizes_px: Iterable[int] = ICON_SIZES_PX) -> list[Pixmap]:
    """IconPixmap entries, one per size (empty for no image), from a Pillow image or from an
    object drawing itself at each size, `argb(size) -> bytes` (ui.icon.IconArt: no Pillow)."""
    if image is None:
        return []
    if hasattr(image, "argb"):
        return [(size, size, image.argb(size)) for size in sizes_px]
    from PIL import Image

    from psoas_break.ui.icon import argb

    src = image.convert("RGBA")
    out = []
    for size in sizes_px:
        square = src if src.size == (size, size) else src.resize((size, size),
                                                                 Image.Resampling.LANCZOS)
        out.append((size, size, argb(square.tobytes())))
    return out


def _nothing(_x: int, _y: int) -> None:
    return None


class Icon(_IconBase):  # type: ignore[misc]  # pystray is untyped
    """pystray's Icon as a StatusNotifierItem (see module docstring)."""

    HAS_DEFAULT_ACTION = True
    HAS_MENU = True
    HAS_MENU_RADIO = True
    # The app's own notifier speaks org.freedesktop.Notifications with delivery reports;
    # a second, silent path here would only hide its failures.
    HAS_NOTIFICATION = False
    #: `icon` may also be an object with `argb(size) -> bytes` (see `pixmaps`).
    DRAWS_ART = True

    def __init__(self, name: str, icon: Any = None, title: str | None = None,
                 menu: Any = None, *, env: Mapping[str, str] | None = None,
                 on_secondary_activate: Callable[[int, int], None] = _nothing,
                 **kwargs: Any) -> None:
        self._lock = threading.Lock()  # the fields below
        self._pixmaps: list[Pixmap] = []
        self._status = "Active"  # while visible
        self._shown = False
        self._registered_with: tuple[str, str, str] | None = None  # (bus id, our name, watcher)
        self._tokens: list[object] = []
        self._menu_lock = threading.Lock()  # one menu update at a time, read and merged
        self._model = MenuModel()
        self._stopped = threading.Event()
        self._on_secondary_activate = on_secondary_activate
        #: Set while a StatusNotifierWatcher has the item registered.
        self.registered = threading.Event()
        self.bus_name = f"org.kde.StatusNotifierItem-{os.getpid()}-{next(_instances)}"
        super().__init__(name, icon, title, menu, **kwargs)
        # Connect here, not in _run(): the caller can still choose another backend, and
        # pystray's setup thread (not a daemon) would wait forever if _run() raised.
        self._bus = Bus.open(os.environ if env is None else env)
        self._bus.export(ITEM_PATH, self._item_interface())
        self._bus.export(MENU_PATH, self._menu_interface())

    # -- extras -------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """"Active", "NeedsAttention" or "Passive" (while visible; hidden is Passive)."""
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        if value not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {value!r}")
        with self._lock:
            changed = value != self._status
            self._status = value
        if changed and self.visible:
            self._emit_item("NewAttentionIcon")
            self._emit_item("NewStatus", "s", (value,))

    def _shown_status(self) -> str:
        return self._status if self._shown else "Passive"

    # -- pystray's backend contract -----------------------------------------------------------

    def _show(self) -> None:
        with self._lock:
            self._shown = True
            first = not self._tokens
        self._emit_item("NewStatus", "s", (self._shown_status(),))
        if first:  # own the name first: KDE's watcher ignores a name nobody owns
            self._tokens.append(self._bus.request_name(self.bus_name))
            self._tokens.append(self._bus.watch_name(WATCHER_NAME, self._watcher_is))

    def _hide(self) -> None:
        with self._lock:
            self._shown = False
        self._emit_item("NewStatus", "s", ("Passive",))

    def _update_icon(self) -> None:
        new = pixmaps(self.icon)
        with self._lock:
            self._pixmaps = new
        self._icon_valid = True
        self._emit_item("NewIcon")
        if self._status == "NeedsAttention":
            self._emit_item("NewAttentionIcon")

    def _update_title(self) -> None:
        self._emit_item("NewTitle")
        self._emit_item("NewToolTip")

    def _update_menu(self) -> None:
        self._merge_menu()

    def _merge_menu(self) -> MenuChanges:
        """Read pystray's menu and signal what changed; what changed."""
        with self._menu_lock:
            had_default = self._model.default is not None
            changes = self._model.update(self.menu)  # self.menu read inside the lock: latest
            if changes.properties:
                self._emit(MENU_PATH, MENU_IFACE, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)",
                           (changes.properties, []))
            for parent in changes.layout_parents:
                self._emit(MENU_PATH, MENU_IFACE, "LayoutUpdated", "ui",
                           (changes.revision, parent))
            if had_default != (self._model.default is not None):
                self._emit_item("NewTitle")  # ItemIsMenu has no signal: hosts re-read all
            return changes

    def _run(self) -> None:
        self._mark_ready()
        self._stopped.wait()

    def _run_detached(self) -> None:
        self._mark_ready()

    def _stop(self) -> None:
        tokens, self._tokens = self._tokens, []
        for token in reversed(tokens):  # the watch, then the name: hosts drop the item
            self._bus.unsubscribe(token)
        self.registered.clear()
        self._bus.close()
        self._stopped.set()

    def _notify(self, message: str, title: str | None = None) -> None:
        log.debug("the sni tray shows no notifications (HAS_NOTIFICATION is false)")

    def _remove_notification(self) -> None:
        return None

    # -- signals ------------------------------------------------------------------------------

    def _emit(self, path: str, interface: str, member: str, signature: str = "",
              args: tuple[Any, ...] = ()) -> None:
        try:
            self._bus.emit(path, interface, member, signature, args)
        except CallFailed as exc:  # hosts read everything again when the item comes back
            log.debug("signal %s not sent: %s", member, exc)
        except Exception:  # a bug here must not stop the engine thread that renders
            log.exception("signal %s not sent", member)

    def _emit_item(self, member: str, signature: str = "", args: tuple[Any, ...] = ()) -> None:
        self._emit(ITEM_PATH, ITEM_IFACE, member, signature, args)

    # -- registration (receiver thread) ---------------------------------------------------------

    def _watcher_is(self, owner: str) -> None:
        if not owner:
            self.registered.clear()
            with self._lock:
                self._registered_with = None
            log.info("no StatusNotifierWatcher on the bus: the icon shows when a panel starts")
            return
        # Our unique name is new on every connection: after our connection dropped and came
        # back (same bus, same watcher) the watcher has forgotten the item, so register again.
        key = (self._bus.bus_id, self._bus.unique_name, owner)
        with self._lock:
            if key == self._registered_with or not self._tokens:
                return  # told twice (after a connection and by the signal), or stopped
            self._registered_with = key
        self.registered.clear()  # until this watcher accepts it

        def accepted(_body: tuple[Any, ...]) -> None:
            log.info("tray icon registered with the StatusNotifierWatcher (%s)", owner)
            self.registered.set()

        def refused(exc: CallFailed) -> None:
            log.warning("the StatusNotifierWatcher refused the tray icon: %s", exc)
            with self._lock:
                if self._registered_with == key:
                    self._registered_with = None

        try:
            self._bus.call_async(WATCHER_NAME, WATCHER_PATH, WATCHER_NAME,
                                 "RegisterStatusNotifierItem", "s", (self.bus_name,),
                                 on_reply=accepted, on_error=refused)
        except CallFailed as exc:  # the connection went: the watch calls again when back
            log.debug("registering the tray icon failed: %s", exc)
            with self._lock:
                self._registered_with = None

    # -- org.kde.StatusNotifierItem -----------------------------------------------------------

    def _item_interface(self) -> Interface:
        def prop(signature: str, get: Callable[[], Any]) -> Property:
            return Property(signature, get)

        def const(signature: str, value: Any) -> Property:
            return Property(signature, lambda: value)

        def xy(handler: Callable[[int, int], Any]) -> Method:
            return Method("ii", "", handler)

        return Interface(
            ITEM_IFACE,
            methods={
                "Activate": xy(self._activate),
                "SecondaryActivate": xy(self._secondary_activate),
                "ContextMenu": xy(self._context_menu),
                "Scroll": Method("is", "", lambda _delta, _orientation: None),
                # KDE on Wayland, before Activate; nothing to raise here.
                "ProvideXdgActivationToken": Method("s", "", lambda _token: None),
            },
            properties={
                "Category": const("s", "ApplicationStatus"),
                "Id": prop("s", lambda: self.name),
                "Title": prop("s", lambda: self.title),
                "Status": prop("s", self._shown_status),
                "IconName": const("s", ""),
                "IconPixmap": prop("a(iiay)", lambda: self._pixmaps),
                "OverlayIconName": const("s", ""),
                "OverlayIconPixmap": const("a(iiay)", []),
                "AttentionIconName": const("s", ""),
                # The icon itself shows a due prompt; hosts that swap in the attention icon
                # while NeedsAttention (xfce, KDE) get the same picture.
                "AttentionIconPixmap": prop("a(iiay)", lambda: (
                    self._pixmaps if self._status == "NeedsAttention" else [])),
                "AttentionMovieName": const("s", ""),
                "IconThemePath": const("s", ""),
                "ToolTip": prop("(sa(iiay)ss)", lambda: ("", [], self.title, "")),
                "ItemIsMenu": prop("b", lambda: self._model.default is None),
                "Menu": const("o", MENU_PATH),
            },
            signals={"NewTitle": "", "NewIcon": "", "NewAttentionIcon": "",
                     "NewOverlayIcon": "", "NewToolTip": "", "NewStatus": "s"},
        )

    def _activate(self, _x: int, _y: int) -> None:
        default = self._model.default
        if default is None:
            raise CallFailed(ERROR_UNKNOWN_METHOD, "no default action (the menu is the icon's)")
        if default.enabled:
            self._handler(default)()  # pystray: the item's action, then update_menu()

    def _secondary_activate(self, x: int, y: int) -> None:
        self._on_secondary_activate(x, y)

    def _context_menu(self, _x: int, _y: int) -> None:
        # Only hosts that cannot read dbusmenu call this; there is no other menu to pop up.
        raise CallFailed("org.freedesktop.DBus.Error.NotSupported", f"the menu is at {MENU_PATH}")

    # -- com.canonical.dbusmenu ---------------------------------------------------------------

    def _menu_interface(self) -> Interface:
        return Interface(
            MENU_IFACE,
            methods={
                "GetLayout": Method("iias", "u(ia{sv}av)", self._get_layout),
                "GetGroupProperties": Method("aias", "a(ia{sv})", lambda ids, names: (
                    self._model.group_properties(ids, names),)),
                "GetProperty": Method("is", "v", self._get_property),
                "Event": Method("isvu", "", self._event),
                "EventGroup": Method("a(isvu)", "ai", self._event_group),
                "AboutToShow": Method("i", "b", self._about_to_show),
                "AboutToShowGroup": Method("ai", "aiai", self._about_to_show_group),
            },
            properties={
                "Version": Property("u", lambda: DBUSMENU_VERSION),
                "TextDirection": Property("s", lambda: "ltr"),
                "Status": Property("s", lambda: "normal"),
                "IconThemePath": Property("as", lambda: []),
            },
            signals={"ItemsPropertiesUpdated": "a(ia{sv})a(ias)", "LayoutUpdated": "ui",
                     "ItemActivationRequested": "iu"},
        )

    @staticmethod
    def _no_item(item_id: Any) -> CallFailed:
        return CallFailed(ERROR_INVALID_ARGS, f"no menu item {item_id}")

    def _get_layout(self, parent: int, depth: int, names: list[str]) -> tuple[Any, ...]:
        try:
            return self._model.get_layout(parent, depth, names)
        except UnknownItem:
            raise self._no_item(parent) from None

    def _get_property(self, item_id: int, name: str) -> tuple[Any, ...]:
        try:
            return (self._model.get_property(item_id, name),)
        except UnknownItem:
            raise self._no_item(item_id) from None
        except KeyError:
            raise CallFailed(ERROR_INVALID_ARGS, f"no property {name!r}") from None

    def _click(self, events: Iterable[tuple[int, str]]) -> list[int]:
        """Run the "clicked" events (pystray: the action, then update_menu()); the ids that
        are unknown. Disabled items do nothing, whatever a panel sends."""
        unknown: list[int] = []
        for item_id, event in events:
            try:
                item = self._model.clickable(item_id)
            except UnknownItem:
                unknown.append(item_id)
                continue
            if event == "clicked" and item is not None:
                self._handler(item)()
        return unknown

    def _event(self, item_id: int, event: str, _data: Any, _time: int) -> None:
        if self._click([(item_id, event)]):
            raise self._no_item(item_id)

    def _event_group(self, events: list[tuple[int, str, Any, int]]) -> tuple[Any, ...]:
        unknown = self._click((item_id, event) for item_id, event, _data, _time in events)
        if events and len(unknown) == len(events):
            raise self._no_item(unknown)
        return (unknown,)

    def _menu_changed(self) -> bool:
        """A panel is about to show the menu: read pystray's menu again (its callables may say
        something new); True when anything changed (the panel then reads it again)."""
        return bool(self._merge_menu())

    def _about_to_show(self, item_id: int) -> tuple[Any, ...]:
        if not self._model.has(item_id):
            raise self._no_item(item_id)
        return (item_id == 0 and self._menu_changed(),)

    def _about_to_show_group(self, ids: list[int]) -> tuple[Any, ...]:
        unknown = [i for i in ids if not self._model.has(i)]
        if ids and len(unknown) == len(ids):
            raise self._no_item(unknown)
        return ([0] if 0 in ids and self._menu_changed() else [], unknown)
