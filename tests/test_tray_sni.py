"""The sni tray backend (adapters/tray/sni.py) through the project's panel-side client.

Real here: the private session bus, the fake org.kde.StatusNotifierWatcher (a separate process,
stopped and started like a panel), a bus daemon of the test's own that restarts, and the
backend itself driven through pystray's Icon/Menu API in this process (as the app drives it),
so each test can change the menu exactly. tests/desktop/dbusmenu.py reads and clicks it the way
libdbusmenu and KDE do; property types are checked on the raw reply (variants kept). The real
app on this backend: tests/test_tray_app.py; real panels: tests/test_tray_panels.py.
"""

from __future__ import annotations

import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Variant
from PIL import Image

from psoas_break.adapters.tray import sni
from psoas_break.adapters.tray.dbusmenu import MenuModel
from tests.desktop import DesktopSession, LoneBus, wait_for
from tests.desktop.bus import BusClient, DBusCallError
from tests.desktop.dbusmenu import MENU_IFACE, DBusMenu, StatusNotifierItem, TrayClient
from tests.desktop.proc_figures import context_switches

pytestmark = pytest.mark.timeout(90)

ITEM_IFACE = "org.kde.StatusNotifierItem"
WATCHER_IFACE = "org.kde.StatusNotifierWatcher"
MAGENTA = (255, 0, 255, 255)
TREE = ["Sitting 1 min", "Take a break", "---", ["Mode", ["Work", "Rest"]], "Sound", "---",
        "Quit_now"]


class Driver:
    """A small app on the backend: a menu like psoas-break's, and what its clicks did."""

    def __init__(self, env: dict[str, str], **icon_kw: Any) -> None:
        self.clicks: list[str] = []
        self.status_line = "Sitting 1 min"
        self.mode = "work"
        self.sound = True
        self.extra = False
        self.with_default = True
        self.icon = sni.Icon("psoas-test", Image.new("RGBA", (64, 64), MAGENTA), "Psoas test",
                             self.menu(), env=env, **icon_kw)

    def on(self, label: str, then: Callable[[], None] | None = None) -> Callable[[Any, Any],
                                                                               None]:
        def clicked(_icon: Any, _item: Any) -> None:
            self.clicks.append(label)
            if then is not None:
                then()
        return clicked

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def toggle_sound(self) -> None:
        self.sound = not self.sound

    def menu(self) -> Any:
        item, menu = sni.MenuItem, sni.Menu
        items = [
            item(self.status_line, None, enabled=False),
            item("Take a break", self.on("break"), default=self.with_default),
            menu.SEPARATOR,
            item("Mode", menu(
                item("Work", self.on("mode:work", lambda: self.set_mode("work")),
                     checked=lambda _i: self.mode == "work", radio=True),
                item("Rest", self.on("mode:rest", lambda: self.set_mode("rest")),
                     checked=lambda _i: self.mode == "rest", radio=True))),
            item("Sound", self.on("sound", self.toggle_sound), checked=lambda _i: self.sound),
            item("Hidden", self.on("hidden"), visible=False),
        ]
        if self.extra:
            items.append(item("Extra_item", self.on("extra")))
        items += [menu.SEPARATOR, item("Quit_now", self.on("quit"))]
        return menu(*items)

    def start(self) -> Driver:
        def setup(icon: Any) -> None:
            icon.visible = True

        self.icon.run_detached(setup)
        return self

    def stop(self) -> None:
        self.icon.visible = False
        self.icon.stop()


@pytest.fixture(scope="module")
def desk(desktop_module: DesktopSession) -> DesktopSession:
    desktop_module.start_sni_watcher()
    return desktop_module


@pytest.fixture
def app(desk: DesktopSession) -> Iterator[Driver]:
    driver = Driver(desk.env).start()
    assert driver.icon.registered.wait(10)
    yield driver
    driver.stop()


def item_of(desk: DesktopSession, bus: BusClient | None = None) -> StatusNotifierItem:
    return TrayClient(bus or desk.bus()).wait_for_item(id="psoas-test")


def menu_of(desk: DesktopSession) -> DBusMenu:
    return item_of(desk).menu()


def ids(menu: DBusMenu) -> dict[str, int]:
    return {n.label: n.id for n in menu.layout().walk()}


def revision(menu: DBusMenu) -> int:
    return int(menu.bus.call(menu.service, menu.path, MENU_IFACE, "GetLayout", "iias",
                             [0, 0, []])[0])


def norm(value: Any) -> Any:
    """Structs come back as lists or tuples depending on the path: compare as lists."""
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if isinstance(value, dict):
        return {k: norm(v) for k, v in value.items()}
    return value


def wait_clicks(app: Driver, *expected: str) -> None:
    wait_for(lambda: app.clicks[-len(expected):] == list(expected), 20,
             what=f"clicks {expected} (got {app.clicks})")


# ---- the item -----------------------------------------------------------------------------------


def test_item_properties_have_the_exact_types_panels_read(app: Driver, desk: DesktopSession
                                                         ) -> None:
    item = item_of(desk)
    assert item.service == app.icon.bus_name
    assert item.service.startswith("org.kde.StatusNotifierItem-")
    assert item.path == "/StatusNotifierItem"
    (raw,) = desk.bus().call(item.service, item.path, "org.freedesktop.DBus.Properties",
                             "GetAll", "s", [ITEM_IFACE], raw=True)
    types = {name: value.signature for name, value in raw.items()}
    assert types == {
        "Category": "s", "Id": "s", "Title": "s", "Status": "s", "IconName": "s",
        "IconPixmap": "a(iiay)", "OverlayIconName": "s", "OverlayIconPixmap": "a(iiay)",
        "AttentionIconName": "s", "AttentionIconPixmap": "a(iiay)", "AttentionMovieName": "s",
        "IconThemePath": "s", "ToolTip": "(sa(iiay)ss)", "ItemIsMenu": "b", "Menu": "o",
    }
    props = item.properties()
    assert (props["Id"], props["Category"], props["Status"]) == (
        "psoas-test", "ApplicationStatus", "Active")
    assert (props["Title"], props["Menu"], props["IconName"]) == (
        "Psoas test", "/MenuBar", "")
    assert props["ItemIsMenu"] is False  # a default item: a left click is Activate
    assert norm(props["ToolTip"]) == ["", [], "Psoas test", ""]
    pixmaps = item.icon_pixmaps()
    assert [(w, h, len(data)) for w, h, data in pixmaps] == [
        (s, s, 4 * s * s) for s in (16, 22, 24, 32, 48, 64)]
    assert pixmaps[0][2][:4] == bytes([255, 255, 0, 255])  # A, R, G, B: opaque magenta
    assert item.icon_image().getpixel((32, 32)) == MAGENTA
    assert item.prop("AttentionIconPixmap") == []
    (menu_raw,) = desk.bus().call(item.service, "/MenuBar", "org.freedesktop.DBus.Properties",
                                  "GetAll", "s", [MENU_IFACE], raw=True)
    assert {k: (v.signature, v.value) for k, v in menu_raw.items()} == {
        "Version": ("u", 3), "TextDirection": ("s", "ltr"), "Status": ("s", "normal"),
        "IconThemePath": ("as", [])}


def test_introspection_lists_what_gnome_looks_for(app: Driver, desk: DesktopSession) -> None:
    item = item_of(desk)
    xml = desk.bus().call(item.service, item.path, "org.freedesktop.DBus.Introspectable",
                          "Introspect")[0]
    root = ET.fromstring(xml)  # GNOME's extension parses it (Gio.DBusNodeInfo)
    iface = root.find(f"interface[@name='{ITEM_IFACE}']")
    assert iface is not None
    methods = {m.get("name") for m in iface.findall("method")}
    assert {"Activate", "SecondaryActivate", "ContextMenu", "Scroll"} <= methods
    assert {s.get("name") for s in iface.findall("signal")} >= {
        "NewTitle", "NewIcon", "NewAttentionIcon", "NewToolTip", "NewStatus"}
    menu_xml = desk.bus().call(item.service, "/MenuBar", "org.freedesktop.DBus.Introspectable",
                               "Introspect")[0]
    menu_iface = ET.fromstring(menu_xml).find(f"interface[@name='{MENU_IFACE}']")
    assert menu_iface is not None
    assert {m.get("name") for m in menu_iface.findall("method")} == {
        "GetLayout", "GetGroupProperties", "GetProperty", "Event", "EventGroup",
        "AboutToShow", "AboutToShowGroup"}


def test_status_title_and_icon_changes_are_signalled(app: Driver, desk: DesktopSession) -> None:
    item = item_of(desk)
    signals = desk.bus().subscribe(interface=ITEM_IFACE, sender=item.service)
    app.icon.status = "NeedsAttention"
    app.icon.title = "Time to stretch"
    app.icon.icon = Image.new("RGBA", (64, 64), (0, 255, 0, 255))
    wait_for(lambda: {"NewStatus", "NewTitle", "NewToolTip", "NewIcon"}
             <= {s.member for s in signals.signals}, 20, what="four kinds of signal")
    status = next(s for s in signals.signals if s.member == "NewStatus")
    assert status.body == ["NeedsAttention"]
    assert item.status == "NeedsAttention"
    assert item.title == "Time to stretch"
    assert norm(item.tooltip) == ["", [], "Time to stretch", ""]
    assert item.icon_pixmaps()[-1][2][:4] == bytes([255, 0, 255, 0])  # opaque green
    # Hosts that show AttentionIconPixmap while NeedsAttention (xfce, KDE) see the same icon.
    assert item.icon_pixmaps("AttentionIconPixmap") == item.icon_pixmaps()
    app.icon.visible = False  # hidden = Passive: xfce and waybar hide the item
    item.wait_for_property("Status", "Passive")
    app.icon.visible = True
    item.wait_for_property("Status", "NeedsAttention")
    app.icon.status = "Active"
    item.wait_for_property("Status", "Active")
    with pytest.raises(ValueError):
        app.icon.status = "Blinking"


def test_activate_runs_the_default_item_and_secondary_activate_its_hook(desk: DesktopSession
                                                                        ) -> None:
    middle: list[tuple[int, int]] = []
    app = Driver(desk.env, on_secondary_activate=lambda x, y: middle.append((x, y))).start()
    try:
        item = item_of(desk)
        item.activate(10, 20)
        wait_clicks(app, "break")
        desk.bus().call(item.service, item.path, ITEM_IFACE, "SecondaryActivate", "ii", [3, 4])
        wait_for(lambda: middle == [(3, 4)], 20, what="the middle click")
        # Without a default item the menu is the icon's: ItemIsMenu, and Activate says so.
        app.with_default = False
        app.icon.menu = app.menu()
        item.wait_for_property("ItemIsMenu", True)
        with pytest.raises(DBusCallError) as error:
            item.activate()
        assert error.value.name == "org.freedesktop.DBus.Error.UnknownMethod"
        assert app.clicks == ["break"]
    finally:
        app.stop()


# ---- the menu ---------------------------------------------------------------------------------


def test_layout_toggles_and_the_ways_panels_read_it(app: Driver, desk: DesktopSession) -> None:
    menu = menu_of(desk)
    root = menu.layout()
    assert root.labels() == TREE
    assert root.children_display == "submenu"
    assert not menu.find("Sitting 1 min").enabled
    assert menu.find("Quit_now").raw_label == "Quit__now"  # "_" is dbusmenu's mnemonic mark
    mode = menu.find("Mode")
    assert mode.children_display == "submenu"
    assert [(c.label, c.toggle_type, c.toggle_state) for c in mode.children] == [
        ("Work", "radio", 1), ("Rest", "radio", 0)]
    sound = menu.find("Sound")
    assert (sound.toggle_type, sound.toggle_state) == ("checkmark", 1)
    assert [c.type for c in root.children].count("separator") == 2
    call = menu._call
    # KDE: one level at a time, GetLayout(id, 1, []).
    _rev, (root_id, _props, children) = call("GetLayout", "iias", [0, 1, []])
    assert root_id == 0 and all(child[2] == [] for child in children)
    # Only the properties asked for.
    _rev, (_id, props, kids) = call("GetLayout", "iias", [mode.id, -1, ["label"]])
    assert props == {"label": "Mode"} and all(set(k[1]) == {"label"} for k in kids)
    (group,) = call("GetGroupProperties", "aias", [[sound.id, 9999], ["toggle-state"]])
    assert norm(group) == [[sound.id, {"toggle-state": 1}]]
    assert call("GetProperty", "is", [sound.id, "toggle-type"]) == ["checkmark"]
    assert call("GetProperty", "is", [sound.id, "visible"]) == [True]  # a default
    for bad in (("GetLayout", "iias", [9999, -1, []]), ("GetProperty", "is", [9999, "label"]),
                ("GetProperty", "is", [sound.id, "no-such-property"])):
        with pytest.raises(DBusCallError):
            call(*bad)


def test_event_event_group_and_about_to_show(app: Driver, desk: DesktopSession) -> None:
    menu = menu_of(desk)
    menu.click("Take a break")  # Event(id, "clicked", v, u): KDE and GNOME
    wait_clicks(app, "break")
    sound = menu.find("Sound")
    # EventGroup: libdbusmenu with Version 3 (xfce, waybar); unknown ids come back as errors.
    (errors,) = menu._call("EventGroup", "a(isvu)", [[
        [sound.id, "clicked", Variant("i", 0), 0], [4242, "clicked", Variant("i", 0), 0]]])
    assert errors == [4242]
    wait_clicks(app, "sound")
    menu.wait_for("Sound", checked=False)
    with pytest.raises(DBusCallError):
        menu.event(4242)
    with pytest.raises(DBusCallError):
        menu._call("EventGroup", "a(isvu)", [[[4242, "clicked", Variant("i", 0), 0]]])
    # "hovered", "opened" and "closed" (KDE sends them) do nothing.
    for event in ("hovered", "opened", "closed"):
        menu.event(menu.find("Quit_now").id, event, Variant("s", ""))
    assert menu.about_to_show(0) is False
    assert menu._call("AboutToShowGroup", "ai", [[0, 4242]]) == [[], [4242]]
    assert app.clicks == ["break", "sound"]


def test_a_disabled_item_does_nothing_whatever_the_panel_sends(app: Driver,
                                                               desk: DesktopSession) -> None:
    menu = menu_of(desk)
    status = menu.find("Sitting 1 min")
    menu.event(status.id, "clicked")
    with pytest.raises(AssertionError, match="not clickable"):
        menu.click("Sitting 1 min")
    menu.event(menu.find("Mode").id, "clicked")  # a submenu itself runs nothing either
    menu.click("Quit_now")
    wait_clicks(app, "quit")
    assert app.clicks == ["quit"]


def test_minute_relabels_keep_every_id_and_send_only_properties(app: Driver,
                                                                desk: DesktopSession) -> None:
    menu = menu_of(desk)
    before = ids(menu)
    rev = revision(menu)
    props = desk.bus().subscribe(interface=MENU_IFACE, member="ItemsPropertiesUpdated")
    layout = desk.bus().subscribe(interface=MENU_IFACE, member="LayoutUpdated")
    for minute in (2, 3, 4):
        app.status_line = f"Sitting {minute} min"
        app.icon.menu = app.menu()  # as the app renders: a whole new pystray Menu
        signal = props.wait(lambda s, m=minute: s.body[0][0][1] == {  # type: ignore[misc]
            "label": f"Sitting {m} min"})
        assert norm(signal.body) == [[[before["Sitting 1 min"],
                                       {"label": f"Sitting {minute} min"}]], []]
    after = ids(menu)
    assert after.pop("Sitting 4 min") == before.pop("Sitting 1 min")
    assert after == before
    assert revision(menu) == rev
    assert layout.signals == []
    # The kept id runs the current item: a click after the relabel is never lost.
    menu.event(after["Take a break"], "clicked")
    wait_clicks(app, "break")


def test_radio_and_check_states_change_in_place(app: Driver, desk: DesktopSession) -> None:
    menu = menu_of(desk)
    before = ids(menu)
    props = desk.bus().subscribe(interface=MENU_IFACE, member="ItemsPropertiesUpdated")
    menu.click("Mode", "Rest")  # pystray runs update_menu() after the callback
    wait_clicks(app, "mode:rest")
    updated, removed = props.wait().body
    assert sorted(norm(updated)) == sorted([[before["Work"], {"toggle-state": 0}],
                                            [before["Rest"], {"toggle-state": 1}]])
    assert removed == []
    mode = menu.find("Mode")
    assert [c.checked for c in mode.children] == [False, True]
    menu.click("Sound")
    menu.wait_for("Sound", checked=False)
    assert ids(menu) == before


def test_an_added_item_raises_the_revision_and_keeps_the_other_ids(app: Driver,
                                                                   desk: DesktopSession) -> None:
    menu = menu_of(desk)
    before = ids(menu)
    rev = revision(menu)
    layout = desk.bus().subscribe(interface=MENU_IFACE, member="LayoutUpdated")
    app.extra = True
    app.icon.menu = app.menu()
    assert norm(layout.wait().body) == [rev + 1, 0]
    after = ids(menu)
    assert after.pop("Extra_item") not in before.values()
    assert after == before
    app.extra = False
    app.icon.menu = app.menu()
    wait_for(lambda: revision(menu) == rev + 2, 20, what="the revision raised again")
    assert ids(menu) == before


def test_about_to_show_reads_a_dynamic_menu_again(desk: DesktopSession) -> None:
    app = Driver(desk.env)
    words = ["first"]
    app.icon.menu = sni.Menu(lambda: iter([sni.MenuItem(words[0], app.on(words[0]))]))
    app.start()
    try:
        menu = menu_of(desk)
        assert menu.layout().labels() == ["first"]
        words[0] = "second"  # changes behind the icon's back: only AboutToShow notices
        assert menu.about_to_show(0) is True  # changed: the panel must read it again
        assert menu.layout().labels() == ["second"]
        assert menu.about_to_show(0) is False
    finally:
        app.stop()


# ---- registration ------------------------------------------------------------------------------


def test_watcher_restart_and_a_late_watcher_bring_the_item_back(desktop: DesktopSession) -> None:
    """The panel starts after the app, then restarts: each new watcher gets the item."""
    app = Driver(desktop.env).start()
    try:
        watcher = desktop.start_sni_watcher()  # after the item: a late panel
        assert watcher.wait_for_items(1) == [f"{app.icon.bus_name}/StatusNotifierItem"]
        assert app.icon.registered.wait(20)
        watcher.stop()  # the panel goes away...
        wait_for(lambda: not app.icon.registered.is_set(), 20, what="the loss noticed")
        watcher.start()  # ...and comes back as a new process with a new unique name
        assert watcher.wait_for_items(1) == [f"{app.icon.bus_name}/StatusNotifierItem"]
        assert app.icon.registered.wait(20)
        menu = item_of(desktop).menu()
        assert menu.layout().labels() == TREE
        menu.click("Take a break")
        wait_clicks(app, "break")
        gone = watcher.subscribe("StatusNotifierItemUnregistered")
    finally:
        app.stop()
    assert gone.wait().body == [f"{app.icon.bus_name}/StatusNotifierItem"]  # name released
    assert watcher.items() == []


def test_after_our_connection_drops_the_item_registers_again(desktop: DesktopSession) -> None:
    """Same bus, same panel, only the app's connection lost (a failed send, a setup call too
    slow on a loaded machine): the watcher forgets the item with its name, so the app must
    register again on its new connection. The drop is forced on the app's own link."""
    watcher = desktop.start_sni_watcher()
    app = Driver(desktop.env).start()
    try:
        entry = f"{app.icon.bus_name}/StatusNotifierItem"
        assert app.icon.registered.wait(10) and watcher.wait_for_items(1) == [entry]
        gone = watcher.subscribe("StatusNotifierItemUnregistered")
        back = watcher.subscribe("StatusNotifierItemRegistered")
        bus = app.icon._bus
        first_name = bus.unique_name
        link, conn = bus._link, bus._link._conn
        assert conn is not None
        link._drop(conn)
        assert gone.wait().body == [entry]
        assert back.wait(timeout_s=15).body == [entry]
        assert bus.unique_name not in ("", first_name)  # a new connection
        assert app.icon.registered.wait(20)
        menu = item_of(desktop).menu()
        assert menu.layout().labels() == TREE
        menu.click("Take a break")
        wait_clicks(app, "break")
    finally:
        app.stop()


def test_a_peer_sending_wrong_types_to_properties_gets_invalid_args(app: Driver,
                                                                   desk: DesktopSession
                                                                   ) -> None:
    """Any process on the session bus may call us: Properties.Get with a list where the
    property name goes is refused as InvalidArgs (not a traceback), and the item still works."""
    client = desk.bus()
    with pytest.raises(DBusCallError) as refused:
        client.call(app.icon.bus_name, "/StatusNotifierItem", "org.freedesktop.DBus.Properties",
                    "Get", "sas", [ITEM_IFACE, ["Title", "Id"]])
    assert "InvalidArgs" in str(refused.value)
    with pytest.raises(DBusCallError) as unknown:
        client.call(app.icon.bus_name, "/StatusNotifierItem", "org.freedesktop.DBus.Properties",
                    "Delete", "s", [ITEM_IFACE])
    assert "UnknownMethod" in str(unknown.value)
    assert item_of(desk).title == "Psoas test"


def test_after_the_bus_restarts_the_item_registers_again(desktop: DesktopSession,
                                                         tmp_path: Path) -> None:
    lone = LoneBus(desktop, tmp_path)
    lone.start()

    def start_watcher() -> BusClient:
        desktop.spawn([sys.executable, "-m", "tests.desktop.sni_watcher"], env=lone.env,
                      service=True, name="lone-watcher")
        client = BusClient(lone.address)
        client.wait_for_name("org.kde.StatusNotifierWatcher")
        return client

    client = start_watcher()
    app = Driver(lone.env).start()
    try:
        assert app.icon.registered.wait(10)
        client.close()
        lone.stop()  # the watcher ends with its bus
        wait_for(lambda: not app.icon.registered.is_set(), 10, what="the loss noticed")
        lone.start()
        client = start_watcher()
        item = TrayClient(client).wait_for_item(id="psoas-test", timeout_s=20)
        assert item.service == app.icon.bus_name
        assert item.menu().layout().labels() == TREE
    finally:
        app.stop()
        client.close()


def test_the_backend_loads_no_gtk_and_no_xlib() -> None:
    """pystray is imported with its dummy backend: a Wayland session without X is fine."""
    import subprocess

    code = ("import sys; import psoas_break.adapters.tray.sni as s; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('gi', 'Xlib', 'pystray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "WAYLAND_DISPLAY": "wayland-0",
                                          "PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip() == "['pystray', 'pystray._base', 'pystray._dummy']"


def test_the_model_alone_keeps_ids_and_never_reuses_one() -> None:
    """Pure: relabels keep ids, a changed kind gets a new id (KDE fixes an id's kind), and a
    removed id never comes back."""
    item, menu = sni.MenuItem, sni.Menu
    model = MenuModel()
    model.update(menu(item("a", None), item("b", None, checked=lambda _i: True)))
    first = model.get_layout(0, -1, [])[1][2]
    a_id, b_id = first[0][1][0], first[1][1][0]
    changes = model.update(menu(item("A", None), item("b", None, checked=lambda _i: True)))
    assert not changes.layout_parents and changes.properties == [(a_id, {"label": ("s", "A")})]
    changes = model.update(menu(item("A", None), item("b", None)))  # no longer a checkmark
    assert changes.layout_parents == [0]
    ids_now = [c[1][0] for c in model.get_layout(0, -1, [])[1][2]]
    assert ids_now[0] == a_id and ids_now[1] not in (a_id, b_id)
    model.update(menu(item("A", None)))
    model.update(menu(item("A", None), item("c", None)))
    assert [c[1][0] for c in model.get_layout(0, -1, [])[1][2]][1] > ids_now[1]


def test_setters_from_many_threads_leave_the_latest_menu(app: Driver, desk: DesktopSession
                                                         ) -> None:
    """The engine thread renders while a panel's click updates the menu on the bus thread:
    whatever the order, the exported menu ends as the latest pystray menu."""
    menu = menu_of(desk)
    first_revision = revision(menu)
    order = threading.Lock()
    assigned: list[str] = []  # labels in the order their menus were handed to the icon

    def relabel(n: int) -> None:
        for i in range(20):
            label = f"Sitting {n * 100 + i} min"
            tree = sni.Menu(sni.MenuItem(label, None, enabled=False),
                            sni.MenuItem("Take a break", app.on("break")))
            with order:  # the assignment itself races inside the icon, not here
                assigned.append(label)
                app.icon.menu = tree

    seen: list[list[int]] = []
    done = threading.Event()

    def read() -> None:  # a panel reading the layout on the bus thread meanwhile
        reader = menu_of(desk)
        while not done.is_set():
            seen.append([n.id for n in reader.layout().walk()])

    panel = threading.Thread(target=read)
    panel.start()
    wait_for(lambda: seen, 10, what="the panel reading")  # reads overlap the setters
    threads = [threading.Thread(target=relabel, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reads = len(seen)
    wait_for(lambda: len(seen) > reads, 10, what="one more read after the setters")
    done.set()
    panel.join()
    assert all(len(set(ids_read)) == len(ids_read) for ids_read in seen)
    wait_for(lambda: menu.layout().children[0].label == assigned[-1], 20,
             what=f"the last menu set ({assigned[-1]}) exported")
    nodes = menu.layout().walk()
    assert len({n.id for n in nodes}) == len(nodes)  # ids unique
    assert revision(menu) >= first_revision
    menu.click("Take a break")
    wait_clicks(app, "break")


def test_a_registered_icon_at_rest_wakes_no_thread(app: Driver, desk: DesktopSession) -> None:
    """The tray adds no wakeups: the bus's receiver waits in select() without a timeout until a
    panel calls (the app's run() waits on an Event: tests/test_tray_app.py, bench)."""
    import time

    threads = {t.name: t for t in threading.enumerate()}
    receiver = threads["psoas-dbus-session"]
    assert receiver.native_id is not None
    item_of(desk).menu().layout()  # what a panel reads, then nothing
    time.sleep(0.5)
    start = context_switches(receiver.native_id)
    time.sleep(3.0)
    assert context_switches(receiver.native_id) == start
    app.icon.title = "changed"  # the control: a change does wake it (a signal goes out)
    item_of(desk).wait_for_property("Title", "changed")
    assert context_switches(receiver.native_id) > start
