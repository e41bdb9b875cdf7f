"""macOS: screen lock and sleep — documented, not implemented.

What a watcher would use: the distributed notifications `com.apple.screenIsLocked` and
`com.apple.screenIsUnlocked` (NSDistributedNotificationCenter), and NSWorkspace's
`NSWorkspaceWillSleepNotification` / `NSWorkspaceDidWakeNotification` for sleep. Both need an
Objective-C observer on a running Cocoa run loop: pyobjc (not a dependency) or a ctypes
CFNotificationCenter observer whose callback runs on the run loop of the main thread, which
pystray's AppKit backend owns. Neither can be exercised here, so rather than ship untested
run-loop plumbing the macOS factory returns the null watcher, and the engine relies on:
- idle time (HIDIdleTime keeps growing while the screen is locked, since nobody types), and
- clock gaps: `adapters.clock` reads CLOCK_MONOTONIC_RAW - CLOCK_UPTIME_RAW, which grows by
  exactly the time asleep, so a long sleep is a natural break.

`lock_state_for_notification` is the mapping a future observer would apply.
"""

from __future__ import annotations

SCREEN_LOCKED = "com.apple.screenIsLocked"
SCREEN_UNLOCKED = "com.apple.screenIsUnlocked"
REASON = (
    "macOS lock/sleep notifications need a Cocoa run loop observer (pyobjc); not implemented: "
    "idle time and clock gaps cover locks and sleep"
)


def lock_state_for_notification(name: str) -> bool | None:
    """True for the screen-locked notification, False for unlocked, None for anything else."""
    if name == SCREEN_LOCKED:
        return True
    if name == SCREEN_UNLOCKED:
        return False
    return None
