"""Self-tests of the real headless desktop harness (tests/desktop): each piece, for real.

Every test here starts real processes (Xvfb, dbus-daemon, the fake services, pystray, plyer,
openbox, xdotool) and checks them through the same protocols a desktop uses.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dbus_fast import Variant

from tests.desktop import (
    BusClient,
    DBusCallError,
    DesktopSession,
    LeakedProcessError,
    ServiceStartError,
    WaitTimeout,
    strip_mnemonic,
    wait_for,
)
from tests.desktop import x11 as x11_helpers

NOTIFY = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications",
          "org.freedesktop.Notifications")
DUNST_SERVICE = Path("/usr/share/dbus-1/services/org.knopwob.dunst.service")

# -- pure helpers (no desktop) --------------------------------------------------------------------


def test_wait_for_returns_the_first_truthy_value() -> None:
    values = iter([0, None, "", 7, 8])
    assert wait_for(lambda: next(values), 2, interval_s=0.001) == 7


def test_wait_for_times_out_naming_what_and_last_value() -> None:
    with pytest.raises(WaitTimeout, match=r"the answer .*last value 0"):
        wait_for(lambda: 0, 0.05, what="the answer")


def test_wait_for_ignores_only_the_given_exceptions() -> None:
    calls = []

    def flaky() -> bool:
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("not yet")
        return True

    assert wait_for(flaky, 2, interval_s=0.001, ignore=(KeyError,))
    with pytest.raises(ValueError):
        wait_for(lambda: int("x"), 2, ignore=(KeyError,))


def test_strip_mnemonic() -> None:
    assert strip_mnemonic("_Quit") == "Quit"
    assert strip_mnemonic("Take a __break") == "Take a _break"
    assert strip_mnemonic("S_nooze __now_") == "Snooze _now"


# -- the session itself ---------------------------------------------------------------------------


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_xvfb_answers_and_env_is_private(desktop: DesktopSession) -> None:
    out = subprocess.run(["xdpyinfo"], env=desktop.env, capture_output=True, text=True,
                         timeout=10, check=True).stdout
    assert f"name of display:    {desktop.display}" in out
    assert "dimensions:    1024x768 pixels" in out
    assert "MIT-SCREEN-SAVER" in out and "XTEST" in out
    env = desktop.env
    assert "WAYLAND_DISPLAY" not in env
    assert env["DISPLAY"] == desktop.display
    assert env["DBUS_SESSION_BUS_ADDRESS"] == desktop.session_bus_address
    assert env["DBUS_SYSTEM_BUS_ADDRESS"] == desktop.system_bus_address
    assert env["DBUS_SESSION_BUS_ADDRESS"] != os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    assert (env["XDG_SESSION_TYPE"], env["GDK_BACKEND"], env["GDK_GL"], env["NO_AT_BRIDGE"]) == (
        "x11", "x11", "disable", "1")
    for var in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                "XDG_CACHE_HOME", "HOME"):
        path = Path(env[var])
        assert path.is_dir() and path.is_relative_to(desktop.root), var
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, var
    # What a child really sees: the private bus, not the developer's session.
    seen = subprocess.run(["sh", "-c", "echo $DBUS_SESSION_BUS_ADDRESS $DISPLAY"],
                          env=env, capture_output=True, text=True, check=True).stdout.split()
    assert seen == [desktop.session_bus_address, desktop.display]


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_buses_are_private_and_activate_nothing(desktop: DesktopSession) -> None:
    # dunst is installed and registered as an activatable Notifications server on normal buses.
    assert DUNST_SERVICE.exists(), "precondition: dunst's D-Bus service file"
    bus = desktop.bus()
    assert "org.freedesktop.Notifications" not in bus.list_activatable_names()
    started = time.monotonic()
    with pytest.raises(DBusCallError) as err:
        bus.call(*NOTIFY, "GetServerInformation")
    assert err.value.name == "org.freedesktop.DBus.Error.ServiceUnknown"
    assert time.monotonic() - started < 5  # refused at once...
    assert sorted(bus.list_names()) == sorted(["org.freedesktop.DBus", bus.unique_name])
    # The "system" bus is a second private daemon, not the machine's.
    system = desktop.system_bus()
    assert system.unique_name.startswith(":")
    assert desktop.system_bus_address != desktop.session_bus_address
    assert not system.name_has_owner("org.freedesktop.login1")


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_teardown_stops_everything_and_reports_leaks(tmp_path: Path) -> None:
    session = DesktopSession().start()
    display_number = session.display.lstrip(":")
    server = session.start_notification_server()
    shell = session.spawn(["sh", "-c", "sleep 300 & sleep 301"], name="sh-with-child")
    wait_for(lambda: any(_cmdline(p) == "sleep 300 " for p in session.live_pids()),
             what="the shell's background child")
    family = session.live_pids()
    assert {server.pid, shell.pid} <= set(family)
    assert len(family) >= 6  # Xvfb, 2 buses, the server, the shell, its child
    root = session.root
    session.close()
    assert not [pid for pid in family if _alive(pid)]
    assert not root.exists()
    assert not Path(f"/tmp/.X{display_number}-lock").exists()

    # A daemon that escapes its process group (setsid) is found by the session marker.
    session = DesktopSession().start()
    pid_file = tmp_path / "escaped.pid"
    session.spawn(["sh", "-c", f"setsid sh -c 'echo $$ > {pid_file}; exec sleep 300' &"],
                  name="escaper")

    def escaped_pid() -> str | None:
        return pid_file.read_text().strip() if pid_file.exists() else None

    escaped = int(wait_for(escaped_pid, what="the escaped daemon's pid"))
    with pytest.raises(LeakedProcessError, match=rf"pid {escaped}: sleep 300"):
        session.close()
    wait_for(lambda: not _alive(escaped), 5, what="the leaked daemon to be killed")
    assert (session.logs_dir / "03-escaper.log").exists()  # kept to diagnose the leak
    shutil.rmtree(session.root)


# -- the tray: watcher + pystray (appindicator) + dbusmenu ----------------------------------------

ICON_APP = textwrap.dedent(
    """
    import sys

    import pystray
    from PIL import Image

    out = sys.argv[1]
    state = {"on": False}

    def log(line):
        with open(out, "a") as fh:
            fh.write(line + "\\n")

    def on_break(icon, item):
        log("break")

    def on_toggle(icon, item):
        state["on"] = not state["on"]
        log("toggle %s" % state["on"])

    def on_deep(icon, item):
        log("deep")

    def on_quit(icon, item):
        log("quit")
        icon.stop()

    def is_on(item):
        return state["on"]

    def setup(icon):
        icon.visible = True
        log("ready " + type(icon).__module__)

    menu = pystray.Menu(
        pystray.MenuItem("Take a _break", on_break),
        pystray.MenuItem("Toggle", on_toggle, checked=is_on),
        pystray.Menu.SEPARATOR,
        pystray.MenuItem("More", pystray.Menu(pystray.MenuItem("Deep", on_deep))),
        pystray.MenuItem("Quit", on_quit),
    )
    image = Image.new("RGB", (32, 32), (200, 30, 30))
    pystray.Icon("psoas-test", image, "Psoas Test", menu=menu).run(setup)
    """
)


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_pystray_appindicator_icon_registers_and_menu_clicks(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    watcher = desktop.start_sni_watcher()  # before the icon, or it falls back to XEmbed
    # pystray's gtk/appindicator Icon.stop() closes its notification over D-Bus and raises
    # ServiceUnknown when no server is there, so give it one for a clean exit.
    desktop.start_notification_server()
    script = tmp_path / "icon_app.py"
    script.write_text(ICON_APP)
    clicks = tmp_path / "clicks.txt"
    app = desktop.spawn([sys.executable, str(script), str(clicks)], name="icon",
                        env={"PYSTRAY_BACKEND": "appindicator"})

    item = desktop.tray().wait_for_item(id="psoas-test")
    assert watcher.items() == [item.entry]
    assert item.service == desktop.bus().get_name_owner(item.service)  # a unique name
    assert (item.title, item.status) == ("Psoas Test", "Active")
    assert item.icon_image().convert("RGB").getpixel((16, 16)) == (200, 30, 30)
    wait_for(lambda: clicks.exists() and "ready pystray._appindicator" in clicks.read_text(),
             what="the icon's setup")

    menu = item.menu()
    root = menu.layout()
    assert root.labels() == ["Take a _break", "Toggle", "---", ["More", ["Deep"]], "Quit"]
    toggle = menu.find("Toggle")
    assert (toggle.toggle_type, toggle.checked, toggle.enabled) == ("checkmark", False, True)

    menu.click("Take a _break")
    menu.click("Toggle")
    menu.wait_for("Toggle", checked=True)  # pystray rebuilt the menu with new ids
    menu.click("More", "Deep")
    wait_for(lambda: clicks.read_text().splitlines()[1:] == ["break", "toggle True", "deep"],
             what="the three callbacks")

    # The watcher restarts; libayatana-appindicator registers again with the new one.
    watcher.restart()
    assert watcher.wait_for_items(1) == [item.entry]

    gone = watcher.subscribe("StatusNotifierItemUnregistered")
    menu.click("Quit")
    assert gone.wait().body == [item.entry]
    assert app.wait(10) == 0, desktop.log_text(app)
    assert watcher.items() == []


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_watcher_protocol_details(desktop: DesktopSession) -> None:
    watcher = desktop.start_sni_watcher()
    bus = desktop.bus()
    props = bus.get_all_properties(
        "org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher")
    assert props == {"RegisteredStatusNotifierItems": [], "IsStatusNotifierHostRegistered": True,
                     "ProtocolVersion": 0}
    registered = watcher.subscribe("StatusNotifierItemRegistered")
    with BusClient(desktop.session_bus_address) as app:
        me = app.unique_name
        for arg in ("/org/example/Item", me):  # an object path, then a bus name
            app.call("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
                     "org.kde.StatusNotifierWatcher", "RegisterStatusNotifierItem", "s", [arg])
        expected = [f"{me}/org/example/Item", f"{me}/StatusNotifierItem"]
        wait_for(lambda: len(registered.signals) == 2, what="two Registered signals")
        assert [s.body[0] for s in registered.signals] == expected
        assert watcher.items() == expected
        unregistered = watcher.subscribe("StatusNotifierItemUnregistered")
    # The app's connection is gone: its items are dropped.
    wait_for(lambda: len(unregistered.signals) == 2, what="two Unregistered signals")
    assert watcher.items() == []

    with pytest.raises(ServiceStartError, match="status 3"):
        desktop.start_sni_watcher()  # the name is taken
    watcher.stop()
    quiet = desktop.start_sni_watcher(host_registered=False)
    assert not bus.get_property("org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
                                "org.kde.StatusNotifierWatcher", "IsStatusNotifierHostRegistered")
    assert quiet.running


# -- notifications --------------------------------------------------------------------------------

PLYER_NOTIFY = (
    "from plyer import notification\n"
    "notification.notify(title='Stand up', message='Stretch your hip flexors',"
    " app_name='psoas-break', timeout=7)\n"
)


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_notification_server_records_plyer_and_drives_signals(desktop: DesktopSession) -> None:
    server = desktop.start_notification_server()
    done = subprocess.run([sys.executable, "-c", PLYER_NOTIFY], env=desktop.env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    entry = server.wait_for_notification(lambda e: e["app_name"] == "psoas-break")
    assert (entry["summary"], entry["body"], entry["expire_timeout"]) == (
        "Stand up", "Stretch your hip flexors", 7000)
    assert entry["id"] == 1 and entry["replaces_id"] == 0

    bus = desktop.bus()
    assert bus.call(*NOTIFY, "GetServerInformation")[3] == "1.2"
    assert "actions" in bus.call(*NOTIFY, "GetCapabilities")[0]
    pixels = bytes(range(256)) * 3  # 16x16 RGB
    hints = {"image-data": Variant("(iiibiiay)", [16, 16, 48, False, 8, 3, pixels]),
             "urgency": Variant("y", 2)}
    nid = bus.call(*NOTIFY, "Notify", "susssasa{sv}i",
                   ["psoas-test", 0, "", "Break", "Now", ["default", "Open", "snooze", "Snooze"],
                    hints, -1])[0]
    assert nid == 2
    recorded = server.calls()[-1]
    assert recorded["actions"] == [["default", "Open"], ["snooze", "Snooze"]]
    assert recorded["hints"]["urgency"] == 2
    image = recorded["hints"]["image-data"]
    assert (image["width"], image["height"], image["bytes"]) == (16, 16, 768)

    signals = server.subscribe()
    server.invoke_action(nid, "snooze")
    signals.wait(lambda s: s.member == "NotificationClosed")
    assert [(s.member, s.body) for s in signals.signals] == [
        ("ActionInvoked", [nid, "snooze"]), ("NotificationClosed", [nid, 2])]
    with pytest.raises(DBusCallError, match="NoSuchNotification"):
        server.invoke_action(nid, "snooze")  # closed now

    bus.call(*NOTIFY, "CloseNotification", "u", [1])
    assert server.calls("CloseNotification")[0]["id"] == 1
    signals.wait(lambda s: s.body == [1, 3])

    changed = bus.subscribe(member="PropertiesChanged", path=NOTIFY[1])
    assert bus.get_property(*NOTIFY, "Inhibited") is False
    server.set_inhibited(True)
    assert changed.wait().body[:2] == ["org.freedesktop.Notifications", {"Inhibited": True}]
    assert bus.get_property(*NOTIFY, "Inhibited") is True


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_notification_server_hang_mode_never_answers(desktop: DesktopSession) -> None:
    server = desktop.start_notification_server(mode="hang")
    bus = desktop.bus()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        bus.call(*NOTIFY, "Notify", "susssasa{sv}i",
                 ["psoas-test", 0, "", "Hello", "", [], {}, -1], timeout_s=1.0)
    assert 0.9 <= time.monotonic() - started < 5
    assert server.calls()[0]["summary"] == "Hello"  # it arrived; it just got no reply
    assert bus.call(*NOTIFY, "GetCapabilities")  # the server itself is alive


# -- idle, screensaver, logind --------------------------------------------------------------------


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_idle_services_return_what_the_test_set(desktop: DesktopSession) -> None:
    mutter = desktop.start_mutter_idle_monitor(idle_ms=1234)
    assert mutter.get_idletime_ms() == 1234
    mutter.set_idle(90_000)
    assert mutter.get_idletime_ms() == 90_000
    fired = mutter.subscribe()
    bus = desktop.bus()
    watch = bus.call("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core",
                     "org.gnome.Mutter.IdleMonitor", "AddIdleWatch", "t", [100_000])[0]
    mutter.set_idle(99_950, growing=True)  # crosses 100 s within 50 ms of real time
    assert fired.wait().body == [watch]

    kde = desktop.start_screensaver(idle_ms=4500)  # KDE answers in milliseconds
    assert (kde.unit, kde.get_session_idle_time(), kde.get_active()) == ("ms", 4500, False)
    active = kde.subscribe()
    kde.set_active(True)
    assert active.wait().body == [True]
    assert kde.get_active()
    kde.stop()

    spec = desktop.start_screensaver(flavor="spec", idle_ms=4500)  # the draft: seconds
    assert (spec.unit, spec.get_session_idle_time()) == ("s", 4)
    spec.stop()

    gnome = desktop.start_screensaver(flavor="gnome")
    with pytest.raises(DBusCallError, match="UnknownMethod"):
        gnome.get_session_idle_time()
    assert gnome.get_active() is False


INHIBITOR_CLIENT = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from dbus_fast import BusType, Message
    from dbus_fast.aio import MessageBus

    async def main():
        bus = await MessageBus(bus_type=BusType.SYSTEM, negotiate_unix_fd=True).connect()
        reply = await bus.call(Message(
            destination="org.freedesktop.login1", path="/org/freedesktop/login1",
            interface="org.freedesktop.login1.Manager", member="Inhibit", signature="ssss",
            body=["sleep", "psoas-test", "finish the stats", "delay"]))
        fd = reply.unix_fds[reply.body[0]]
        Path(sys.argv[1]).write_text("locked")
        while not Path(sys.argv[2]).exists():
            await asyncio.sleep(0.02)
        os.close(fd)
        bus.disconnect()

    asyncio.run(main())
    """
)


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_logind_emits_sleep_and_lock_and_tracks_inhibitors(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    logind = desktop.start_logind()
    system = desktop.system_bus()
    path = system.call("org.freedesktop.login1", "/org/freedesktop/login1",
                       "org.freedesktop.login1.Manager", "GetSessionByPID", "u", [os.getpid()])[0]
    assert path == "/org/freedesktop/login1/session/_31"

    # A listener in another process, as the app would be: dbus-python on the system bus.
    listener = desktop.spawn([sys.executable, "-c", textwrap.dedent(
        """
        import dbus, dbus.mainloop.glib
        from gi.repository import GLib
        dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
        loop = GLib.MainLoop()
        def sleep(going):
            print("PrepareForSleep", bool(going), flush=True)
            if not going:
                loop.quit()
        dbus.SystemBus().add_signal_receiver(
            sleep, "PrepareForSleep", "org.freedesktop.login1.Manager")
        print("listening", flush=True)
        loop.run()
        """)], name="sleep-listener")
    wait_for(lambda: "listening" in desktop.log_text(listener), what="the listener")
    # The match rule reaches the daemon before "listening" is printed (add_signal_receiver
    # blocks on AddMatch), so the signals below cannot be missed.
    logind.prepare_for_sleep(True)
    logind.prepare_for_sleep(False)
    assert listener.wait(10) == 0
    assert desktop.log_text(listener).splitlines()[-2:] == [
        "PrepareForSleep True", "PrepareForSleep False"]

    locks = logind.subscribe_session()
    logind.lock()
    logind.unlock()
    wait_for(lambda: [s.member for s in locks.signals] == ["Lock", "Unlock"], what="Lock, Unlock")

    locked, release = tmp_path / "locked", tmp_path / "release"
    client = desktop.spawn([sys.executable, "-c", INHIBITOR_CLIENT, str(locked), str(release)],
                           name="inhibitor")
    wait_for(locked.exists, what="the delay lock")
    [lock] = logind.inhibitors()
    assert (lock["what"], lock["mode"], lock["held"]) == ("sleep", "delay", True)
    release.touch()
    wait_for(lambda: not logind.inhibitors()[0]["held"], what="the lock's release")
    assert client.wait(10) == 0, desktop.log_text(client)


# -- X: idle, input, window manager, tray, screenshots --------------------------------------------


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_x_idle_grows_and_xdotool_resets_it(desktop: DesktopSession) -> None:
    before = wait_for(lambda: (ms := desktop.x_idle_ms()) >= 300 and ms, 10,
                      what="X idle time to reach 300 ms")
    pressed_at = time.monotonic()
    desktop.xdotool("key", "shift")
    after = desktop.x_idle_ms()
    since_press_ms = (time.monotonic() - pressed_at) * 1000
    assert after <= since_press_ms + 20 < before + since_press_ms  # reset by the key press


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_window_manager_fullscreen_tray_and_screenshot(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    assert x11_helpers.wm_check_window(desktop) == 0
    desktop.start_openbox()
    desktop.start_trayer()
    assert x11_helpers.tray_owner(desktop) != 0

    window = desktop.open_window(title="a video")
    wait_for(lambda: x11_helpers.active_window(desktop) == window.id, what="window focused")
    assert not window.is_fullscreen()
    window.set_fullscreen(True)
    assert window.size() == (1024, 768)
    shot = desktop.screenshot(tmp_path / "fullscreen.png")
    from PIL import Image

    with Image.open(shot) as img:
        assert img.size == (1024, 768)
        assert img.convert("RGB").getpixel((512, 700)) == (255, 255, 255)  # the white window
    window.set_fullscreen(False)
    assert window.size() == (320, 200)
    with Image.open(desktop.screenshot(tmp_path / "windowed.png")) as img:
        assert img.convert("RGB").getpixel((512, 700)) == (0, 0, 0)  # the bare root again

    second = desktop.open_window(title="a game", fullscreen=True)  # asks before mapping
    assert second.is_fullscreen() and second.size() == (1024, 768)
    second.close()
    window.activate()


@pytest.mark.desktop
@pytest.mark.timeout(60)
def test_module_scoped_session_is_usable(desktop_module: DesktopSession) -> None:
    assert desktop_module.bus().name_has_owner("org.freedesktop.DBus")
    assert desktop_module.x_idle_ms() >= 0


# -- helpers --------------------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in (b"Z", b"X")
