"""A panel-side client for tests: StatusNotifierItems and their com.canonical.dbusmenu menus.

It does what a tray panel does: reads the items registered with the StatusNotifierWatcher,
reads their org.kde.StatusNotifierItem properties, reads the menu layout and sends the
"clicked" event. Typical use::

    watcher = desktop.start_sni_watcher()       # before the app starts!
    app = desktop.spawn([...], env={"PYSTRAY_BACKEND": "appindicator"})
    item = desktop.tray().wait_for_item(id="psoas-break")
    assert item.title == "psoas-break"
    menu = item.menu()
    assert menu.find("Pause").enabled
    menu.click("Pause")                          # re-reads the layout first

pystray's GTK backends rebuild the whole menu after each activation, so every item id changes
(the app's sni backend keeps them): `click()` always reads the layout again, and a `MenuNode`
from an older `layout()` must not be clicked.
Labels are compared with mnemonic underscores removed ("_Quit" and "Quit" both match "Quit").
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbus_fast import Variant

from .bus import BusClient, DBusCallError
from .sni_watcher import WATCHER_IFACE, WATCHER_NAME, WATCHER_PATH
from .waiting import DEFAULT_TIMEOUT_S, wait_for

if TYPE_CHECKING:
    from PIL import Image

ITEM_IFACE = "org.kde.StatusNotifierItem"
MENU_IFACE = "com.canonical.dbusmenu"


def strip_mnemonic(label: str) -> str:
    """The label as shown: single underscores (mnemonic marks) removed, "__" kept as "_"."""
    out = []
    i = 0
    while i < len(label):
        ch = label[i]
        if ch == "_":
            if i + 1 < len(label) and label[i + 1] == "_":
                out.append("_")
                i += 2
                continue
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class MenuNode:
    """One dbusmenu item, with the defaults of the dbusmenu spec filled in.

    `label` has mnemonics removed (`raw_label` keeps them); `type` is "standard" or
    "separator"; `toggle_type` is "", "checkmark" or "radio"; `toggle_state` is 1 (on),
    0 (off) or -1 (indeterminate/none); `props` holds every property as sent.
    """

    id: int
    label: str
    raw_label: str
    type: str
    enabled: bool
    visible: bool
    toggle_type: str
    toggle_state: int
    children_display: str
    props: dict[str, Any]
    children: list[MenuNode] = field(default_factory=list)

    @property
    def is_separator(self) -> bool:
        """True for a separator line."""
        return self.type == "separator"

    @property
    def checked(self) -> bool:
        """True when a checkmark/radio item is on."""
        return self.toggle_state == 1

    def labels(self) -> list[Any]:
        """The visible tree as nested lists of labels (separators as "---"), for assertions:
        e.g. ["Pause", ["Snooze", ["5 min", "15 min"]], "---", "Quit"]."""
        out: list[Any] = []
        for child in self.children:
            if not child.visible:
                continue
            name = "---" if child.is_separator else child.label
            out.append([name, child.labels()] if child.children else name)
        return out

    def walk(self) -> list[MenuNode]:
        """This node and all its descendants, depth first."""
        nodes = [self]
        for child in self.children:
            nodes.extend(child.walk())
        return nodes


def _node(raw: Any) -> MenuNode:
    node_id, props, children = raw
    props = dict(props)
    raw_label = str(props.get("label", ""))
    return MenuNode(
        id=int(node_id),
        label=strip_mnemonic(raw_label),
        raw_label=raw_label,
        type=str(props.get("type", "standard")),
        enabled=bool(props.get("enabled", True)),
        visible=bool(props.get("visible", True)),
        toggle_type=str(props.get("toggle-type", "")),
        toggle_state=int(props.get("toggle-state", -1)),
        children_display=str(props.get("children-display", "")),
        props=props,
        children=[_node(child) for child in children],
    )


class DBusMenu:
    """A com.canonical.dbusmenu object of one item, read and clicked like a panel does."""

    def __init__(self, bus: BusClient, service: str, path: str) -> None:
        self.bus = bus
        self.service = service
        self.path = path

    def _call(self, member: str, signature: str = "", body: list[Any] | None = None) -> Any:
        return self.bus.call(self.service, self.path, MENU_IFACE, member, signature, body or [])

    def layout(self) -> MenuNode:
        """The whole tree now: GetLayout(0, -1, []) parsed into MenuNodes (root id 0)."""
        _revision, root = self._call("GetLayout", "iias", [0, -1, []])
        return _node(root)

    def find(self, *labels: str) -> MenuNode:
        """The node reached by following `labels` from the root (reads the layout now).

        Raises LookupError naming the labels that were available where the path broke.
        """
        return self._find_in(self.layout(), labels)[-1]

    @staticmethod
    def _find_in(root: MenuNode, labels: tuple[str, ...]) -> list[MenuNode]:
        if not labels:
            raise ValueError("give at least one label")
        chain = [root]
        for depth, wanted in enumerate(labels):
            here = chain[-1]
            matches = [
                c
                for c in here.children
                if not c.is_separator and wanted in (c.label, c.raw_label)
            ]
            if not matches:
                seen = [c.label for c in here.children if not c.is_separator]
                where = " > ".join(labels[:depth]) or "the top level"
                raise LookupError(f"no menu item {wanted!r} under {where}; there are {seen}")
            chain.append(matches[0])
        return chain

    def about_to_show(self, node_id: int = 0) -> bool:
        """Tell the app a (sub)menu is about to be shown; returns its needUpdate answer."""
        return bool(self._call("AboutToShow", "i", [node_id])[0])

    def event(
        self, node_id: int, event_id: str = "clicked", data: Variant | None = None
    ) -> None:
        """Send Event(id, event_id, data, timestamp) (data defaults to int32 0)."""
        self._call(
            "Event",
            "isvu",
            [node_id, event_id, data or Variant("i", 0), int(time.time()) & 0xFFFFFFFF],
        )

    def click(self, *labels: str) -> MenuNode:
        """Click the item at `labels` as a user would; returns the node clicked.

        Reads the layout afresh (ids change after every activation), announces each submenu
        on the way with AboutToShow, refuses a disabled or invisible item (AssertionError),
        then sends the "clicked" event.
        """
        chain = self._find_in(self.layout(), labels)
        for parent in chain[:-1]:
            # Some apps build submenus lazily on AboutToShow; a panel always sends it.
            with contextlib.suppress(DBusCallError):
                self.about_to_show(parent.id)
        if len(chain) > 2:
            chain = self._find_in(self.layout(), labels)
        target = chain[-1]
        if not target.enabled or not target.visible:
            raise AssertionError(
                f"menu item {' > '.join(labels)!r} is not clickable "
                f"(enabled={target.enabled}, visible={target.visible})"
            )
        self.event(target.id, "clicked")
        return target

    def wait_for(
        self, *labels: str, timeout_s: float = DEFAULT_TIMEOUT_S, **expected: Any
    ) -> MenuNode:
        """Wait until the item at `labels` exists and has the given attributes, e.g.
        `menu.wait_for("Pause", checked=True)`; returns it."""

        def check() -> MenuNode | None:
            try:
                node = self.find(*labels)
            except LookupError:
                return None
            ok = all(getattr(node, k) == v for k, v in expected.items())
            return node if ok else None

        return wait_for(check, timeout_s, what=f"menu item {labels} with {expected}")


class StatusNotifierItem:
    """One registered item, addressed by its watcher entry "<bus name><object path>"."""

    def __init__(self, bus: BusClient, entry: str) -> None:
        self.bus = bus
        self.entry = entry
        slash = entry.index("/")
        self.service = entry[:slash]
        self.path = entry[slash:]

    def __repr__(self) -> str:
        return f"StatusNotifierItem({self.entry!r})"

    def properties(self) -> dict[str, Any]:
        """All org.kde.StatusNotifierItem properties now (unwrapped)."""
        return self.bus.get_all_properties(self.service, self.path, ITEM_IFACE)

    def prop(self, name: str) -> Any:
        """One property now."""
        return self.bus.get_property(self.service, self.path, ITEM_IFACE, name)

    @property
    def id(self) -> str:
        return str(self.prop("Id"))

    @property
    def title(self) -> str:
        return str(self.prop("Title"))

    @property
    def status(self) -> str:
        """"Active", "Passive" or "NeedsAttention"."""
        return str(self.prop("Status"))

    @property
    def icon_name(self) -> str:
        """A theme icon name, or (appindicator via pystray) the path of a temporary PNG."""
        return str(self.prop("IconName"))

    @property
    def icon_theme_path(self) -> str:
        return str(self.prop("IconThemePath"))

    @property
    def tooltip(self) -> tuple[Any, ...]:
        """(icon name, icon pixmaps, title, text); apps without a tooltip send empty parts."""
        return tuple(self.prop("ToolTip"))

    @property
    def menu_path(self) -> str:
        return str(self.prop("Menu"))

    def menu(self) -> DBusMenu:
        """The item's dbusmenu object."""
        return DBusMenu(self.bus, self.service, self.menu_path)

    def icon_file(self) -> Path | None:
        """The PNG file behind IconName (absolute path, or name + ".png" in IconThemePath);
        None for a pure theme icon name."""
        name = self.icon_name
        candidates = [Path(name)] if name.startswith("/") else []
        theme = self.icon_theme_path
        if theme:
            candidates += [Path(theme) / name, Path(theme) / f"{name}.png"]
        return next((p for p in candidates if p.is_file()), None)

    def icon_pixmaps(self, name: str = "IconPixmap") -> list[tuple[int, int, bytes]]:
        """The IconPixmap (or AttentionIconPixmap...) entries: (width, height, ARGB32 bytes)."""
        return [(int(w), int(h), bytes(data)) for w, h, data in self.prop(name)]

    def icon_image(self) -> Image.Image:
        """The icon as a Pillow image (loaded into memory), as a panel draws it: the file behind
        IconName, or else the largest IconPixmap (ARGB32 big-endian, as xfce4-panel and waybar
        pick it); FileNotFoundError if there is neither."""
        from PIL import Image

        path = self.icon_file()
        if path is None and not self.icon_name:
            pixmaps = self.icon_pixmaps()
            if pixmaps:
                w, h, data = max(pixmaps, key=lambda p: p[0] * p[1])
                a, r, g, b = Image.frombytes("RGBA", (w, h), data).split()
                return Image.merge("RGBA", (r, g, b, a))
        if path is None:
            raise FileNotFoundError(f"no icon file for IconName {self.icon_name!r}")
        with Image.open(path) as img:
            img.load()
            copy: Image.Image = img.copy()
        return copy

    def activate(self, x: int = 0, y: int = 0) -> None:
        """Primary click on the icon (Activate); appindicator items answer with an error."""
        self.bus.call(self.service, self.path, ITEM_IFACE, "Activate", "ii", [x, y])

    def wait_for_property(
        self, name: str, expected: Any, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> Any:
        """Wait until property `name` equals `expected` (or, if callable, satisfies it)."""

        def check() -> bool:
            value = self.prop(name)
            return bool(expected(value)) if callable(expected) else value == expected

        wait_for(check, timeout_s, what=f"{self.entry} {name} == {expected!r}")
        return self.prop(name)


class TrayClient:
    """Finds StatusNotifierItems through the watcher on `bus`."""

    def __init__(self, bus: BusClient) -> None:
        self.bus = bus

    def entries(self) -> list[str]:
        """RegisteredStatusNotifierItems of the watcher (empty if no watcher runs)."""
        try:
            value = self.bus.get_property(
                WATCHER_NAME, WATCHER_PATH, WATCHER_IFACE, "RegisteredStatusNotifierItems"
            )
        except DBusCallError:
            return []
        return list(value)

    def items(self) -> list[StatusNotifierItem]:
        """The registered items now."""
        return [StatusNotifierItem(self.bus, e) for e in self.entries()]

    def wait_for_item(
        self, *, id: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> StatusNotifierItem:
        """Wait until an item (with Id `id`, if given) is registered and answers; return it."""

        def find() -> StatusNotifierItem | None:
            for item in self.items():
                try:
                    if id is None or item.id == id:
                        return item
                except DBusCallError:
                    continue  # registered but gone meanwhile
            return None

        what = f"a StatusNotifierItem with Id {id!r}" if id else "a StatusNotifierItem"
        return wait_for(find, timeout_s, what=what)
