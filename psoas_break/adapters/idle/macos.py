"""Idle time on macOS: `HIDIdleTime` of the IOHIDSystem service (nanoseconds since input).

Primary: IOKit through ctypes, in-process (IOServiceGetMatchingService +
IORegistryEntryCreateCFProperty), the service and the key kept for the life of the source.
Fallback when IOKit cannot be loaded through ctypes: run `/usr/sbin/ioreg -c IOHIDSystem -d 4`
once per poll and parse its text with `parse_ioreg_hid_idle_ns` (a subprocess per poll, so
only as a last resort; `doctor` shows which one is used).

ioreg prints one `"HIDIdleTime" = <decimal ns>` line per IOHIDSystem entry (some Macs list more
than one); the smallest value is the most recent input.
"""

from __future__ import annotations

import ctypes
import logging
import re
import subprocess
import sys
from typing import Any

from psoas_break.adapters.ffi import declare
from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

IOREG = "/usr/sbin/ioreg"
IOREG_ARGS = (IOREG, "-c", "IOHIDSystem", "-d", "4")
_HID_IDLE_RE = re.compile(r'"HIDIdleTime"\s*=\s*(\d+)')

_IOKIT = "/System/Library/Frameworks/IOKit.framework/IOKit"
_CF = "/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation"
_KCF_STRING_ENCODING_UTF8 = 0x08000100
_KCF_NUMBER_SINT64 = 4


def parse_ioreg_hid_idle_ns(text: str) -> int | None:
    """The smallest HIDIdleTime (ns) in `ioreg -c IOHIDSystem` output, or None if absent."""
    values = [int(m.group(1)) for m in _HID_IDLE_RE.finditer(text)]
    return min(values) if values else None


class MacIdleSource:
    """IdleSource over IOKit's HIDIdleTime property, via ctypes (no subprocess)."""

    name = "macos"
    # Declared here: mypy checks this module as Linux, where the code after the platform check
    # in __init__ is unreachable and the attributes would have no type.
    _iokit: Any
    _cf: Any
    _service: int
    _key: Any
    _number_type: int

    def __init__(self) -> None:
        if sys.platform != "darwin":
            raise Unavailable("only on macOS")
        try:
            self._iokit = ctypes.CDLL(_IOKIT)
            self._cf = ctypes.CDLL(_CF)
        except OSError as exc:
            raise Unavailable(f"IOKit cannot be loaded ({exc})") from None
        iokit, cf = self._iokit, self._cf
        vp, u32 = ctypes.c_void_p, ctypes.c_uint32
        declare(iokit, (  # (function, result, arguments)
            ("IOServiceMatching", vp, [ctypes.c_char_p]),
            ("IOServiceGetMatchingService", u32, [u32, vp]),
            ("IORegistryEntryCreateCFProperty", vp, [u32, vp, vp, u32]),
            ("IOObjectRelease", ctypes.c_int, [u32]),
        ))
        declare(cf, (
            ("CFStringCreateWithCString", vp, [vp, ctypes.c_char_p, u32]),
            ("CFNumberGetValue", ctypes.c_bool, [vp, ctypes.c_int, vp]),
            ("CFGetTypeID", ctypes.c_ulong, [vp]),
            ("CFNumberGetTypeID", ctypes.c_ulong, []),
            ("CFRelease", None, [vp]),
        ))
        # kIOMasterPortDefault / kIOMainPortDefault is 0 (MACH_PORT_NULL).
        matching = iokit.IOServiceMatching(b"IOHIDSystem")  # consumed by the next call
        self._service = iokit.IOServiceGetMatchingService(0, matching)
        if not self._service:
            raise Unavailable("no IOHIDSystem service in the IORegistry")
        self._key = cf.CFStringCreateWithCString(None, b"HIDIdleTime", _KCF_STRING_ENCODING_UTF8)
        self._number_type = cf.CFNumberGetTypeID()

    @classmethod
    def open(cls) -> MacIdleSource:
        """The source, checked with one read; raises Unavailable."""
        source = cls()
        if source.idle_seconds() is None:
            source.close()
            raise Unavailable("IOHIDSystem has no numeric HIDIdleTime")
        return source

    def idle_seconds(self) -> float | None:
        """Seconds since the last input (HIDIdleTime / 1e9), or None."""
        if not self._service:
            return None
        prop = self._iokit.IORegistryEntryCreateCFProperty(self._service, self._key, None, 0)
        if not prop:
            return None
        try:
            if self._cf.CFGetTypeID(prop) != self._number_type:
                return None
            value = ctypes.c_int64()
            if not self._cf.CFNumberGetValue(prop, _KCF_NUMBER_SINT64, ctypes.byref(value)):
                return None
            return max(0, value.value) / 1e9
        finally:
            self._cf.CFRelease(prop)

    def close(self) -> None:
        """Release the service and the key."""
        if self._service:
            self._iokit.IOObjectRelease(self._service)
            self._service = 0
        if self._key:
            self._cf.CFRelease(self._key)
            self._key = None


class IoregIdleSource:
    """Fallback IdleSource: one `ioreg` run per poll, parsed by `parse_ioreg_hid_idle_ns`."""

    name = "macos-ioreg"
    _timeout_s: float

    def __init__(self, timeout_s: float = 2.0) -> None:
        if sys.platform != "darwin":
            raise Unavailable("only on macOS")
        self._timeout_s = timeout_s

    @classmethod
    def open(cls) -> IoregIdleSource:
        """The source, checked with one run; raises Unavailable."""
        source = cls()
        if source.idle_seconds() is None:
            raise Unavailable(f"{IOREG} printed no HIDIdleTime")
        return source

    def idle_seconds(self) -> float | None:
        """Seconds since the last input, or None when ioreg fails or times out."""
        try:
            out = subprocess.run(
                IOREG_ARGS, capture_output=True, text=True, timeout=self._timeout_s, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("ioreg failed: %s", exc)
            return None
        idle_ns = parse_ioreg_hid_idle_ns(out)
        return None if idle_ns is None else idle_ns / 1e9

    def close(self) -> None:
        """Nothing to release."""
