"""Windows: camera and microphone in use, from the CapabilityAccessManager consent store.

HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\CapabilityAccessManager\\ConsentStore has one
key per capability ("webcam", "microphone", ...), all with the same layout: a subkey per
packaged app, and NonPackaged\\<exe path with "#" for "\\"> for desktop apps, each with the QWORD
FILETIMEs LastUsedTimeStart and LastUsedTimeStop; while the app uses the capability,
LastUsedTimeStop is 0 (what the taskbar's privacy indicator shows; it stays "in use" while the
person is muted in the call app, which is still a call).

One detector class serves both, so one code path reads the store:
    camera-windows      ConsentStoreDetector("webcam", reason "camera")
    microphone-windows  ConsentStoreDetector("microphone", reason "microphone")
The walk over the keys is pure (`consent_entries` over any `ConsentKey`), tested with an
in-memory tree and a fake winreg module; only `_WinregKey` touches the registry. Written from
Microsoft's documented layout and checked on paper only: these tests run on Linux. Screen
sharing has no such store on Windows (not covered).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from psoas_break.ports import Unavailable

log = logging.getLogger(__name__)

CONSENT_STORE = r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore"
NON_PACKAGED = "NonPackaged"


def consent_key_path(capability: str) -> str:
    """The HKCU key of one capability: "webcam", "microphone"."""
    return f"{CONSENT_STORE}\\{capability}"


@dataclass(frozen=True)
class ConsentEntry:
    """One app's record: its subkey name and the two FILETIME values (None = absent)."""

    key: str
    packaged: bool
    last_used_start: int | None
    last_used_stop: int | None

    @property
    def in_use(self) -> bool:
        """Started and not stopped: Windows writes LastUsedTimeStop = 0 while in use."""
        return bool(self.last_used_start) and self.last_used_stop == 0

    @property
    def app_name(self) -> str:
        """"Zoom.exe" for "C:#Program Files#Zoom#bin#Zoom.exe"; "Microsoft.WindowsCamera"
        for "Microsoft.WindowsCamera_8wekyb3d8bbwe" (the package family without publisher)."""
        if self.packaged:
            return self.key.split("_", 1)[0]
        return self.key.replace("#", "\\").rsplit("\\", 1)[-1]


class ConsentKey(Protocol):
    """The little of a registry key the walk needs (winreg in use, a dict in tests)."""

    def subkeys(self) -> list[str]: ...

    def child(self, name: str) -> ConsentKey: ...

    def qword(self, name: str) -> int | None: ...


def consent_entries(capability: ConsentKey) -> list[ConsentEntry]:
    """Every readable app record under one capability's key (packaged and NonPackaged)."""
    entries: list[ConsentEntry] = []

    def record(parent: ConsentKey, name: str, packaged: bool) -> None:
        try:
            key = parent.child(name)
            entries.append(ConsentEntry(name, packaged, key.qword("LastUsedTimeStart"),
                                        key.qword("LastUsedTimeStop")))
        except OSError:
            log.debug("consent record %s unreadable", name, exc_info=True)

    for name in capability.subkeys():
        if name == NON_PACKAGED:
            try:
                non_packaged = capability.child(name)
                names = non_packaged.subkeys()
            except OSError:
                continue
            for exe in names:
                record(non_packaged, exe, False)
        else:
            record(capability, name, True)
    return entries


def apps_in_use(entries: Iterable[ConsentEntry], exclude: Iterable[str] = ()) -> list[str]:
    """Names of the apps using the capability now, minus `exclude` (case-insensitive)."""
    skip = {e.lower() for e in exclude}
    return [e.app_name for e in entries if e.in_use and e.app_name.lower() not in skip]


class _WinregKey:
    """ConsentKey over an open winreg key (Windows only)."""

    def __init__(self, winreg: Any, handle: Any) -> None:
        self._winreg = winreg
        self._handle = handle

    def subkeys(self) -> list[str]:
        names: list[str] = []
        index = 0
        while True:
            try:
                names.append(self._winreg.EnumKey(self._handle, index))
            except OSError:  # ERROR_NO_MORE_ITEMS
                return names
            index += 1

    def child(self, name: str) -> _WinregKey:
        return _WinregKey(self._winreg, self._winreg.OpenKey(self._handle, name))

    def qword(self, name: str) -> int | None:
        try:
            value, kind = self._winreg.QueryValueEx(self._handle, name)
        except OSError:
            return None
        return int(value) if kind == self._winreg.REG_QWORD else None

    def close(self) -> None:
        self._handle.Close()


class ConsentStoreDetector:
    """QuietDetector: an app other than psoas-break uses `capability` now (module docstring).
    `winreg` is the module (a fake in tests)."""

    def __init__(self, winreg: Any, capability: str, reason: str, name: str,
                 exclude: Iterable[str] = ()) -> None:
        self._winreg = winreg
        self._path = consent_key_path(capability)
        self.capability = capability
        self.reason = reason
        self.name = name
        self._exclude = tuple(exclude)

    @classmethod
    def open(cls, capability: str, reason: str, name: str, *, winreg: Any = None,
             exclude: Iterable[str] = ()) -> ConsentStoreDetector:
        """Raises Unavailable off Windows (unless a `winreg` is given) or when the key is
        missing (Windows before 10 1903)."""
        if winreg is None:
            if sys.platform != "win32":
                raise Unavailable("only on Windows")
            import winreg as system_winreg

            winreg = system_winreg
        try:
            winreg.OpenKey(winreg.HKEY_CURRENT_USER, consent_key_path(capability)).Close()
        except OSError:
            raise Unavailable(f"no {capability} consent store (needs Windows 10 1903 or "
                              "later)") from None
        return cls(winreg, capability, reason, name, exclude)

    def apps_in_use(self) -> list[str]:
        """Apps using the capability now."""
        winreg = self._winreg
        key = _WinregKey(winreg, winreg.OpenKey(winreg.HKEY_CURRENT_USER, self._path))
        try:
            return apps_in_use(consent_entries(key), self._exclude)
        finally:
            key.close()

    def reasons(self) -> tuple[str, ...]:
        """(reason,) when an app uses the capability now; never raises."""
        try:
            return (self.reason,) if self.apps_in_use() else ()
        except Exception:
            log.debug("%s consent store unreadable", self.capability, exc_info=True)
            return ()

    def close(self) -> None:
        """Nothing is kept open."""
