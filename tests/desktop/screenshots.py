"""README pictures from the real app on the headless test desktop.

    python -m tests.desktop.screenshots [--out DIR]      (or `make screenshots`)

Writes into DIR (default icons/screenshots/):

- tray-states.png    the tray icon as docked in a real XEmbed tray (trayer), cropped and enlarged
                     4x (nearest neighbour: the real pixels), in five states, on a light and on a
                     dark panel: sitting (ring partly filled), stretch due, on a break, paused,
                     quiet (a due prompt held back by do-not-disturb);
- menu.png           the open GTK menu (pystray's gtk backend), cropped to the menu window;
- notification.png   the stretch prompt as Debian's real dunst draws it;
- exercise-page.png  the "Show this stretch" page the app wrote, rendered by headless Chromium;
- week.png           `psoas-break stats --png` on a realistic week, seeded by running the real
                     sitting engine through scripted days into the app's own SQLite history store.

How: a private Xvfb with private buses (`DesktopSession`), trayer, dunst, and the real app
(`start_app`, gtk tray backend, a "minute" shortened to MINUTE_S seconds). States come from the
app itself: the sitting time, a real prompt, dunst's do-not-disturb (`dunstctl set-paused`,
which the app reads as quiet), `psoas-break break-now` and `pause`. The light and dark panels
are two trayer instances started in turn (the icon re-docks in about 0.1 s); a growing ring
is captured light, dark, light again, and kept only when both light shots are identical. The
menu is opened by right-clicking the icon with xdotool (a left click is the default action,
"Take a break now"), "Show this stretch" is chosen with the keyboard, and the page the app then
opens is caught by a BROWSER script. Every capture waits for what it shows (a colour in the
icon, a window mapped) and is checked before it is saved. The app is run in English (LANGUAGE).

Needs, besides the test packages of `.ci/system-deps test` (xvfb, dbus, trayer, dunst, xdotool):
Debian's `chromium` (for exercise-page.png only; not in the test list because no test needs it):
`apt-get install chromium`. Missing programs are named in one line before anything starts
(exit 2). The run is bounded (TIME_LIMIT_S); every process it started is stopped at the end,
also on failure or timeout (the desktop session fails loudly if one survived).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageChops, ImageDraw, ImageFont
from Xlib.error import XError

from tests.app_harness import RunningApp, app_env, real_s, start_app
from tests.desktop.session import DesktopSession
from tests.desktop.waiting import wait_for

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "icons" / "screenshots"
TIME_LIMIT_S = 115
#: Seconds per app "minute": a 10-minute stretch cycle lasts 20 s, one ring step 1.7 s.
MINUTE_S = 2.0
APP_CONFIG = (
    "stretch_every_min = 10\n"
    "posture_every_min = 0\n"
    # Long enough that no state runs out (or a prompt repeats) while it is being captured.
    "break_min = 10\n"
    "snooze_min = 60\n"
)
#: README pictures are in English whatever the developer's locale (gettext reads LANGUAGE first).
ENGLISH = {"LANGUAGE": "en"}
LIGHT_TINT = "0xf0f0f0"
DARK_TINT = "0x2b2b2b"
ICON_SCALE = 4
MAX_PNG_BYTES = 300 * 1024
#: (program, Debian package) the script cannot do without.
REQUIRED = (
    ("Xvfb", "xvfb"), ("dbus-daemon", "dbus"), ("trayer", "trayer"), ("dunst", "dunst"),
    ("dunstctl", "dunst"), ("xdotool", "xdotool"), ("chromium", "chromium"),
)
#: The states of tray-states.png, left to right, with their captions.
STATES = (
    ("sitting", "sitting"),
    ("prompt_due", "stretch due"),
    ("on_break", "on a break"),
    ("paused", "paused"),
    ("quiet", "waiting for quiet"),
)
DUNSTRC = """\
[global]
    font = DejaVu Sans 10
    width = 380
    height = 300
    origin = top-right
    offset = 12x44
    frame_width = 1
    frame_color = "#9aa5b1"
    corner_radius = 8
    padding = 12
    horizontal_padding = 12
    text_icon_padding = 14
    min_icon_size = 96
    max_icon_size = 96
    icon_position = left
    show_indicators = no
    markup = full
    format = "<b>%s</b>\\n%b"
    word_wrap = yes
[urgency_low]
    background = "#fbfaf7"
    foreground = "#1e293b"
    timeout = 0
[urgency_normal]
    background = "#fbfaf7"
    foreground = "#1e293b"
    timeout = 0
[urgency_critical]
    background = "#fbfaf7"
    foreground = "#1e293b"
    frame_color = "#f08c00"
    timeout = 0
"""


class ScreenshotError(RuntimeError):
    """A capture did not show what it should; the message says what."""


# ---- a realistic week, through the real engine and the real history store ----

WEEK_TZ = ZoneInfo("Europe/Berlin")
#: The seeded week ends on this Friday afternoon (fixed, so the picture is reproducible).
WEEK_NOW = datetime(2026, 3, 13, 16, 20, tzinfo=WEEK_TZ)


@dataclass(frozen=True)
class _DayPlan:
    """One day at the desk: start and end (HH:MM), lunch, and how the prompts are answered."""

    start: str
    end: str
    lunch: tuple[str, int] | None  # (HH:MM, minutes away)
    meeting: tuple[str, int] | None  # away from the keyboard
    take: float  # chance a stretch prompt is answered with a break at once
    snooze: float  # chance it is snoozed (else skipped or left to repeat)


# Sat .. Fri: a short Saturday, Sunday off, a week that starts well and slips mid-week.
_WEEK_PLANS: dict[int, _DayPlan | None] = {
    5: _DayPlan("10:05", "11:40", None, None, 0.8, 0.1),
    6: None,
    0: _DayPlan("08:20", "17:35", ("12:30", 45), ("10:00", 25), 0.8, 0.1),
    1: _DayPlan("08:40", "18:10", ("12:50", 35), None, 0.55, 0.25),
    2: _DayPlan("08:10", "18:45", ("13:10", 25), ("15:00", 15), 0.35, 0.2),
    3: _DayPlan("08:30", "17:20", ("12:20", 50), ("11:00", 30), 0.75, 0.15),
    4: _DayPlan("08:35", "16:20", ("12:40", 40), None, 0.7, 0.15),
}


def _at(day: date, hhmm: str) -> datetime:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, tzinfo=WEEK_TZ)


@dataclass
class _SimClock:
    """The clocks of the simulated week: wall time, monotonic and slept seconds."""

    wall: datetime
    mono_s: float = 1000.0
    slept_s: float = 0.0

    def advance(self, minutes: float) -> None:
        self.mono_s += minutes * 60.0
        # Wall time moves in UTC: adding to a zoned datetime is local wall arithmetic.
        self.wall = (self.wall.astimezone(timezone.utc)
                     + timedelta(minutes=minutes)).astimezone(WEEK_TZ)


def seed_week(db_path: Path, now: datetime = WEEK_NOW, seed: int = 7) -> datetime:
    """Write the seven days ending at `now` into the history file `db_path`; return `now`.

    The real `SittingEngine` (default settings) is driven minute by minute through each planned
    day; a person answers its stretch prompts (break, snooze, skip, or let it repeat), goes to
    lunch and meetings (idle, so natural breaks), and closes the laptop at night (suspend).
    Every `RecordEvent` goes through `SqliteHistory`, as in the app. Deterministic for a seed.
    """
    from psoas_break.adapters.history.sqlite_history import SqliteHistory
    from psoas_break.core.commands import Skip, Snooze, TakeBreak
    from psoas_break.core.engine import SittingEngine
    from psoas_break.core.events import RecordEvent, ShowPrompt, Tick
    from psoas_break.core.settings import Settings

    rng = random.Random(seed)
    settings = Settings()
    engine = SittingEngine(settings)
    history = SqliteHistory(db_path)
    first_day = now.date() - timedelta(days=6)
    clock = _SimClock(_at(first_day, "00:00"))
    started = False

    def tick(idle_s: float, command: Any = None) -> list[Any]:
        t = Tick(clock.wall, clock.mono_s, idle_s, clock.slept_s)
        effects = engine.tick(t) if command is None else engine.command(command, t)
        for effect in effects:
            if isinstance(effect, RecordEvent):
                history.record(effect)
        return effects

    def can_snooze() -> bool:
        return engine.status().snoozes_in_row < settings.max_snoozes

    try:
        for offset in range(7):
            day = first_day + timedelta(days=offset)
            plan = _WEEK_PLANS[day.weekday()]
            if plan is None:
                continue
            begin = _at(day, plan.start)
            end = min(_at(day, plan.end), now)
            gap_min = (begin - clock.wall).total_seconds() / 60.0
            if started:
                # The laptop slept through the night: one suspend gap, a natural break.
                clock.slept_s += gap_min * 60.0
            clock.advance(gap_min)
            tick(0.0)
            started = True
            away: list[tuple[datetime, datetime]] = []
            for hhmm, minutes in (p for p in (plan.lunch, plan.meeting) if p):
                away.append((_at(day, hhmm), _at(day, hhmm) + timedelta(minutes=minutes)))
            idle_since: datetime | None = None
            answer_in: int | None = None
            while clock.wall < end:
                clock.advance(1)
                wall = clock.wall
                if any(a <= wall < b for a, b in away):
                    idle_since = idle_since or wall - timedelta(minutes=1)
                    tick((wall - idle_since).total_seconds())
                    continue
                idle_since = None
                effects = tick(float(rng.randint(0, 40)))
                for effect in effects:
                    if isinstance(effect, ShowPrompt) and effect.kind == "stretch":
                        # Most answers come within a few minutes of the prompt.
                        answer_in = rng.choice((0, 1, 1, 2, 4))
                if answer_in is not None and engine.state == "prompt_due":
                    if answer_in > 0:
                        answer_in -= 1
                        continue
                    answer_in = None
                    roll = rng.random()
                    if roll < plan.take:
                        tick(0.0, TakeBreak())
                    elif roll < plan.take + plan.snooze and can_snooze():
                        tick(0.0, Snooze())
                    elif roll < plan.take + plan.snooze + 0.1:
                        tick(0.0, Skip())
                    # else: left alone; the prompt repeats after snooze_min ("ignored")
    finally:
        history.close()
    return now


def write_week_chart(desktop: DesktopSession, out: Path) -> Path:
    """Seed a week into a fresh app home and draw it with the real `psoas-break stats --png`."""
    home = Path(tempfile.mkdtemp(prefix="week-", dir=desktop.env["HOME"]))
    env = app_env(desktop, home, ENGLISH)
    db = home / "data" / "psoas-break" / "history.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    now = seed_week(db)
    raw = home / "week.png"
    result = subprocess.run(
        [sys.executable, "-m", "psoas_break", "stats", "--png", str(raw), "--now",
         now.isoformat()],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )
    if result.returncode != 0 or not raw.exists():
        raise ScreenshotError(f"psoas-break stats --png failed: {result.stderr.strip()}")
    with Image.open(raw) as img:
        if img.size[0] < 600 or len(img.convert("RGB").getcolors(1 << 16) or ()) < 8:
            raise ScreenshotError(f"the week chart looks empty ({img.size})")
        return save_png(img, out / "week.png")


# ---- pictures ----


def save_png(img: Image.Image, path: Path) -> Path:
    """Save `img` as an optimised PNG under MAX_PNG_BYTES (palette-reduced if it must be)."""
    img = img.convert("RGB")
    img.save(path, "PNG", optimize=True)
    if path.stat().st_size > MAX_PNG_BYTES:
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                     dither=Image.Dither.NONE).save(path, "PNG", optimize=True)
    size = path.stat().st_size
    if size > MAX_PNG_BYTES:
        raise ScreenshotError(f"{path.name} is {size // 1024} KB (limit {MAX_PNG_BYTES // 1024})")
    log.info("wrote %s (%dx%d, %d KB)", path, img.width, img.height, size // 1024)
    return path


def _font(size_px: int, bold: bool = False) -> Any:
    names = ("DejaVuSans-Bold.ttf",) if bold else ("DejaVuSans.ttf",)
    for name in names:
        with contextlib.suppress(OSError):
            return ImageFont.truetype(name, size_px)
    return ImageFont.load_default(size_px)


def colour_pixels(img: Image.Image, colour: tuple[int, int, int], tol: int = 18) -> int:
    """How many pixels of `img` are within `tol` of `colour` on every channel."""
    rgb = img.convert("RGB")
    bands = []
    for band, value in zip(rgb.split(), colour, strict=True):
        bands.append(band.point(lambda v, c=value: 255 if abs(v - c) <= tol else 0))
    mask = ImageChops.multiply(ImageChops.multiply(bands[0], bands[1]), bands[2])
    return mask.histogram()[255]


def compose_tray_states(shots: dict[str, dict[str, Image.Image]], path: Path) -> Path:
    """One picture: a column per state, a row per panel (light, dark), each crop enlarged."""
    pad, gap, label_w, caption_h = 16, 12, 104, 26
    first = next(iter(shots["light"].values()))
    tile_w = first.width * ICON_SCALE + 24
    tile_h = first.height * ICON_SCALE + 24
    width = pad * 2 + label_w + len(STATES) * tile_w + (len(STATES) - 1) * gap
    height = pad * 2 + caption_h + 2 * tile_h + gap
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    text_font, caption_font = _font(14), _font(14, bold=True)
    ink = (0x33, 0x3d, 0x47)
    for col, (state, caption) in enumerate(STATES):
        x = pad + label_w + col * (tile_w + gap)
        draw.text((x + tile_w / 2, pad + caption_h / 2), caption, fill=ink, font=caption_font,
                  anchor="mm")
        for row, panel in enumerate(("light", "dark")):
            crop = shots[panel][state]
            y = pad + caption_h + row * (tile_h + gap)
            background = crop.getpixel((0, 0))
            draw.rounded_rectangle((x, y, x + tile_w - 1, y + tile_h - 1), radius=10,
                                   fill=background, outline=(0xd0, 0xd7, 0xde))
            big = crop.resize((crop.width * ICON_SCALE, crop.height * ICON_SCALE),
                              Image.Resampling.NEAREST)
            canvas.paste(big, (x + 12, y + 12))
    for row, panel in enumerate(("light panel", "dark panel")):
        middle = pad + caption_h + row * (tile_h + gap) + tile_h / 2
        draw.text((pad, middle), panel, fill=ink, font=text_font, anchor="lm")
    return save_png(canvas, path)


def trim_bottom(img: Image.Image, margin_px: int = 28) -> Image.Image:
    """Cut the empty page background below the last row with content (keeps `margin_px`)."""
    rgb = img.convert("RGB")
    background = rgb.getpixel((rgb.width - 1, rgb.height - 1))
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, background))
    box = diff.point(lambda v: 255 if v > 8 else 0).getbbox()
    if box is None:
        raise ScreenshotError("the page screenshot is blank")
    return rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + margin_px)))


# ---- X11: windows, boxes and grabs ----

# A window looked at may be destroyed, or not yet wholly on the screen, a moment later (a tray
# restarting, an icon re-docking): a wait treats these as "not yet".
_X_ERRORS: tuple[type[BaseException], ...] = (XError,)


@dataclass(frozen=True)
class Box:
    """A rectangle in root-window coordinates."""

    x: int
    y: int
    width: int
    height: int

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2


def _tree(window: Any) -> Iterator[Any]:
    for child in window.query_tree().children:
        yield child
        yield from _tree(child)


def _viewable(window: Any) -> bool:
    from Xlib import X

    return bool(window.get_attributes().map_state == X.IsViewable)


def _box(desktop: DesktopSession, window: Any) -> Box:
    root = desktop.x_display().screen().root
    geom = window.get_geometry()
    pos = root.translate_coords(window, 0, 0)
    return Box(int(pos.x), int(pos.y), int(geom.width), int(geom.height))


def _top_windows(desktop: DesktopSession) -> list[Any]:
    """Mapped children of the root window, bottom to top."""
    from Xlib import error as xerror

    found = []
    for window in desktop.x_display().screen().root.query_tree().children:
        with contextlib.suppress(xerror.XError):  # destroyed meanwhile
            if _viewable(window):
                found.append(window)
    return found


def _wm_class(window: Any) -> tuple[str, ...]:
    from Xlib import error as xerror

    with contextlib.suppress(xerror.XError):
        return tuple(window.get_wm_class() or ())
    return ()


def grab(desktop: DesktopSession, box: Box) -> Image.Image:
    """The screen's pixels inside `box` (what a person sees there now).

    Raises Xlib's BadMatch when `box` is not wholly on the screen (a window still moving in).
    """
    from Xlib import X

    root = desktop.x_display().screen().root
    raw = root.get_image(box.x, box.y, box.width, box.height, X.ZPixmap, 0xFFFFFFFF)
    data = raw.data if isinstance(raw.data, bytes) else bytes(raw.data, "latin-1")
    return Image.frombytes("RGB", (box.width, box.height), data, "raw", "BGRX")


def set_desktop_colour(desktop: DesktopSession, rgb: tuple[int, int, int]) -> None:
    """Paint the root window (Xvfb's is black): what shows round dunst's rounded corners."""
    display = desktop.x_display()
    root = display.screen().root
    root.change_attributes(background_pixel=(rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
    root.clear_area()
    display.flush()


def tray_slot(desktop: DesktopSession) -> Box | None:
    """The box of trayer's socket holding the docked icon, or None while nothing is docked."""
    from Xlib import error as xerror

    try:
        for window in _top_windows(desktop):
            if _wm_class(window)[-1:] != ("trayer",) or window.get_wm_name() != "panel":
                continue
            for socket in window.query_tree().children:
                geom = socket.get_geometry()
                if (geom.width >= 16 and _viewable(socket)
                        and socket.query_tree().children):
                    return _box(desktop, socket)
    except xerror.XError:
        return None  # a tray or an icon window went away while we looked
    return None


class Panels:
    """One XEmbed tray (trayer) at a time, light or dark; `switch()` swaps to the other."""

    def __init__(self, desktop: DesktopSession) -> None:
        self.desktop = desktop
        self.proc: subprocess.Popen[bytes] | None = None
        self.current = ""

    def show(self, panel: str) -> None:
        from tests.desktop import x11

        if self.proc is not None:
            self.desktop.stop(self.proc)
        tint = LIGHT_TINT if panel == "light" else DARK_TINT
        # trayer takes the last of repeated options: these override start_trayer's own.
        self.proc = x11.start_trayer(self.desktop, "--transparent", "true", "--alpha", "0",
                                     "--tint", tint)
        self.current = panel

    def switch(self) -> None:
        self.show("dark" if self.current == "light" else "light")


def settled_icon(desktop: DesktopSession, state: str, timeout_s: float = 10.0) -> Image.Image:
    """The docked icon once it shows `state`'s colour and two grabs 0.15 s apart agree."""
    from psoas_break.ui.icon import state_colour

    colour = state_colour(state)

    def look() -> Image.Image | None:
        box = tray_slot(desktop)
        if box is None:
            return None
        first = grab(desktop, box)
        if colour_pixels(first, colour) < 25:
            return None
        time.sleep(0.15)
        second = grab(desktop, box)
        return first if ImageChops.difference(first, second).getbbox() is None else None

    return wait_for(look, timeout_s, what=f"the tray icon showing {state}", ignore=_X_ERRORS)


def icon_on_both_panels(panels: Panels, state: str, growing: bool = False
                        ) -> dict[str, Image.Image]:
    """The icon in `state` on the current panel, then on the other one.

    growing=True (a sitting ring that fills as time passes): capture current, other, current
    again, and accept only when both shots on the first panel are identical, so the shot on
    the other panel, taken between them, shows the same ring.
    """
    for _attempt in range(6):
        first_panel = panels.current
        first = settled_icon(panels.desktop, state)
        panels.switch()
        second = settled_icon(panels.desktop, state)
        if not growing:
            return {first_panel: first, panels.current: second}
        panels.switch()
        again = settled_icon(panels.desktop, state)
        if ImageChops.difference(first, again).getbbox() is None:
            return {first_panel: first, ("dark" if first_panel == "light" else "light"): second}
    raise ScreenshotError(f"the {state} icon kept changing while the panels were swapped")


# ---- the app ----


def app_status(app: RunningApp) -> dict[str, Any]:
    import json

    result = app.cli("status", "--json")
    if result.returncode != 0:
        raise ScreenshotError(f"psoas-break status failed: {result.stderr.strip()}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def app_command(app: RunningApp, *args: str) -> None:
    result = app.cli(*args)
    if result.returncode != 0:
        raise ScreenshotError(f"psoas-break {' '.join(args)} failed: {result.stderr.strip()}")


def dunstctl(desktop: DesktopSession, *args: str) -> None:
    subprocess.run(["dunstctl", *args], env=desktop.env, check=True, capture_output=True,
                   timeout=10)


def dunst_window(desktop: DesktopSession) -> Box | None:
    for window in _top_windows(desktop):
        if "Dunst" in _wm_class(window):
            box = _box(desktop, window)
            if box.width > 40 and box.height > 20:
                return box
    return None


def settled(desktop: DesktopSession, find: Callable[[], Box | None], what: str,
            timeout_s: float = 10.0) -> Image.Image:
    """The pixels of the window `find` locates, once two grabs 0.2 s apart are the same."""

    def look() -> Image.Image | None:
        box = find()
        if box is None:
            return None
        first = grab(desktop, box)
        time.sleep(0.2)
        if find() != box:
            return None
        second = grab(desktop, box)
        return first if ImageChops.difference(first, second).getbbox() is None else None

    return wait_for(look, timeout_s, what=what, ignore=_X_ERRORS)


def open_menu(desktop: DesktopSession) -> Box:
    """Right-click the docked icon like a person; return the box of the menu that pops up."""
    before = {w.id for w in _top_windows(desktop)}
    slot = tray_slot(desktop)
    if slot is None:
        raise ScreenshotError("no icon docked in the tray to click")
    desktop.xdotool("mousemove", str(slot.centre[0]), str(slot.centre[1]))
    # A left click is the default action (Take a break now); the menu is on the right button.
    desktop.xdotool("click", "3")

    def popup() -> Box | None:
        for window in _top_windows(desktop):
            if window.id in before or "Dunst" in _wm_class(window):
                continue
            if window.get_attributes().override_redirect:
                box = _box(desktop, window)
                if box.width > 60 and box.height > 100:
                    return box
        return None

    return wait_for(popup, 10, what="the tray menu to pop up", ignore=_X_ERRORS)


def render_page(desktop: DesktopSession, url: str, out: Path) -> Path:
    """Screenshot `url` with headless Chromium (fresh profile, nothing from the network)."""
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=desktop.env["HOME"]))
    raw = profile / "page.png"
    argv = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile / 'data'}", "--hide-scrollbars",
        "--force-device-scale-factor=1", "--window-size=820,1500", f"--screenshot={raw}", url,
    ]
    proc = desktop.spawn(argv, name="chromium")
    try:
        proc.wait(45)
    except subprocess.TimeoutExpired:
        raise ScreenshotError("chromium did not finish the page screenshot in 45 s") from None
    finally:
        desktop.stop(proc)
    if not raw.exists():
        raise ScreenshotError(f"chromium wrote no screenshot: {desktop.log_text(proc)[-800:]}")
    with Image.open(raw) as img:
        return save_png(trim_bottom(img), out)


def capture_all(out: Path) -> list[Path]:
    """Bring up the desktop and the app, capture every picture into `out`; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with DesktopSession() as desktop:
        set_desktop_colour(desktop, (0xff, 0xff, 0xff))
        written.append(write_week_chart(desktop, out))
        panels = Panels(desktop)
        panels.show("light")
        rc = Path(desktop.env["HOME"]) / "dunstrc"
        rc.write_text(DUNSTRC)
        desktop.spawn(["dunst", "-config", str(rc)], name="dunst")
        desktop.bus().wait_for_name("org.freedesktop.Notifications", 10)
        # Do not disturb from the start: the first prompt is held back (the "quiet" icon).
        dunstctl(desktop, "set-paused", "true")
        opened = Path(desktop.env["HOME"]) / "opened.txt"
        browser = Path(desktop.env["HOME"]) / "browser.sh"
        browser.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
        browser.chmod(0o755)
        app = start_app(desktop, config=APP_CONFIG, extra_env={
            "PSOAS_SECONDS_PER_MINUTE": f"{MINUTE_S:g}",
            "PSOAS_TRAY_BACKEND": "gtk",
            "BROWSER": str(browser),
            **ENGLISH,
        })
        shots: dict[str, dict[str, Image.Image]] = {"light": {}, "dark": {}}

        def keep(state: str, pair: dict[str, Image.Image]) -> None:
            for panel, img in pair.items():
                shots[panel][state] = img

        try:
            if app_status(app).get("tray") != "gtk":
                raise ScreenshotError("the app did not use the gtk tray backend")
            cycle_s = 10 * MINUTE_S
            wait_for(lambda: real_s(app_status(app), "sitting_s") >= 0.55 * cycle_s, 2 * cycle_s,
                     interval_s=0.25, what="the ring to fill to about half")
            keep("sitting", icon_on_both_panels(panels, "sitting", growing=True))
            log.info("captured: sitting")

            wait_for(lambda: app_status(app)["state"] == "prompt_due", 2 * cycle_s,
                     interval_s=0.25, what="the stretch prompt to fall due")
            keep("quiet", icon_on_both_panels(panels, "quiet"))
            log.info("captured: quiet")

            dunstctl(desktop, "set-paused", "false")  # the held prompt is shown now
            note = settled(desktop, lambda: dunst_window(desktop), "dunst's notification")
            written.append(save_png(note, out / "notification.png"))
            keep("prompt_due", icon_on_both_panels(panels, "prompt_due"))

            menu_box = open_menu(desktop)
            menu = settled(desktop, lambda: menu_box, "the menu to finish drawing")
            written.append(save_png(menu, out / "menu.png"))
            # "Show this stretch": the fifth item that takes the keyboard focus (after Take a
            # break now, Snooze, Skip this break, Pause) while a prompt is due.
            desktop.xdotool("key", "--delay", "80", *["Down"] * 5, "Return")
            page_url = wait_for(
                lambda: next((u for u in (opened.read_text().split() if opened.exists() else ())
                              if "/pages/" in u and u.endswith(".html")), None),
                10, what="the app to open the exercise page")
            desktop.xdotool("mousemove", "20", "700")  # no tooltip over the icon

            app_command(app, "break-now")
            keep("on_break", icon_on_both_panels(panels, "on_break"))
            app_command(app, "pause", "30m")
            keep("paused", icon_on_both_panels(panels, "paused"))
            log.info("captured: every tray state")
        finally:
            app.stop()
        written.append(compose_tray_states(shots, out / "tray-states.png"))
        written.append(render_page(desktop, page_url, out / "exercise-page.png"))
    return written


# ---- command line ----


class _OutOfTime(BaseException):
    """The whole run took longer than TIME_LIMIT_S (a BaseException: no wait swallows it)."""


def missing_programs() -> list[str]:
    """Debian packages whose programs this script needs and cannot find."""
    return sorted({pkg for prog, pkg in REQUIRED if shutil.which(prog) is None})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.desktop.screenshots",
        description="Capture the README pictures from the real app on a headless desktop.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for the PNGs (default {DEFAULT_OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="screenshots: %(message)s")
    missing = missing_programs()
    if missing:
        print("screenshots: missing Debian packages: " + " ".join(missing)
              + "; install them with: apt-get install " + " ".join(missing), file=sys.stderr)
        return 2

    def out_of_time(_signum: int, _frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(TIME_LIMIT_S)
    started = time.monotonic()
    try:
        files = capture_all(args.out.resolve())
    except _OutOfTime:
        print(f"screenshots: gave up after {TIME_LIMIT_S} s (every process was stopped)",
              file=sys.stderr)
        return 1
    except (ScreenshotError, AssertionError) as exc:  # WaitTimeout is an AssertionError
        print(f"screenshots: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    print(f"screenshots: {len(files)} pictures in {args.out} "
          f"({time.monotonic() - started:.0f} s):")
    for path in files:
        print(f"  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
