"""Quiet reason "fullscreen" on macOS: the front window covers a whole display.

macOS has no public call that says "another app is fullscreen": NSApplicationPresentationOptions
and NSWindow's styleMask describe only the calling app's own windows, and the Accessibility
attribute AXFullScreen needs the user to grant Accessibility permission. The best signal that
needs no permission and no PyObjC is Quartz Window Services, through ctypes:

- `CGWindowListCopyWindowInfo(kCGWindowListOptionOnScreenOnly |
  kCGWindowListExcludeDesktopElements, kCGNullWindowID)`: the on-screen windows of the current
  Spaces, ordered front to back, with layer, bounds, alpha and owner. Bounds, layer and owner
  need no Screen Recording permission (only window titles do, and they are not read).
- `CGGetActiveDisplayList` + `CGDisplayBounds`: every display's rectangle, in the same global
  coordinates (origin at the top left of the main display, y growing down).

The decision (`fullscreen_display`, pure, tested here):
1. the front window is the first visible (alpha > 0, non-empty) window at the normal level
   (layer 0), not owned by the Window Server or the Dock: the active app's front window;
2. it is fullscreen when it covers the whole display that holds its centre (1 pt tolerance;
   a window larger than the display counts), which a normal window cannot do while the menu
   bar is shown, since the system keeps windows below the menu bar;
3. or when it spans the display's width down to its bottom edge from no lower than
   MAX_TOP_INSET_PT under the top AND no menu bar (a layer-24 window at that display's top)
   is on screen: native fullscreen on a Mac with a camera housing keeps the content below the
   housing and hides the menu bar, while a zoomed window sits under a visible menu bar.

Limits (documented, not guessed around):
- A window zoomed to the whole display while the menu bar auto-hides (and the Dock too) looks
  exactly like fullscreen and counts as one.
- Presentations or games drawing in a window above the normal level (floating, overlay,
  screen-saver levels) are not seen: too many utilities park transparent overlays there.
- Only the front window counts: a fullscreen video on a second display while someone types on
  the first is not quiet (the same rule as X11's _NET_ACTIVE_WINDOW).
- Display capture (CGDisplayCapture by old games) and Stage Manager were not considered.

Seam: `MacFullscreenDetector` asks a `WindowSource`; `CtypesQuartz` is the thin ctypes
implementation. Both are tested on Linux (window lists shaped like the real ones; a C library
with the same symbols, tests/test_platform_quiet.py); what Apple's window server lists in each
situation is from its documentation.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from psoas_break.adapters.ffi import declare
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

REASON = "fullscreen"
NORMAL_LAYER = 0  # kCGNormalWindowLevel
MAIN_MENU_LAYER = 24  # kCGMainMenuWindowLevel: the menu bar
TOLERANCE_PT = 1.0
MAX_TOP_INSET_PT = 48.0  # menu bar height with a camera housing is about 37-38 pt
SYSTEM_OWNERS = frozenset({"Window Server", "Dock"})


@dataclass(frozen=True)
class Rect:
    """A rectangle in global display coordinates (points, y grows down)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def contains_point(self, px: float, py: float) -> bool:
        return self.x <= px < self.right and self.y <= py < self.bottom


@dataclass(frozen=True)
class WindowInfo:
    """The parts of one kCGWindow* dictionary the decision uses."""

    layer: int
    bounds: Rect
    alpha: float = 1.0
    owner_name: str = ""
    owner_pid: int = 0


def front_window(windows: Sequence[WindowInfo]) -> WindowInfo | None:
    """The first visible normal-level window that is not the system's own (front to back)."""
    for window in windows:
        if (window.layer == NORMAL_LAYER and window.alpha > 0.0
                and window.bounds.width > 0 and window.bounds.height > 0
                and window.owner_name not in SYSTEM_OWNERS):
            return window
    return None


def display_of(rect: Rect, displays: Sequence[Rect]) -> Rect | None:
    """The display holding the centre of `rect`, else the one it overlaps most, else None."""
    cx, cy = rect.x + rect.width / 2, rect.y + rect.height / 2
    for display in displays:
        if display.contains_point(cx, cy):
            return display
    best, best_area = None, 0.0
    for display in displays:
        w = min(rect.right, display.right) - max(rect.x, display.x)
        h = min(rect.bottom, display.bottom) - max(rect.y, display.y)
        if w > 0 and h > 0 and w * h > best_area:
            best, best_area = display, w * h
    return best


def covers(window: Rect, display: Rect, tolerance: float = TOLERANCE_PT) -> bool:
    """True when `window` covers all of `display` (within `tolerance` on each edge)."""
    return (window.x <= display.x + tolerance and window.y <= display.y + tolerance
            and window.right >= display.right - tolerance
            and window.bottom >= display.bottom - tolerance)


def menu_bar_shown(windows: Sequence[WindowInfo], display: Rect) -> bool:
    """True when a menu-bar-level window sits at the top edge of `display`."""
    for window in windows:
        b = window.bounds
        if (window.layer == MAIN_MENU_LAYER and window.alpha > 0.0
                and abs(b.y - display.y) <= TOLERANCE_PT
                and b.x < display.right and b.right > display.x):
            return True
    return False


def fullscreen_display(windows: Sequence[WindowInfo], displays: Sequence[Rect]) -> Rect | None:
    """The display the front window fills (see module docstring), or None. Pure."""
    window = front_window(windows)
    if window is None:
        return None
    display = display_of(window.bounds, displays)
    if display is None:
        return None
    b = window.bounds
    if covers(b, display):
        return display
    below_housing = (
        b.x <= display.x + TOLERANCE_PT and b.right >= display.right - TOLERANCE_PT
        and b.bottom >= display.bottom - TOLERANCE_PT
        and display.y <= b.y <= display.y + MAX_TOP_INSET_PT
    )
    if below_housing and not menu_bar_shown(windows, display):
        return display
    return None


class WindowSource(Protocol):
    """The seam: what the window server says now."""

    def windows(self) -> list[WindowInfo]: ...  # on-screen windows, front to back

    def displays(self) -> list[Rect]: ...  # every active display's bounds


class MacFullscreenDetector:
    """QuietDetector: ("fullscreen",) while the front window fills its display."""

    name = "fullscreen-macos"

    def __init__(self, source: WindowSource) -> None:
        self._source = source

    @classmethod
    def open(cls) -> MacFullscreenDetector:
        """Over the real window server; raises Unavailable when it cannot be asked."""
        source = CtypesQuartz.load()
        if not source.displays():
            raise Unavailable("CoreGraphics reports no active display (no GUI session?)")
        return cls(source)

    def reasons(self) -> tuple[str, ...]:
        """("fullscreen",) or (); never raises (a failed query counts as not quiet)."""
        try:
            found = fullscreen_display(self._source.windows(), self._source.displays())
        except Exception:
            log.debug("macOS window list failed", exc_info=True)
            return ()
        return (REASON,) if found is not None else ()

    def close(self) -> None:
        """Nothing is kept open."""


_CG = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
_CF = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_ON_SCREEN_ONLY = 1 << 0  # kCGWindowListOptionOnScreenOnly
_EXCLUDE_DESKTOP = 1 << 4  # kCGWindowListExcludeDesktopElements
_NULL_WINDOW_ID = 0
_KCF_NUMBER_SINT64 = 4
_KCF_NUMBER_FLOAT64 = 6
_KCF_STRING_ENCODING_UTF8 = 0x08000100
_MAX_DISPLAYS = 32


class _CGPoint(ctypes.Structure):
    _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double)]


class _CGSize(ctypes.Structure):
    _fields_ = [("width", ctypes.c_double), ("height", ctypes.c_double)]


class _CGRect(ctypes.Structure):
    _fields_ = [("origin", _CGPoint), ("size", _CGSize)]


def _rect(r: _CGRect) -> Rect:
    return Rect(r.origin.x, r.origin.y, r.size.width, r.size.height)


class CtypesQuartz:
    """WindowSource over CoreGraphics + CoreFoundation through ctypes (CGFloat = double)."""

    def __init__(self, cg: Any, cf: Any) -> None:
        vp, u32, long_, bool_ = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_long, ctypes.c_bool
        declare(cg, (  # (function, result, arguments); CGGetActiveDisplayList gives a CGError
            ("CGWindowListCopyWindowInfo", vp, [u32, u32]),
            ("CGRectMakeWithDictionaryRepresentation", bool_, [vp, ctypes.POINTER(_CGRect)]),
            ("CGGetActiveDisplayList", ctypes.c_int32, [u32, ctypes.POINTER(u32),
                                                        ctypes.POINTER(u32)]),
            ("CGDisplayBounds", _CGRect, [u32]),
        ))
        declare(cf, (
            ("CFArrayGetCount", long_, [vp]),
            ("CFArrayGetValueAtIndex", vp, [vp, long_]),
            ("CFDictionaryGetValue", vp, [vp, vp]),
            ("CFNumberGetValue", bool_, [vp, ctypes.c_int, vp]),
            ("CFStringGetCString", bool_, [vp, ctypes.c_char_p, long_, u32]),
            ("CFRelease", None, [vp]),
        ))
        self._cg, self._cf = cg, cf
        # The dictionary keys are CFStringRef globals exported by CoreGraphics.
        self._keys = {key: vp.in_dll(cg, key).value for key in (
            "kCGWindowLayer", "kCGWindowBounds", "kCGWindowAlpha", "kCGWindowOwnerName",
            "kCGWindowOwnerPID")}

    @classmethod
    def load(cls) -> CtypesQuartz:
        """Raises Unavailable when the frameworks or a symbol are missing."""
        try:
            return cls(ctypes.CDLL(_CG), ctypes.CDLL(_CF))
        except OSError as exc:
            raise Unavailable(f"CoreGraphics cannot be loaded ({exc})") from None
        except (AttributeError, ValueError) as exc:
            raise Unavailable(f"CoreGraphics lacks a needed symbol ({exc})") from None

    def displays(self) -> list[Rect]:
        ids = (ctypes.c_uint32 * _MAX_DISPLAYS)()
        count = ctypes.c_uint32(0)
        if self._cg.CGGetActiveDisplayList(_MAX_DISPLAYS, ids, ctypes.byref(count)) != 0:
            return []
        return [_rect(self._cg.CGDisplayBounds(ids[i])) for i in range(count.value)]

    def windows(self) -> list[WindowInfo]:
        array = self._cg.CGWindowListCopyWindowInfo(_ON_SCREEN_ONLY | _EXCLUDE_DESKTOP,
                                                    _NULL_WINDOW_ID)
        if not array:
            return []
        try:
            found = []
            for i in range(self._cf.CFArrayGetCount(array)):
                info = self._window(self._cf.CFArrayGetValueAtIndex(array, i))
                if info is not None:
                    found.append(info)
            return found
        finally:
            self._cf.CFRelease(array)  # the values inside follow the Get rule: not released

    def _window(self, entry: Any) -> WindowInfo | None:
        get = self._cf.CFDictionaryGetValue
        bounds_dict = get(entry, self._keys["kCGWindowBounds"])
        rect = _CGRect()
        if not bounds_dict or not self._cg.CGRectMakeWithDictionaryRepresentation(
                bounds_dict, ctypes.byref(rect)):
            return None
        layer = self._number(get(entry, self._keys["kCGWindowLayer"]), ctypes.c_int64())
        if layer is None:
            return None
        alpha = self._number(get(entry, self._keys["kCGWindowAlpha"]), ctypes.c_double())
        pid = self._number(get(entry, self._keys["kCGWindowOwnerPID"]), ctypes.c_int64())
        return WindowInfo(layer=int(layer), bounds=_rect(rect),
                          alpha=1.0 if alpha is None else alpha,
                          owner_name=self._text(get(entry, self._keys["kCGWindowOwnerName"])),
                          owner_pid=int(pid or 0))

    def _number(self, number: Any, value: ctypes.c_int64 | ctypes.c_double) -> float | None:
        """A CFNumber read as `value`'s type (SInt64 or Float64), None when absent."""
        kind = _KCF_NUMBER_FLOAT64 if isinstance(value, ctypes.c_double) else _KCF_NUMBER_SINT64
        if not number or not self._cf.CFNumberGetValue(number, kind, ctypes.byref(value)):
            return None
        return value.value

    def _text(self, string: Any) -> str:
        if not string:
            return ""
        buffer = ctypes.create_string_buffer(512)
        if not self._cf.CFStringGetCString(string, buffer, len(buffer),
                                           _KCF_STRING_ENCODING_UTF8):
            return ""
        return buffer.value.decode("utf-8", errors="replace")
