"""What works on which desktop, and what was tested for real: the matrix `doctor` and the README
show (tests/test_desktop_matrix.py checks the README's copy and that every named test exists).

A cell is "tested" only when a test in tests/ ran the feature against the real component on the
test machines (Debian 12, headless: Xvfb, mutter 43, kwin_wayland 5.27, sway 1.7); otherwise it
says why not (and what stands in for it, usually a fake service written from the specs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DESKTOPS = ("GNOME Wayland", "KDE Wayland", "wlroots Wayland", "X11")
FEATURES = ("idle", "lock", "sleep", "fullscreen/quiet", "tray")

NO_LOGIND = ("not tested for real: no systemd-logind on the test machines (a fake logind on a "
             "private system bus stands in)")
NO_SHELL_TRAY = ("not tested on this shell: it does not run headless here; the same item is "
                 "tested with waybar on sway and xfce4-panel (tests/test_tray_panels.py) and "
                 "property by property in tests/test_tray_sni.py")


@dataclass(frozen=True)
class Cell:
    """What the app uses (`uses`), and the test that ran it for real, or why none did."""

    uses: str
    test: str | None = None
    not_tested: str | None = None

    def line(self) -> str:
        return f"{self.uses} — tested: {self.test}" if self.test else (
            f"{self.uses} — {self.not_tested}")


MATRIX: dict[tuple[str, str], Cell] = {
    ("GNOME Wayland", "idle"): Cell(
        "Mutter IdleMonitor watches (no polling)",
        "tests/test_app_wayland_mutter.py::test_untouched_is_a_natural_break"),
    ("GNOME Wayland", "lock"): Cell(
        "org.gnome.ScreenSaver ActiveChanged, logind Lock/LockedHint",
        not_tested="not tested for real: gnome-shell exports org.gnome.ScreenSaver only with "
                   "GDM and logind (a fake screensaver service stands in)"),
    ("GNOME Wayland", "sleep"): Cell("logind PrepareForSleep", not_tested=NO_LOGIND),
    ("GNOME Wayland", "fullscreen/quiet"): Cell(
        "no sanctioned fullscreen signal (doctor says so); do-not-disturb from GNOME's banner "
        "setting",
        "tests/test_wayland_quiet.py::test_on_gnome_wayland_doctor_says_there_is_no_sanctioned_way"),
    ("GNOME Wayland", "tray"): Cell("StatusNotifierItem (needs the AppIndicator extension)",
                                    not_tested=NO_SHELL_TRAY),
    ("KDE Wayland", "idle"): Cell(
        "ext-idle-notify-v1 from KWin (org_kde_kwin_idle before 5.27)",
        "tests/test_app_wayland_kwin.py::test_untouched_is_a_natural_break"),
    ("KDE Wayland", "lock"): Cell(
        "org.freedesktop.ScreenSaver ActiveChanged from KWin's locker (locking; unlocking "
        "needs its greeter), logind",
        "tests/test_app_wayland_kwin.py::test_kwin_locking_the_screen_is_a_natural_break"),
    ("KDE Wayland", "sleep"): Cell("logind PrepareForSleep", not_tested=NO_LOGIND),
    ("KDE Wayland", "fullscreen/quiet"): Cell(
        "a KWin script reports the active window's fullscreen; do-not-disturb from the "
        "notification server",
        "tests/test_app_wayland_kwin.py::"
        "test_a_fullscreen_window_holds_the_prompt_and_leaving_it_releases_one"),
    ("KDE Wayland", "tray"): Cell("StatusNotifierItem (plasmashell)", not_tested=NO_SHELL_TRAY),
    ("wlroots Wayland", "idle"): Cell(
        "ext-idle-notify-v1 (sway >= 1.8, Hyprland, labwc, niri), else org_kde_kwin_idle "
        "(sway 1.7)",
        "tests/test_app_wayland_sway.py::test_untouched_is_a_natural_break"),
    ("wlroots Wayland", "lock"): Cell(
        "logind Lock/LockedHint (swaylock has no D-Bus signal)",
        not_tested="not tested for real: no systemd-logind on the test machines (a fake logind "
                   "stands in)"),
    ("wlroots Wayland", "sleep"): Cell("logind PrepareForSleep", not_tested=NO_LOGIND),
    ("wlroots Wayland", "fullscreen/quiet"): Cell(
        "wlr-foreign-toplevel-management; do-not-disturb from the notification server",
        "tests/test_app_wayland_sway.py::"
        "test_a_fullscreen_window_holds_the_prompt_and_leaving_it_releases_one"),
    ("wlroots Wayland", "tray"): Cell(
        "StatusNotifierItem (waybar, swaybar)",
        "tests/test_tray_panels.py::test_waybar_on_sway_shows_the_item_without_x"),
    ("X11", "idle"): Cell("XScreenSaver (Xvfb)",
                          "tests/test_app_natural_breaks.py::"
                          "test_x11_idle_untouched_is_a_natural_break"),
    ("X11", "lock"): Cell(
        "screensaver ActiveChanged, logind Lock/LockedHint",
        not_tested="not tested for real: no screen locker service on the test machines (fake "
                   "screensaver and logind services stand in)"),
    ("X11", "sleep"): Cell("logind PrepareForSleep", not_tested=NO_LOGIND),
    ("X11", "fullscreen/quiet"): Cell(
        "_NET_WM_STATE_FULLSCREEN of the active window (openbox); do-not-disturb",
        "tests/test_app_quiet.py::test_fullscreen_defers_and_leaving_it_delivers_exactly_one"),
    ("X11", "tray"): Cell(
        "StatusNotifierItem where a panel hosts one (xfce4-panel, KDE, MATE, Cinnamon); XEmbed "
        "(gtk, xorg) for XEmbed-only trays (also tested: "
        "tests/test_tray_xembed.py::test_gtk_icon_docks_in_trayer_and_is_visible)",
        "tests/test_tray_panels.py::test_xfce_panel_draws_the_icon_and_clicks_reach_the_app"),
}


def desktop_of(env: Mapping[str, str]) -> str:
    """The matrix row for this session (another Wayland compositor counts as wlroots: the
    protocols it offers are what matters)."""
    from psoas_break.adapters.idle import is_wayland_session

    if not is_wayland_session(env):
        return "X11"
    names = [n.strip().upper() for n in env.get("XDG_CURRENT_DESKTOP", "").split(":")]
    if "GNOME" in names:
        return "GNOME Wayland"
    if "KDE" in names:
        return "KDE Wayland"
    return "wlroots Wayland"


def markdown() -> str:
    """The README's copy: a table of what is used where, then each cell's test or reason."""
    rows = ["| | " + " | ".join(DESKTOPS) + " |", "|---" * (len(DESKTOPS) + 1) + "|"]
    for feature in FEATURES:
        cells = [("✅ " if MATRIX[(d, feature)].test else "⬜ ") + MATRIX[(d, feature)].uses
                 for d in DESKTOPS]
        rows.append(f"| {feature} | " + " | ".join(cells) + " |")
    rows += ["", "✅ tested against the real component on the test machines; ⬜ not tested "
             "for real. Each cell:", ""]
    for desktop in DESKTOPS:
        for feature in FEATURES:
            cell = MATRIX[(desktop, feature)]
            proof = f"`{cell.test}`" if cell.test else cell.not_tested
            rows.append(f"- {desktop}, {feature}: {proof}")
    return "\n".join(rows)
