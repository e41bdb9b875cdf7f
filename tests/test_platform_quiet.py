"""Quiet detection on Windows and macOS, tested here on Linux for real where it can be.

- quiet_apps off Linux goes through psutil, which works on Linux too: `platform="darwin"` /
  `"win32"` makes the detector (and the factory) take that path, and it is run against real
  processes started here under distinctive names (copies of `sleep`). The Linux path must not
  import psutil at all: checked in a fresh interpreter, with a control that sees psutil when
  the psutil path runs.
- The name matching is pure and tested with the names each kernel reports (15-character cut on
  Linux, 16 on macOS, "X.exe" on Windows).
- macOS fullscreen: the decision (`fullscreen_display`) is pure and tested on window lists
  shaped like CGWindowListCopyWindowInfo's (front to back, menu bar at layer 24, Dock/Window
  Server entries, transparent overlays) with one and several displays. The ctypes layer
  (CtypesQuartz) runs against a C library built here with CoreGraphics' symbols and
  signatures (end of this file); what Apple's window server really lists stays on paper. On
  this machine CoreGraphics cannot be loaded, which is the factory's real failure path.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psoas_break.adapters.quiet import ENV_VAR, make_quiet_detectors
from psoas_break.adapters.quiet import fullscreen_macos as fm
from psoas_break.adapters.quiet.fullscreen_macos import (
    MAIN_MENU_LAYER,
    MacFullscreenDetector,
    Rect,
    WindowInfo,
    covers,
    display_of,
    front_window,
    fullscreen_display,
    menu_bar_shown,
)
from psoas_break.adapters.quiet.quiet_apps import (
    COMM_LEN,
    MACOS_COMM_LEN,
    QuietAppsDetector,
    kernel_name_len,
    matches,
    quiet_apps_among,
)
from psoas_break.ports import Unavailable
from psoas_break.runtime.quiet import close_detectors, quiet_reasons
from tests.desktop.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- quiet_apps: names


def test_kernel_name_cut_per_platform() -> None:
    assert kernel_name_len("linux") == COMM_LEN == 15
    assert kernel_name_len("darwin") == MACOS_COMM_LEN == 16
    assert kernel_name_len("win32") == 0
    assert kernel_name_len("freebsd14") == 0


@pytest.mark.parametrize(
    ("wanted", "name", "comm_len", "expected"),
    [
        ("zoom", "Zoom.exe", 0, True),  # Windows: the name is the executable's basename
        ("Zoom.exe", "zoom.EXE", 0, True),
        ("zoom", "Zoom.exe.bak", 0, False),
        ("teams", "Teams.exe", 0, True),
        ("zoom.us", "zoom.us", 16, True),  # macOS: the executable inside zoom.us.app
        ("zoom", "zoom.us", 16, False),  # a prefix is not a match
        ("microsoft teams", "Microsoft Teams", 16, True),
        # macOS keeps 16 characters of another user's process name (MAXCOMLEN):
        ("microsoft teams classic", "microsoft teams ", 16, True),
        ("microsoft teams classic", "microsoft teams", 16, False),  # 15 characters: not a cut
        # Linux keeps 15 (TASK_COMM_LEN - 1):
        ("zoom-test-meeting", "zoom-test-meeti", 15, True),
        ("zoom-test-meeting", "zoom-test-meeti", 0, False),  # Windows never cuts
        ("zoom-test", "zoom-test-meeti", 15, False),  # the wanted name is shorter than the cut
        ("", "anything", 15, False),
    ],
)
def test_name_matching(wanted: str, name: str, comm_len: int, expected: bool) -> None:
    assert matches(wanted, name, "", comm_len) is expected


def test_quiet_apps_among_keeps_the_order_of_the_setting_and_skips_excluded_pids() -> None:
    programs = [(10, "obs", ""), (11, "Zoom.exe", ""), (12, "slack", ""), (13, "teams", "")]
    assert quiet_apps_among(["teams", "zoom", "obs"], programs, (), 0) == ["teams", "zoom", "obs"]
    assert quiet_apps_among(["teams", "zoom"], programs, exclude_pids=(13,), comm_len=0) == [
        "zoom"
    ]
    assert quiet_apps_among([], programs) == []
    assert quiet_apps_among(["vlc"], programs) == []


# ---------------------------------------------------------------- quiet_apps: real processes


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; all are killed and reaped afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _program(tmp_path: Path, name: str) -> Path:
    sleep = shutil.which("sleep")
    assert sleep is not None
    copy = tmp_path / name
    shutil.copy(sleep, copy)
    return copy


def _reasons_become(detector: QuietAppsDetector, expected: tuple[str, ...]) -> None:
    wait_for(lambda: detector.reasons() == expected, timeout_s=10,
             what=f"reasons {expected} (last: {detector.reasons()})")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_the_psutil_path_finds_real_processes(
    platform: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    meeting = _program(tmp_path, "zoom-test-meeting")  # 17 characters: longer than the cut
    call = _program(tmp_path, "Teams-Test-Call.exe")  # how a Windows name looks

    detector = QuietAppsDetector.open(
        ["Zoom-Test-Meeting", "teams-test-call", "zoom"], platform=platform
    )
    assert detector.source == "psutil"
    assert detector.reasons() == ()

    spawned.append(subprocess.Popen([str(meeting), "600"]))
    _reasons_become(detector, ("app:zoom-test-meeting",))
    spawned.append(subprocess.Popen([str(call), "600"]))
    _reasons_become(detector, ("app:zoom-test-meeting", "app:teams-test-call"))

    spawned[0].kill()
    spawned[0].wait(timeout=10)
    _reasons_become(detector, ("app:teams-test-call",))
    detector.set_names([])
    assert detector.reasons() == ()


@pytest.mark.timeout(60)
def test_the_psutil_path_matches_a_name_the_kernel_cut(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    # argv[0] unrelated to the file name: psutil cannot widen the cut name from the command
    # line (as for another user's process), so only the prefix rule finds it.
    program = _program(tmp_path, "quiet-app-with-a-long-name")
    detector = QuietAppsDetector.open(["quiet-app-with-a-long-name"], platform="darwin")
    spawned.append(subprocess.Popen(["unrelated-argv0", "600"], executable=str(program)))
    _reasons_become(detector, ("app:quiet-app-with-a-long-name",))


def test_the_psutil_path_without_psutil_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # what a missing module looks like
    with pytest.raises(Unavailable, match=r"psutil is not installed .*pip install 'psutil>=5.9'"):
        QuietAppsDetector.open(["zoom"], platform="win32")


def test_linux_keeps_its_procfs_path(tmp_path: Path) -> None:
    assert QuietAppsDetector.open(["zoom"], platform="linux").source == "procfs"
    with pytest.raises(Unavailable, match="reads /proc on Linux only"):
        QuietAppsDetector.open(["zoom"], proc_root=str(tmp_path), platform="linux")


_FRESH = """
import json, sys
from psoas_break.adapters.quiet import make_quiet_detectors
detectors, choice = make_quiet_detectors(
    {{"PSOAS_QUIET_DETECTORS": "quiet-apps"}}, ["no-such-program-here"], platform={platform!r})
reasons = [d.reasons() for d in detectors]
print("RESULT=" + json.dumps({{"chosen": choice.chosen, "reasons": reasons,
                              "psutil": "psutil" in sys.modules}}))
"""


@pytest.mark.parametrize(("platform", "loads_psutil"), [("linux", False), ("darwin", True)])
def test_only_the_non_linux_path_imports_psutil(platform: str, loads_psutil: bool) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _FRESH.format(platform=platform)], cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT="))
    result = json.loads(line.removeprefix("RESULT="))
    assert result == {"chosen": "quiet-apps", "reasons": [[]], "psutil": loads_psutil}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_factory_off_linux_includes_quiet_apps_over_psutil(
    platform: str, tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    program = _program(tmp_path, "obs-test-stream")
    detectors, choice = make_quiet_detectors({}, ["obs-test-stream"], platform=platform)
    try:
        assert [d.name for d in detectors] == ["quiet-apps"]
        assert choice.chosen == "quiet-apps"
        rejected = dict(choice.rejected)
        for name in ("fullscreen-x11", "notifications-inhibited", "gnome-banners", "camera-v4l2",
                     "microphone-pulse", "microphone-pipewire", "screen-sharing-pipewire",
                     "camera-pipewire"):
            assert rejected[name] == "only on Linux/BSD"
        # camera-windows and microphone-windows: one consent-store detector; off Windows (this
        # machine, even when the platform says win32) it says so.
        assert rejected["camera-windows"] == rejected["microphone-windows"] == "only on Windows"
        if platform == "darwin":
            assert rejected["windows-state"] == "only on Windows"
            assert rejected["fullscreen-macos"].startswith("CoreGraphics cannot be loaded (")
            gap = rejected["macos"]
            assert "camera or microphone use" in gap and "Focus" in gap
        else:
            assert rejected["fullscreen-macos"] == "only on macOS"
            assert rejected["windows-state"] == "only on Windows"
            assert "macos" not in rejected
        assert quiet_reasons(detectors) == ()
        spawned.append(subprocess.Popen([str(program), "600"]))
        wait_for(lambda: quiet_reasons(detectors) == ("app:obs-test-stream",), timeout_s=10,
                 what="obs-test-stream through the factory's detector")
    finally:
        close_detectors(detectors)


def test_factory_on_linux_is_unchanged_and_rejects_the_macos_detector() -> None:
    detectors, choice = make_quiet_detectors({ENV_VAR: "quiet-apps, fullscreen-macos"},
                                             platform="linux")
    try:
        assert [d.name for d in detectors] == ["quiet-apps"]
        assert isinstance(detectors[0], QuietAppsDetector)
        assert detectors[0].source == "procfs"
        assert dict(choice.rejected)["fullscreen-macos"] == "only on macOS"
    finally:
        close_detectors(detectors)


# ---------------------------------------------------------------- macOS fullscreen: decision

MAIN = Rect(0, 0, 1440, 900)  # a MacBook Air's main display, in points
MENU_BAR = WindowInfo(MAIN_MENU_LAYER, Rect(0, 0, 1440, 25), owner_name="Window Server")
DOCK = WindowInfo(20, Rect(0, 830, 1440, 70), owner_name="Dock")
NOTCH = Rect(0, 0, 1512, 982)  # a 14" MacBook Pro with a camera housing
NOTCH_MENU_BAR = WindowInfo(MAIN_MENU_LAYER, Rect(0, 0, 1512, 38), owner_name="Window Server")


def app(x: float, y: float, w: float, h: float, *, layer: int = 0, alpha: float = 1.0,
        owner: str = "Safari") -> WindowInfo:
    return WindowInfo(layer, Rect(x, y, w, h), alpha=alpha, owner_name=owner, owner_pid=501)


def test_rect_geometry() -> None:
    assert covers(Rect(0, 0, 1440, 900), MAIN)
    assert covers(Rect(-0.5, 0.5, 1441, 899.5), MAIN)  # within the 1 pt tolerance
    assert covers(Rect(-20, -20, 1500, 1000), MAIN)  # larger than the display
    assert not covers(Rect(0, 25, 1440, 875), MAIN)  # starts under the menu bar
    assert not covers(Rect(0, 0, 1438, 900), MAIN)
    assert display_of(Rect(100, 100, 50, 50), [MAIN]) == MAIN
    assert display_of(Rect(5000, 5000, 10, 10), [MAIN]) is None


def test_native_fullscreen_on_a_single_display_is_fullscreen() -> None:
    # In a fullscreen Space the menu bar and the Dock are hidden: only the window is on screen.
    assert fullscreen_display([app(0, 0, 1440, 900)], [MAIN]) == MAIN


def test_a_zoomed_window_under_the_menu_bar_is_not_fullscreen() -> None:
    zoomed = app(0, 25, 1440, 805)  # between the menu bar and the Dock
    assert fullscreen_display([MENU_BAR, DOCK, zoomed], [MAIN]) is None
    zoomed_dock_hidden = app(0, 25, 1440, 875)  # reaches the bottom: still under a menu bar
    assert fullscreen_display([MENU_BAR, zoomed_dock_hidden], [MAIN]) is None
    assert fullscreen_display([app(200, 100, 800, 600)], [MAIN]) is None


def test_fullscreen_below_a_camera_housing_needs_the_menu_bar_gone() -> None:
    below_housing = app(0, 38, 1512, 944)  # content kept under the housing, menu bar hidden
    assert fullscreen_display([below_housing], [NOTCH]) == NOTCH
    # The same rectangle under a visible menu bar is a zoomed window with the Dock hidden.
    assert fullscreen_display([NOTCH_MENU_BAR, below_housing], [NOTCH]) is None
    # Too far below the top to be the housing's strip, or not reaching the bottom: no.
    assert fullscreen_display([app(0, 60, 1512, 922)], [NOTCH]) is None
    assert fullscreen_display([app(0, 38, 1512, 900)], [NOTCH]) is None
    assert fullscreen_display([app(10, 38, 1502, 944)], [NOTCH]) is None


def test_only_the_front_normal_window_counts() -> None:
    fullscreen_behind = app(0, 0, 1440, 900, owner="QuickTime Player")
    front = app(100, 100, 600, 400, owner="Mail")
    assert fullscreen_display([MENU_BAR, front, fullscreen_behind], [MAIN]) is None
    assert front_window([MENU_BAR, front, fullscreen_behind]) == front
    # Windows that are not the active app's front window are skipped on the way down:
    overlay = app(0, 0, 1440, 900, layer=25, owner="Some Overlay")  # status level: not normal
    invisible = app(0, 0, 1440, 900, alpha=0.0, owner="Dimmer")  # transparent: not seen
    server = app(0, 0, 1440, 900, owner="Window Server")
    empty = app(0, 0, 0, 0, owner="Finder")
    assert fullscreen_display([overlay, invisible, server, empty, front], [MAIN]) is None
    assert fullscreen_display([overlay, invisible, server, empty, fullscreen_behind],
                              [MAIN]) == MAIN
    assert front_window([overlay, invisible, server, empty]) is None
    assert fullscreen_display([], [MAIN]) is None
    assert fullscreen_display([app(0, 0, 1440, 900)], []) is None


def test_multiple_displays_use_each_displays_own_bounds_and_menu_bar() -> None:
    # An external 1920x1080 display to the right, its top 180 pt above the main one's,
    # and a third display above the main one (negative y in global coordinates).
    right = Rect(1440, -180, 1920, 1080)
    above = Rect(0, -1080 - 900, 1600, 900)
    displays = [MAIN, right, above]
    right_menu = WindowInfo(MAIN_MENU_LAYER, Rect(1440, -180, 1920, 25), owner_name="Window Server")

    assert fullscreen_display([MENU_BAR, app(1440, -180, 1920, 1080)], displays) == right
    assert fullscreen_display([app(0, -1980, 1600, 900)], displays) == above
    # Zoomed on the external display, under its own menu bar: not fullscreen.
    assert fullscreen_display([MENU_BAR, right_menu, app(1440, -155, 1920, 1055)],
                              displays) is None
    # The main display's menu bar does not make the external display "not fullscreen".
    assert fullscreen_display([MENU_BAR, app(1440, -142, 1920, 1042)], displays) == right
    assert menu_bar_shown([MENU_BAR], MAIN) and not menu_bar_shown([MENU_BAR], right)
    # A window filling the main display is not fullscreen on the external one, and one
    # straddling two displays belongs to the display holding its centre.
    assert fullscreen_display([app(0, 0, 1440, 900)], displays) == MAIN
    straddling = app(1000, 0, 1440, 900)
    assert display_of(straddling.bounds, displays) == right
    assert fullscreen_display([straddling], displays) is None


# ---------------------------------------------------------------- macOS fullscreen: detector


class FakeWindowServer:
    """A WindowSource: the test sets what the window server would list."""

    def __init__(self, windows: list[WindowInfo], displays: list[Rect]) -> None:
        self.window_list = windows
        self.display_list = displays
        self.fail = False

    def windows(self) -> list[WindowInfo]:
        if self.fail:
            raise OSError("window server unavailable")
        return list(self.window_list)

    def displays(self) -> list[Rect]:
        return list(self.display_list)


def test_detector_reasons_follow_the_window_server_and_never_raise() -> None:
    server = FakeWindowServer([MENU_BAR, app(100, 100, 600, 400)], [MAIN])
    detector = MacFullscreenDetector(server)
    assert detector.reasons() == ()
    server.window_list = [app(0, 0, 1440, 900, owner="Keynote")]
    assert detector.reasons() == ("fullscreen",)
    server.fail = True
    assert detector.reasons() == ()
    detector.close()


def test_factory_on_macos_wires_the_fullscreen_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeWindowServer([app(0, 0, 1440, 900)], [MAIN])
    monkeypatch.setattr(fm.CtypesQuartz, "load", classmethod(lambda cls: server))
    detectors, choice = make_quiet_detectors({ENV_VAR: "fullscreen-macos"}, platform="darwin")
    try:
        assert [d.name for d in detectors] == ["fullscreen-macos"]
        assert choice.chosen == "fullscreen-macos"
        assert quiet_reasons(detectors) == ("fullscreen",)
    finally:
        close_detectors(detectors)

    server.display_list = []  # no GUI session: no display
    detectors, choice = make_quiet_detectors({ENV_VAR: "fullscreen-macos"}, platform="darwin")
    assert detectors == []
    assert dict(choice.rejected)["fullscreen-macos"] == (
        "CoreGraphics reports no active display (no GUI session?)"
    )


# ------------------------------------------- macOS fullscreen: the ctypes layer over a C stand-in
#
# CtypesQuartz reads CFArray/CFDictionary/CFNumber values and CGRect structs (one returned by
# value from CGDisplayBounds, a classic ctypes pitfall). This C library stands in for
# CoreGraphics + CoreFoundation with the same symbols and signatures, serves a window list
# shaped like CGWindowListCopyWindowInfo's (front to back, with the keys as exported CFString
# globals) and checks the options, number types and releases it gets. It proves our side of the
# calls, not Apple's window server.

_FAKE_QUARTZ_SOURCE = r"""
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct { double x, y; } CGPoint;
typedef struct { double width, height; } CGSize;
typedef struct { CGPoint origin; CGSize size; } CGRect;

const void *kCGWindowLayer = "kCGWindowLayer";
const void *kCGWindowBounds = "kCGWindowBounds";
const void *kCGWindowAlpha = "kCGWindowAlpha";
const void *kCGWindowOwnerName = "kCGWindowOwnerName";
const void *kCGWindowOwnerPID = "kCGWindowOwnerPID";

enum { T_INT = 1, T_FLOAT = 2, T_RECT = 3, T_STRING = 4, T_ARRAY = 5, T_DICT = 6 };
typedef struct { int tag; int64_t i; double f; CGRect r; const char *s; } Value;
typedef struct { int tag; Value layer, bounds, alpha, owner, pid; bool has_owner; } Dict;
typedef struct { int tag; long count; Dict *items[8]; } Array;

static Dict windows[8];
static Array list = { T_ARRAY, 0, { 0 } };
static int copies, releases, errors;
static uint32_t display_ids[2] = { 69732928, 724062020 };

static void set_window(int i, int64_t layer, double x, double y, double w, double h,
                       double alpha, const char *owner) {
    Dict *d = &windows[i];
    d->tag = T_DICT;
    d->layer = (Value){ .tag = T_INT, .i = layer };
    d->bounds = (Value){ .tag = T_RECT, .r = { { x, y }, { w, h } } };
    d->alpha = (Value){ .tag = T_FLOAT, .f = alpha };
    d->owner = (Value){ .tag = T_STRING, .s = owner };
    d->has_owner = owner != NULL;
    d->pid = (Value){ .tag = T_INT, .i = 400 + i };
    list.items[i] = d;
}

/* 0: menu bar + Dock + a zoomed window; 1: a fullscreen window on the external display,
   behind a transparent full-screen overlay. */
void fake_scenario(int which) {
    memset(windows, 0, sizeof windows);
    if (which == 0) {
        set_window(0, 24, 0, 0, 1440, 25, 1.0, "Window Server");
        set_window(1, 20, 0, 830, 1440, 70, 1.0, "Dock");
        set_window(2, 0, 0, 25, 1440, 805, 1.0, "Safari");
        list.count = 3;
    } else {
        set_window(0, 0, 0, 0, 1440, 900, 0.0, "Dimmer");
        set_window(1, 0, 1440, -180, 1920, 1080, 1.0, NULL);
        list.count = 2;
    }
}

void *CGWindowListCopyWindowInfo(uint32_t option, uint32_t relative) {
    if (option != ((1u << 0) | (1u << 4)) || relative != 0) { errors++; return NULL; }
    copies++;
    return &list;
}

bool CGRectMakeWithDictionaryRepresentation(const Value *dict, CGRect *rect) {
    if (!dict || dict->tag != T_RECT || !rect) { errors++; return false; }
    *rect = dict->r;
    return true;
}

int32_t CGGetActiveDisplayList(uint32_t max, uint32_t *ids, uint32_t *count) {
    if (max < 2 || !ids || !count) { errors++; return 1001; }
    ids[0] = display_ids[0]; ids[1] = display_ids[1]; *count = 2;
    return 0;
}

CGRect CGDisplayBounds(uint32_t id) {
    if (id == display_ids[0]) return (CGRect){ { 0, 0 }, { 1440, 900 } };
    if (id == display_ids[1]) return (CGRect){ { 1440, -180 }, { 1920, 1080 } };
    errors++;
    return (CGRect){ { 0, 0 }, { 0, 0 } };
}

long CFArrayGetCount(const Array *array) {
    if (array != &list) { errors++; return 0; }
    return array->count;
}

const void *CFArrayGetValueAtIndex(const Array *array, long i) {
    if (array != &list || i < 0 || i >= array->count) { errors++; return NULL; }
    return array->items[i];
}

const void *CFDictionaryGetValue(const Dict *dict, const void *key) {
    if (!dict || dict->tag != T_DICT) { errors++; return NULL; }
    if (key == kCGWindowLayer) return &dict->layer;
    if (key == kCGWindowBounds) return &dict->bounds;
    if (key == kCGWindowAlpha) return &dict->alpha;
    if (key == kCGWindowOwnerPID) return &dict->pid;
    if (key == kCGWindowOwnerName) return dict->has_owner ? &dict->owner : NULL;
    errors++;  /* a key that is not one of the exported globals */
    return NULL;
}

bool CFNumberGetValue(const Value *number, int type, void *out) {
    if (!number || !out) { errors++; return false; }
    if (type == 4 && number->tag == T_INT) { *(int64_t *)out = number->i; return true; }
    if (type == 6 && number->tag == T_FLOAT) { *(double *)out = number->f; return true; }
    errors++;  /* kCFNumberSInt64Type = 4, kCFNumberFloat64Type = 6 only */
    return false;
}

bool CFStringGetCString(const Value *string, char *buffer, long size, uint32_t encoding) {
    if (!string || string->tag != T_STRING || encoding != 0x08000100 || size < 1) {
        errors++; return false;
    }
    strncpy(buffer, string->s, (size_t)size - 1);
    buffer[size - 1] = 0;
    return true;
}

void CFRelease(const void *ref) { if (ref == &list) releases++; else errors++; }

int fake_copies(void) { return copies; }
int fake_releases(void) { return releases; }
int fake_errors(void) { return errors; }
"""


@pytest.fixture(scope="module")
def fake_quartz(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The C stand-in for CoreGraphics + CoreFoundation, compiled and loaded once."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        message = "no C compiler (cc/gcc) to build the CoreGraphics stand-in"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("fakequartz")
    source = folder / "fakequartz.c"
    source.write_text(_FAKE_QUARTZ_SOURCE)
    library = folder / "libfakequartz.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", str(library),
                    str(source)], check=True, capture_output=True, timeout=120)
    return ctypes.CDLL(str(library))


def test_ctypes_quartz_layer_over_the_c_stand_in(fake_quartz: Any) -> None:
    lib = fake_quartz
    source = fm.CtypesQuartz(lib, lib)
    main, external = Rect(0, 0, 1440, 900), Rect(1440, -180, 1920, 1080)
    assert source.displays() == [main, external]  # CGRect returned by value, twice

    lib.fake_scenario(0)
    assert source.windows() == [
        WindowInfo(24, Rect(0, 0, 1440, 25), 1.0, "Window Server", 400),
        WindowInfo(20, Rect(0, 830, 1440, 70), 1.0, "Dock", 401),
        WindowInfo(0, Rect(0, 25, 1440, 805), 1.0, "Safari", 402),
    ]
    detector = MacFullscreenDetector(source)
    assert detector.reasons() == ()

    lib.fake_scenario(1)
    assert source.windows() == [
        WindowInfo(0, Rect(0, 0, 1440, 900), 0.0, "Dimmer", 400),
        WindowInfo(0, Rect(1440, -180, 1920, 1080), 1.0, "", 401),  # no owner name key
    ]
    assert detector.reasons() == ("fullscreen",)
    assert lib.fake_copies() == lib.fake_releases() == 4
    assert lib.fake_errors() == 0
