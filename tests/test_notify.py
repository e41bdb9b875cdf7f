"""Notifications for real: the D-Bus and plyer notifiers, the fallback chain and the delivery
worker against the recording org.freedesktop.Notifications server on a private session bus
(tests/desktop), including a server that is missing and one that never replies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from psoas_break.adapters.notify import (
    NoServer,
    NotificationWorker,
    make_notifier,
)
from psoas_break.adapters.notify.dbus_notifier import DbusNotifier
from psoas_break.ports import DeliveryFailed, Notification
from tests.desktop import BusClient, DesktopSession, LoneBus, wait_for
from tests.desktop.session import REPO_ROOT

pytestmark = pytest.mark.timeout(60)

#: The receiver thread of the app's shared session-bus connection (psoas_break/adapters/dbus.py).
THREAD_NAME = "psoas-dbus-session"


def _bus_threads() -> int:
    return [t.name for t in threading.enumerate()].count(THREAD_NAME)


@pytest.fixture
def icon(tmp_path: Path) -> Path:
    path = tmp_path / "psoas-break.png"
    Image.new("RGBA", (48, 48), (40, 160, 90, 255)).save(path)
    return path


@pytest.fixture
def notifier(desktop: DesktopSession) -> Iterator[DbusNotifier]:
    n = DbusNotifier(desktop.env, call_timeout_s=2.0)
    yield n
    n.shutdown()


# -- the direct D-Bus notifier --------------------------------------------------------------------


def test_dbus_notification_arrives_with_app_name_title_body_icon(
    desktop: DesktopSession, notifier: DbusNotifier, icon: Path
) -> None:
    server = desktop.start_notification_server()
    notifier.notify(Notification(title="Time to stand up", body="Kneeling hip-flexor stretch",
                                 icon=icon, timeout_s=25, tag="prompt"))
    entry = server.wait_for_notification()
    assert entry["app_name"] == "psoas-break"
    assert entry["summary"] == "Time to stand up"
    assert entry["body"] == "Kneeling hip-flexor stretch"
    assert entry["app_icon"] == str(icon)
    assert entry["hints"]["image-path"] == icon.as_uri()
    assert entry["hints"]["urgency"] == 1
    assert entry["hints"]["desktop-entry"] == "psoas-break"
    assert entry["expire_timeout"] == 25000
    assert entry["replaces_id"] == 0
    assert entry["sender"] != desktop.bus().unique_name  # sent by the notifier's own connection


def test_second_prompt_replaces_the_first_and_close_closes_it(
    desktop: DesktopSession, notifier: DbusNotifier
) -> None:
    server = desktop.start_notification_server()
    closed = server.subscribe(member="NotificationClosed")
    notifier.notify(Notification(title="Stretch", body="first", tag="prompt"))
    notifier.notify(Notification(title="Stretch", body="second", tag="prompt"))
    notifier.notify(Notification(title="Notice", body="other tag", tag="notice"))
    first, second, other = server.calls("Notify")
    assert second["replaces_id"] == first["id"] and second["id"] == first["id"]
    assert other["replaces_id"] == 0 and other["id"] != first["id"]
    assert notifier.shown_id("prompt") == first["id"]

    notifier.close("prompt")
    assert [c["id"] for c in server.calls("CloseNotification")] == [first["id"]]
    assert closed.wait().body == [first["id"], 3]
    notifier.close("prompt")  # nothing shown with that tag any more: no second call
    assert len(server.calls("CloseNotification")) == 1
    # After close, the next prompt is a new notification, not a replacement.
    notifier.notify(Notification(title="Stretch", body="third", tag="prompt"))
    assert server.calls("Notify")[-1]["replaces_id"] == 0


def test_body_markup_is_escaped_only_for_servers_that_parse_it(
    desktop: DesktopSession, notifier: DbusNotifier
) -> None:
    body = "Hold <30 s> & breathe"
    server = desktop.start_notification_server()  # advertises body-markup
    notifier.notify(Notification(title="t", body=body))
    assert server.calls()[-1]["body"] == "Hold &lt;30 s&gt; &amp; breathe"
    server.stop()
    plain = desktop.start_notification_server(capabilities=["body"])
    notifier.notify(Notification(title="t", body=body))
    assert plain.calls()[-1]["body"] == body


def test_actions_are_sent_only_with_a_listener_and_clicks_come_back(
    desktop: DesktopSession,
) -> None:
    server = desktop.start_notification_server()
    actions = (("break-now", "I'm up"), ("snooze", "Snooze"))
    silent = DbusNotifier(desktop.env)
    try:
        silent.notify(Notification(title="Stretch", body="b", actions=actions))
        assert server.calls()[-1]["actions"] == []  # nobody would hear the click: no buttons
    finally:
        silent.shutdown()

    clicks: list[tuple[str, str]] = []
    closes: list[tuple[str, int]] = []
    notifier = DbusNotifier(desktop.env, on_action=lambda t, k: clicks.append((t, k)),
                            on_closed=lambda t, r: closes.append((t, r)))
    try:
        notifier.notify(Notification(title="Stretch", body="b", actions=actions, tag="prompt"))
        entry = server.calls()[-1]
        assert entry["actions"] == [["break-now", "I'm up"], ["snooze", "Snooze"]]
        # Another app's notification with an action: its click must not reach us.
        other = desktop.bus().call(
            "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications", "Notify", "susssasa{sv}i",
            ["other-app", 0, "", "Other", "", ["snooze", "Snooze"], {}, -1])[0]
        server.invoke_action(other, "snooze")
        server.invoke_action(entry["id"], "snooze")
        wait_for(lambda: closes, what="NotificationClosed for our prompt")
        assert clicks == [("prompt", "snooze")]
        assert closes == [("prompt", 2)]
        assert notifier.shown_id("prompt") is None  # the server closed it
    finally:
        notifier.shutdown()


def test_an_id_from_a_restarted_server_is_never_reused(
    desktop: DesktopSession, notifier: DbusNotifier
) -> None:
    server = desktop.start_notification_server()
    notifier.notify(Notification(title="Stretch", body="before restart", tag="prompt"))
    server.restart()  # a new process with a new unique name; ids start at 1 again
    notifier.notify(Notification(title="Stretch", body="after restart", tag="prompt"))
    after = [c for c in server.calls() if c["body"] == "after restart"]
    assert after and after[0]["replaces_id"] == 0


def test_server_information_is_read(desktop: DesktopSession, notifier: DbusNotifier) -> None:
    # (Inhibited is read by the quiet detector: tests/test_quiet_detectors.py.)
    desktop.start_notification_server()
    assert notifier.server_information()[0] == "psoas-test-notifications"


# -- plyer ----------------------------------------------------------------------------------------

PLYER_SCRIPT = """
import sys
from pathlib import Path
from psoas_break.adapters.notify.plyer_notifier import PlyerNotifier
from psoas_break.ports import Notification
n = PlyerNotifier()
print(n.implementation, n.server)
n.notify(Notification(title="Posture check", body="Sit tall", icon=Path(sys.argv[1]),
                      timeout_s=9))
"""


def test_plyer_notification_arrives_with_app_name_title_body_icon(
    desktop: DesktopSession, icon: Path
) -> None:
    # In a fresh process: libdbus (under plyer) keeps the first session bus address it sees.
    server = desktop.start_notification_server()
    env = dict(desktop.env, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-c", PLYER_SCRIPT, str(icon)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["NotifyDbus", "org.freedesktop.Notifications"]
    entry = server.wait_for_notification()
    assert (entry["app_name"], entry["summary"], entry["body"], entry["app_icon"]) == (
        "psoas-break", "Posture check", "Sit tall", str(icon))
    assert entry["expire_timeout"] == 9000


# -- the chain ------------------------------------------------------------------------------------


def test_no_server_falls_back_fast_records_why_and_recovers(desktop: DesktopSession) -> None:
    tray_calls: list[tuple[str, str]] = []
    chain, choice = make_notifier(env=desktop.env,
                                  tray_notify=lambda t, b: tray_calls.append((t, b)))
    try:
        assert choice.chosen == "log"
        reasons = dict(choice.rejected)
        assert "no notification server" in reasons["dbus"]
        assert reasons["plyer"].startswith("same notification server as dbus")
        assert reasons["tray"].startswith("same notification server as dbus")
        assert choice.fix and "notification service" in choice.fix

        started = time.monotonic()
        with pytest.raises(DeliveryFailed, match="no notifier could show it"):
            chain.notify(Notification(title="Stretch", body="nobody listens"))
        assert time.monotonic() - started < 1.0
        assert chain.last_used == "log"
        assert tray_calls == []  # pystray would have talked to the same missing server

        # A server that starts after the app (the login race) is used at once.
        server = desktop.start_notification_server()
        chain.notify(Notification(title="Stretch", body="now someone listens"))
        assert server.wait_for_notification()["body"] == "now someone listens"
        assert chain.last_used == "dbus"
        assert chain.choice().chosen == "dbus" and not chain.failures()
    finally:
        chain.shutdown()


def test_env_override_picks_one_backend(desktop: DesktopSession) -> None:
    tray_calls: list[tuple[str, str]] = []
    desktop.start_notification_server()
    env = dict(desktop.env, PSOAS_NOTIFY_BACKEND="tray")
    chain, choice = make_notifier(env=env, tray_notify=lambda t, b: tray_calls.append((t, b)))
    assert choice.chosen == "tray"
    assert dict(choice.rejected)["dbus"] == "not used: PSOAS_NOTIFY_BACKEND=tray"
    chain.notify(Notification(title="Stretch", body="via the tray"))
    assert tray_calls == [("Stretch", "via the tray")]

    chain, choice = make_notifier(env=dict(desktop.env, PSOAS_NOTIFY_BACKEND="log"))
    assert choice.chosen == "log" and choice.fix is None
    chain.notify(Notification(title="Stretch", body="log on purpose"))  # no error: chosen

    chain, choice = make_notifier(env=dict(desktop.env, PSOAS_NOTIFY_BACKEND="carrier-pigeon"))
    assert "is not one of: dbus, plyer, tray, log" in dict(choice.rejected)["PSOAS_NOTIFY_BACKEND"]
    assert choice.chosen == "dbus"
    chain.shutdown()


# -- the delivery worker --------------------------------------------------------------------------


def test_hung_server_never_blocks_the_caller_and_delivery_resumes(
    desktop: DesktopSession,
) -> None:
    hung = desktop.start_notification_server(mode="hang")
    chain, _ = make_notifier(env=desktop.env, call_timeout_s=1.0, retry_after_s=0.0)
    failures: list[str] = []
    recovered: list[str] = []
    worker = NotificationWorker(chain, timeout_s=5.0, on_failure=failures.append,
                                on_recovered=recovered.append)
    try:
        started = time.monotonic()
        worker.submit(Notification(title="Stretch", body="into the void"))
        assert time.monotonic() - started < 0.5  # submit returns at once
        wait_for(lambda: failures, timeout_s=8, what="the failure report")
        assert "did not answer" in failures[0]
        assert hung.calls()[0]["body"] == "into the void"  # it got there; no reply came back

        hung.stop()
        server = desktop.start_notification_server()
        worker.submit(Notification(title="Stretch", body="server is back"))
        assert server.wait_for_notification()["body"] == "server is back"
        wait_for(lambda: recovered, what="the recovery report")
        assert recovered == ["dbus"] and len(failures) == 1  # reported once, not per failure
    finally:
        worker.stop()
        chain.shutdown()


def test_stuck_call_is_abandoned_and_a_fresh_thread_delivers_the_next(
    desktop: DesktopSession,
) -> None:
    hung = desktop.start_notification_server(mode="hang")
    # A D-Bus timeout far beyond the worker's: the call really stays stuck in the server.
    chain, _ = make_notifier(env=desktop.env, call_timeout_s=30.0, retry_after_s=0.0)
    failures: list[str] = []
    worker = NotificationWorker(chain, timeout_s=1.0, on_failure=failures.append)
    try:
        worker.submit(Notification(title="Stretch", body="stuck"))
        wait_for(lambda: worker.abandoned == 1, timeout_s=8, what="the abandoned call")
        assert failures == ["no answer within 1 s (notify 'prompt': Stretch)"]
        assert "did not answer" in chain.failures()["dbus"]

        hung.stop()  # the stuck call now ends with an error on its abandoned thread
        server = desktop.start_notification_server()
        worker.submit(Notification(title="Stretch", body="fresh thread"))
        assert server.wait_for_notification()["body"] == "fresh thread"
        assert worker.wait_idle(5.0)
        assert worker.runner_threads_started == 2
        # The late end of the stuck call tried no other backend: the log got nothing.
        assert chain.links[-1].notifier is None or \
            chain.links[-1].notifier.count == 0  # type: ignore[attr-defined]
    finally:
        worker.stop()
        chain.shutdown()


def test_coalescing_delivers_only_the_newest_per_tag(
    desktop: DesktopSession, notifier: DbusNotifier
) -> None:
    # Every Notify is recorded even by a hung server, so the record shows exactly what was
    # sent. The first call waits 3 s for its reply: time to queue the others behind it.
    server = desktop.start_notification_server(mode="hang")
    notifier.call_timeout_s = 3.0
    worker = NotificationWorker(notifier, timeout_s=10.0)
    try:
        worker.submit(Notification(title="busy", body="", tag="first"))
        server.wait_for_notification()  # the worker is now inside that call
        notifier.call_timeout_s = 0.3  # for the calls after it
        for body in ("prompt-0", "prompt-1", "prompt-2"):
            worker.submit(Notification(title="Stretch", body=body, tag="prompt"))
        worker.submit(Notification(title="Notice", body="notice-0", tag="notice"))
        worker.submit(Notification(title="Stretch", body="prompt-newest", tag="prompt"))
        assert worker.coalesced == 3
        assert worker.delivered + worker.failed == 0  # all queued behind "busy"
        assert worker.wait_idle(15.0)
        assert [c["body"] for c in server.calls()] == ["", "notice-0", "prompt-newest"]
    finally:
        worker.stop()


def test_worker_close_closes_the_shown_prompt(desktop: DesktopSession) -> None:
    server = desktop.start_notification_server()
    chain, _ = make_notifier(env=desktop.env)
    worker = NotificationWorker(chain)
    try:
        worker.submit(Notification(title="Stretch", body="shown", tag="prompt"))
        assert worker.wait_idle(5.0)
        shown = server.wait_for_notification()
        worker.close("prompt")
        assert worker.wait_idle(5.0)
        assert [c["id"] for c in server.calls("CloseNotification")] == [shown["id"]]
    finally:
        worker.stop()
        chain.shutdown()


# -- what the notifier costs: no asyncio, no dbus_fast -------------------------------------------

# Run in a fresh interpreter: the test process itself has asyncio and dbus_fast (the harness).
LEAN_SCRIPT = """
import json, os, sys
from psoas_break.adapters.notify import make_notifier
from psoas_break.ports import Notification
chain, choice = make_notifier(env=os.environ)
chain.notify(Notification(title="Stretch", body="from a lean process", tag="prompt"))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("asyncio", "dbus_fast"))
print("RESULT=" + json.dumps({"chosen": choice.chosen, "used": chain.last_used, "heavy": heavy}))
chain.shutdown()
"""


def _run_lean(desktop: DesktopSession, prefix: str = "") -> dict[str, Any]:
    env = dict(desktop.env, PYTHONPATH=str(REPO_ROOT))
    done = subprocess.run([sys.executable, "-c", prefix + LEAN_SCRIPT], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT=")]
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT="))
    return result


def test_notifying_over_dbus_loads_neither_asyncio_nor_dbus_fast(desktop: DesktopSession) -> None:
    server = desktop.start_notification_server()
    result = _run_lean(desktop)
    assert (result["chosen"], result["used"]) == ("dbus", "dbus")
    assert server.wait_for_notification()["body"] == "from a lean process"
    assert result["heavy"] == []
    # The control: the same check does see them when something imports them.
    assert {"asyncio", "dbus_fast"} <= set(_run_lean(desktop, "import dbus_fast.aio\n")["heavy"])


# -- connection life: bus restarts, shutdown, callbacks ------------------------------------------

def test_the_notifier_reconnects_when_the_bus_daemon_itself_restarts(
    desktop: DesktopSession, tmp_path: Path
) -> None:
    # A bus of its own (the session's bus must outlive the test), on the same socket path twice,
    # with the recording server started on it by hand.
    lone = LoneBus(desktop, tmp_path)
    address = lone.address

    def start_bus_and_server(record: Path) -> subprocess.Popen[bytes]:
        lone.start()
        record.touch()
        server = desktop.spawn(
            [sys.executable, "-m", "tests.desktop.notifications", "--record", str(record)],
            name="lone-notifications", env={"DBUS_SESSION_BUS_ADDRESS": address}, service=True,
        )
        client = BusClient(address)
        try:
            client.wait_for_name("org.freedesktop.Notifications")
        finally:
            client.close()
        return server

    def recorded(record: Path) -> list[dict[str, Any]]:
        return [json.loads(ln) for ln in record.read_text().splitlines() if ln.strip()]

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    server = start_bus_and_server(first)
    threads_before = _bus_threads()
    notifier = DbusNotifier({"DBUS_SESSION_BUS_ADDRESS": address}, call_timeout_s=2.0)
    try:
        notifier.notify(Notification(title="Stretch", body="before", tag="prompt"))
        assert [e["body"] for e in recorded(first)] == ["before"]
        desktop.stop(server)
        lone.stop()
        with pytest.raises(NoServer):  # no bus at all: fails, and quickly says why
            notifier.notify(Notification(title="Stretch", body="no bus", tag="prompt"))
        start_bus_and_server(second)
        notifier.notify(Notification(title="Stretch", body="after", tag="prompt"))
        (after,) = recorded(second)
        # A new server on a new bus: the old id is never offered as replaces_id.
        assert (after["body"], after["replaces_id"]) == ("after", 0)
        assert notifier.shown_id("prompt") == after["id"]
    finally:
        notifier.shutdown()
    assert _bus_threads() == threads_before


def test_shutdown_ends_the_thread_and_the_notifier_works_again_after_it(
    desktop: DesktopSession,
) -> None:
    server = desktop.start_notification_server()
    threads_before = _bus_threads()
    notifier = DbusNotifier(desktop.env)
    try:
        notifier.notify(Notification(title="Stretch", body="one", tag="prompt"))
        assert _bus_threads() == threads_before + 1
        notifier.shutdown()
        notifier.shutdown()  # idempotent
        assert _bus_threads() == threads_before
        notifier.notify(Notification(title="Stretch", body="two", tag="prompt"))
        one, two = server.calls("Notify")
        assert two["body"] == "two" and two["replaces_id"] == one["id"]  # same server
    finally:
        notifier.shutdown()


def test_a_callback_that_calls_the_notifier_gets_its_answer_instead_of_hanging(
    desktop: DesktopSession,
) -> None:
    # Callbacks run on the thread that reads replies: while one calls, that thread reads the
    # bus itself until the reply comes (psoas_break/adapters/dbus.py), so the call neither
    # hangs nor waits for its timeout.
    server = desktop.start_notification_server()
    outcomes: list[tuple[str, float]] = []

    def on_action(tag: str, key: str) -> None:
        started = time.monotonic()
        try:
            name = notifier.server_information()[0]
        except DeliveryFailed as exc:
            name = f"failed: {exc}"
        outcomes.append((name, time.monotonic() - started))

    notifier = DbusNotifier(desktop.env, call_timeout_s=2.0, on_action=on_action)
    try:
        notifier.notify(Notification(title="Stretch", body="b", tag="prompt",
                                     actions=(("snooze", "Snooze"),)))
        server.invoke_action(server.calls()[-1]["id"], "snooze")
        wait_for(lambda: outcomes, what="the callback's outcome")
        ((name, took_s),) = outcomes
        assert name == "psoas-test-notifications"
        assert took_s < 1.0  # answered, not timed out (2 s)
        # The connection still works for everyone else.
        assert notifier.server_information()[0] == "psoas-test-notifications"
    finally:
        notifier.shutdown()


def test_calls_from_many_threads_share_one_connection_and_all_arrive(
    desktop: DesktopSession,
) -> None:
    # The worker, an abandoned call still in flight and `doctor` may call at the same time.
    server = desktop.start_notification_server()
    threads_before = _bus_threads()
    notifier = DbusNotifier(desktop.env)
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def send(n: int) -> None:
        try:
            start.wait(10)
            for i in range(5):
                notifier.notify(Notification(title="t", body=f"{n}-{i}", tag=f"tag-{n}"))
                assert notifier.server_information()[0] == "psoas-test-notifications"
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        calls = server.calls("Notify")
        assert sorted(c["body"] for c in calls) == sorted(f"{n}-{i}" for n in range(4)
                                                          for i in range(5))
        # Each tag's later prompts replaced its first one; the tags never mixed up.
        for n in range(4):
            mine = [c for c in calls if c["body"].startswith(f"{n}-")]
            assert {c["id"] for c in mine} == {notifier.shown_id(f"tag-{n}")}
        assert _bus_threads() == threads_before + 1
        assert len({c["sender"] for c in calls}) == 1  # one connection for all of them
    finally:
        notifier.shutdown()
