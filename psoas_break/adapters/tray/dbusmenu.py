"""A pystray menu as a com.canonical.dbusmenu tree: ids that stay, growing revisions, diffs.

Pure (no D-Bus): `MenuModel.update(menu)` reads a pystray Menu and merges it into the tree it
holds; the `MenuChanges` it returns say which signals the item sends:
- ItemsPropertiesUpdated for items that kept their id but changed label, enabled or
  toggle-state (the common case: the status line and "Today" relabelled every minute);
- LayoutUpdated(revision, parent) for each parent whose list of children changed (items added,
  removed, reordered or of another kind), with the revision raised once per update.

Why ids stay (a click is never lost or misdirected): a new item takes the id of an old sibling
of the same kind (type, toggle-type, has a submenu) and the same label; failing that, when the
parent has as many children as before, the old sibling of the same kind at the same place (a
relabel). Anything else gets a new id, and ids are never reused. Kind is part of the match
because KDE's importer fixes an action's toggle-type and submenu-ness when it first sees an id.

Hosts read menus two ways, both served: libdbusmenu (xfce4-panel, waybar, GNOME's extension)
calls GetLayout(0, -1, [...]) and fetches everything again on a LayoutUpdated whose revision
is newer than the one it holds (so revisions must grow); KDE's importer calls GetLayout(id, 1,
[]) per submenu, refreshes only the parent named in LayoutUpdated, and knows a submenu only
from children-display "submenu". Labels escape "_" (dbusmenu's mnemonic mark) as "__".

Thread-safety: every public method takes the model's lock; `update` reads the pystray menu (the
app's callables) outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A D-Bus value with its signature, as jeepney sends a variant.
Variant = tuple[str, Any]
Props = dict[str, Variant]
#: GetLayout's (ia{sv}av) structure.
Layout = tuple[int, Props, list[Variant]]
Kind = tuple[str, str, bool]  # (type, toggle-type, has a submenu)

#: What a client assumes when a property is absent (com.canonical.dbusmenu).
DEFAULTS: Props = {
    "type": ("s", "standard"),
    "label": ("s", ""),
    "enabled": ("b", True),
    "visible": ("b", True),
    "icon-name": ("s", ""),
    "icon-data": ("ay", b""),
    "toggle-type": ("s", ""),
    "toggle-state": ("i", -1),
    "children-display": ("s", ""),
    "disposition": ("s", "normal"),
    "accessible-desc": ("s", ""),
}

ROOT_ID = 0


class UnknownItem(KeyError):
    """No menu item has this id (any more)."""


@dataclass
class _Node:
    id: int
    kind: Kind
    label: str
    props: Props
    item: Any  # the pystray MenuItem (None for the root and separators)
    children: list[_Node] = field(default_factory=list)


@dataclass
class _Spec:
    kind: Kind
    label: str
    props: Props
    item: Any
    children: list[_Spec]


@dataclass
class MenuChanges:
    """What one `update()` changed; false when nothing did."""

    revision: int
    #: Parents whose list of children changed: LayoutUpdated(revision, parent) for each.
    layout_parents: list[int] = field(default_factory=list)
    #: (id, changed properties) of items that kept their id: ItemsPropertiesUpdated.
    properties: list[tuple[int, Props]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.layout_parents or self.properties)


def escape_label(text: str) -> str:
    """dbusmenu reads "_" as a mnemonic mark; pystray's text is literal."""
    return text.replace("_", "__")


def _read(menu: Any) -> list[_Spec]:
    """The visible items of a pystray Menu (pystray drops hidden ones and extra separators)."""
    if not menu:
        return []
    separator = getattr(type(menu), "SEPARATOR", None)
    specs = []
    for item in menu:
        if item is separator:
            specs.append(_Spec(("separator", "", False), "", {"type": ("s", "separator")},
                               None, []))
            continue
        text = str(item.text)
        props: Props = {"label": ("s", escape_label(text))}
        if not item.enabled:
            props["enabled"] = ("b", False)
        checked = item.checked
        toggle = ""
        if checked is not None:
            toggle = "radio" if item.radio else "checkmark"
            props["toggle-type"] = ("s", toggle)
            props["toggle-state"] = ("i", 1 if checked else 0)
        submenu = item.submenu
        if submenu is not None:
            props["children-display"] = ("s", "submenu")
        specs.append(_Spec(("standard", toggle, submenu is not None), text, props, item,
                           _read(submenu) if submenu is not None else []))
    return specs


class MenuModel:
    """The exported menu tree (see module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root = _Node(ROOT_ID, ("standard", "", True), "",
                           {"children-display": ("s", "submenu")}, None)
        self._by_id: dict[int, _Node] = {ROOT_ID: self._root}
        self._next_id = ROOT_ID + 1
        self._default: Any = None
        self.revision = 1

    # -- updating ---------------------------------------------------------------------------

    def update(self, menu: Any) -> MenuChanges:
        """Merge pystray Menu `menu` (or None) into the tree; what to signal."""
        specs = _read(menu)  # the app's callables: outside the lock
        default = next((s.item for s in specs if s.item is not None and s.item.default), None)
        with self._lock:
            self._default = default
            changes = MenuChanges(self.revision)
            self._root.children = self._merge(self._root, specs, changes)
            self._by_id = {}
            self._index(self._root)
            if changes.layout_parents:
                self.revision += 1
                changes.revision = self.revision
            return changes

    def _new_node(self, spec: _Spec) -> _Node:
        node = _Node(self._next_id, spec.kind, spec.label, spec.props, spec.item)
        self._next_id += 1
        node.children = [self._new_node(child) for child in spec.children]
        return node

    def _merge(self, parent: _Node, specs: Sequence[_Spec], changes: MenuChanges) -> list[_Node]:
        old = parent.children
        used: set[int] = set()
        matched: list[_Node | None] = [None] * len(specs)
        for i, spec in enumerate(specs):  # same kind and label
            for node in old:
                if node.id not in used and node.kind == spec.kind and node.label == spec.label:
                    matched[i] = node
                    used.add(node.id)
                    break
        if len(specs) == len(old):  # same kind at the same place: a relabel
            for i, spec in enumerate(specs):
                here = old[i]
                if matched[i] is None and here.id not in used and here.kind == spec.kind:
                    matched[i] = here
                    used.add(here.id)
        result: list[_Node] = []
        for spec, match in zip(specs, matched, strict=True):
            if match is None:
                result.append(self._new_node(spec))
                continue
            node = match
            diff = {k: v for k, v in spec.props.items() if node.props.get(k) != v}
            # Back to the default: sent explicitly, so clients need no "removed" handling.
            diff.update({k: DEFAULTS[k] for k in node.props if k not in spec.props})
            if diff:
                changes.properties.append((node.id, diff))
            kept = _Node(node.id, node.kind, spec.label, spec.props, spec.item)
            kept.children = self._merge(node, spec.children, changes)
            result.append(kept)
        if [n.id for n in result] != [n.id for n in old]:
            changes.layout_parents.append(parent.id)
        return result

    def _index(self, node: _Node) -> None:
        self._by_id[node.id] = node
        for child in node.children:
            self._index(child)

    # -- reading (the D-Bus methods) --------------------------------------------------------

    @staticmethod
    def _filter(props: Props, names: Sequence[str]) -> Props:
        return {k: v for k, v in props.items() if k in names} if names else dict(props)

    def _layout(self, node: _Node, depth: int, names: Sequence[str]) -> Layout:
        children: list[Variant] = [] if depth == 0 else [
            ("(ia{sv}av)", self._layout(child, depth - 1, names)) for child in node.children]
        return (node.id, self._filter(node.props, names), children)

    def get_layout(self, parent_id: int, depth: int, names: Sequence[str]) -> tuple[int, Layout]:
        """GetLayout: (revision, (id, props, children)); depth -1 = every level."""
        with self._lock:
            node = self._by_id.get(parent_id)
            if node is None:
                raise UnknownItem(parent_id)
            return self.revision, self._layout(node, depth, names)

    def group_properties(self, ids: Iterable[int], names: Sequence[str]
                         ) -> list[tuple[int, Props]]:
        """GetGroupProperties: unknown ids are left out; no ids = every item."""
        with self._lock:
            wanted = list(ids) or list(self._by_id)
            return [(i, self._filter(self._by_id[i].props, names))
                    for i in wanted if i in self._by_id]

    def get_property(self, item_id: int, name: str) -> Variant:
        """GetProperty: the value, or the default of a known property left out; KeyError for
        a name dbusmenu does not define."""
        with self._lock:
            node = self._by_id.get(item_id)
            if node is None:
                raise UnknownItem(item_id)
            if name in node.props:
                return node.props[name]
            return DEFAULTS[name]

    def clickable(self, item_id: int) -> Any:
        """The pystray MenuItem a "clicked" event on `item_id` runs, or None (the root, a
        separator, a submenu, a disabled item); UnknownItem for an id that is gone."""
        with self._lock:
            node = self._by_id.get(item_id)
            if node is None:
                raise UnknownItem(item_id)
            if node.item is None or node.children or node.kind[2]:
                return None
            return node.item if node.props.get("enabled", ("b", True))[1] else None

    def has(self, item_id: int) -> bool:
        with self._lock:
            return item_id in self._by_id

    @property
    def default(self) -> Any:
        """The top-level item pystray calls the default (Activate runs it), or None."""
        with self._lock:
            return self._default
