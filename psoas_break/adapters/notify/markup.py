"""The body markup of freedesktop notifications (a small subset of HTML), escaped.

One function for both paths to a freedesktop server (dbus_notifier, plyer_notifier). Pure
Python, no D-Bus library: plyer's path also runs where jeepney is not installed.
"""

from __future__ import annotations


def escape_markup(text: str) -> str:
    """Escape the three characters that the notification body markup gives meaning to."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
