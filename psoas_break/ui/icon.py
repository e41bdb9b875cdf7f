"""Draws the tray icon: a ring that fills with sitting time, coloured by state.

Every shape has a thin dark edge and a light halo so it reads on light and dark panels alike.
Drawn in plain Python, each pixel from the shapes' geometry with anti-aliased edges (how much
of the pixel a shape covers), at each size asked for (crisper than scaling one picture). So the
sni tray, which sends pixels over D-Bus (`IconArt.argb`), needs no Pillow at all (3 MiB, a
tenth of a tray app at rest), and where Pillow is used (pystray's other backends), its
ImageDraw is not (it loads ImageFont with FreeType and HarfBuzz for circles and lines). A 64 px
icon takes ~4 ms; the last few looks are cached.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from psoas_break.core.tray_view import ICON_FILL_STEPS, IconLook

if TYPE_CHECKING:
    from PIL.Image import Image

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]

# Colours per state: (ring, centre). Chosen for contrast on both light and dark panels.
COLOURS: dict[str, tuple[RGB, RGB]] = {
    "sitting": ((0x1F, 0xA1, 0x87), (0x1F, 0xA1, 0x87)),  # teal
    "prompt_due": ((0xF0, 0x8C, 0x00), (0xF0, 0x8C, 0x00)),  # amber: attention
    "on_break": ((0x2E, 0x9E, 0x4F), (0x2E, 0x9E, 0x4F)),  # green
    "away": ((0x3D, 0x7B, 0xD9), (0x3D, 0x7B, 0xD9)),  # blue
    "paused": ((0x8A, 0x8F, 0x98), (0x8A, 0x8F, 0x98)),  # grey
    "quiet": ((0x8E, 0x6B, 0xC9), (0x8E, 0x6B, 0xC9)),  # violet
}
TRACK: RGBA = (0x80, 0x80, 0x80, 110)
EDGE: RGBA = (0x10, 0x10, 0x10, 200)
HALO: RGBA = (0xFF, 0xFF, 0xFF, 150)
WHITE: RGBA = (0xFF, 0xFF, 0xFF, 255)
APP_LOOK = IconLook("sitting", ICON_FILL_STEPS * 2 // 3)

#: How much of the pixel at (dx, dy) from the centre, d away, a shape covers (0..1).
Coverage = Callable[[float, float, float], float]
#: A shape: its colour, the radii between which it may cover anything, and its coverage.
Shape = tuple[RGBA, float, float, Coverage]


def state_colour(state: str) -> RGB:
    return COLOURS.get(state, COLOURS["sitting"])[0]


def _clamp(value: float) -> float:
    return 0.0 if value <= 0.0 else 1.0 if value >= 1.0 else value


def _band(colour: RGBA, outer: float, width: float) -> Shape:
    """A ring from radius `outer` inwards by `width` (a disc when width >= outer)."""
    inner = outer - width

    def cover(_dx: float, _dy: float, d: float) -> float:
        out = outer - d + 0.5
        k = 0.0 if out <= 0.0 else 1.0 if out >= 1.0 else out
        if inner > 0:
            k = min(k, _clamp(d - inner + 0.5))
        return k

    return colour, inner - 0.5, outer + 0.5, cover


def _arc(band: Shape, fraction: float) -> Shape:
    """`band` cut to the part swept clockwise from 12 o'clock by `fraction` of a turn."""
    colour, low, high, inside = band
    sweep = 2 * math.pi * fraction

    def cover(dx: float, dy: float, d: float) -> float:
        k = inside(dx, dy, d)
        if not k:
            return 0.0
        angle = math.atan2(dx, -dy) % (2 * math.pi)  # 0 at 12 o'clock, clockwise on screen
        # Distance to the nearer cut, along the circle, in pixels: soft edges at both ends.
        to_start = (angle if angle <= sweep else angle - 2 * math.pi) * d
        return k * min(_clamp(to_start + 0.5), _clamp((sweep - angle) * d + 0.5))

    return (colour, low, high, cover) if fraction < 1.0 else band


def _stroke(colour: RGBA, points: tuple[tuple[float, float], ...], width: float,
            round_joints: bool = False) -> Shape:
    """A polyline `width` wide (points from the centre) with flat ends, round at the inner
    joints if `round_joints`."""
    half = width / 2
    segments = list(zip(points, points[1:], strict=False))
    last = len(segments) - 1

    def cover(x: float, y: float, _d: float) -> float:
        best = 0.0
        for i, ((x0, y0), (x1, y1)) in enumerate(segments):
            vx, vy = x1 - x0, y1 - y0
            length = math.hypot(vx, vy)
            along = ((x - x0) * vx + (y - y0) * vy) / length
            across = abs((x - x0) * vy - (y - y0) * vx) / length
            ends = 1.0
            if along < 0 and round_joints and i > 0:
                across = math.hypot(x - x0, y - y0)  # round joint
            elif along > length and round_joints and i < last:
                across = math.hypot(x - x1, y - y1)
            else:
                ends = _clamp(along + 0.5) * _clamp(length - along + 0.5)  # flat ends
            best = max(best, _clamp(half - across + 0.5) * ends)
        return best

    reach = max(math.hypot(x, y) for x, y in points) + half + 1
    return colour, 0.0, reach, cover


def _shapes(look: IconLook, size: int) -> list[Shape]:
    """The icon's shapes, bottom first, centred on the icon's centre. Sizes follow the design
    once drawn at 4x, so the widths (whole pixels at 4x, at least 1 or 2) look as they did."""
    s = size * 4.0
    ring = (*state_colour(look.state), 255)
    outer = size / 2 - 0.06 * size  # the disc's edge
    track_outer = size / 2 - 0.075 * size
    track_w = max(8, int(s * 0.16)) / 4
    r = 0.22 * size
    glyph_w = max(4, int(s * 0.05)) / 4
    shapes = [_band(HALO, outer, max(4, int(s * 0.03)) / 4),
              _band(TRACK, track_outer, track_w)]
    fraction = 1.0 if look.state != "sitting" else look.fill_steps / ICON_FILL_STEPS
    if fraction > 0:
        shapes.append(_arc(_band(ring, track_outer, track_w), fraction))
    shapes += [_band(ring, r, r), _band(EDGE, r, max(4, int(s * 0.02)) / 4)]
    if look.state == "paused":
        shapes += [_stroke(WHITE, ((dx * r, -r * 0.5), (dx * r, r * 0.5)), glyph_w)
                   for dx in (-0.35, 0.35)]
    elif look.state == "prompt_due":
        dot = glyph_w * 0.7
        shapes += [_stroke(WHITE, ((0, -r * 0.6), (0, r * 0.15)), glyph_w),
                   _dot(WHITE, r * 0.35 + dot, dot)]
    elif look.state == "on_break":
        shapes.append(_stroke(WHITE, ((-r * 0.5, 0), (-r * 0.1, r * 0.4), (r * 0.55, -r * 0.4)),
                              glyph_w, True))
    shapes.append(_band(EDGE, outer, max(2, int(s * 0.012)) / 4))
    return shapes


def _dot(colour: RGBA, below: float, radius: float) -> Shape:
    """A disc of `radius` centred `below` pixels under the icon's centre."""
    def cover(dx: float, dy: float, _d: float) -> float:
        return _clamp(radius - math.hypot(dx, dy - below) + 0.5)

    return colour, 0.0, below + radius + 1, cover


@lru_cache(maxsize=36)  # a few looks at the six tray sizes: a look takes ~10 ms to draw
def icon_rgba(look: IconLook, size_px: int = 64) -> bytes:
    """The icon for `look` at `size_px` square: RGBA bytes, row by row (not premultiplied)."""
    # Each shape paints over what is below in proportion to its coverage (premultiplied).
    shapes = [((r * a / 255, g * a / 255, b * a / 255, a), low, high, cover)
              for (r, g, b, a), low, high, cover in _shapes(look, size_px)]
    limit = max(high for _, _, high, _ in shapes)  # nothing is drawn outside the disc
    centre = size_px / 2
    out = bytearray(size_px * size_px * 4)
    for y in range(size_px):
        dy = y + 0.5 - centre
        for x in range(size_px):
            dx = x + 0.5 - centre
            d = math.sqrt(dx * dx + dy * dy)
            if d > limit:
                continue
            pr = pg = pb = pa = 0.0
            for (cr, cg, cb, ca), low, high, cover in shapes:
                if low <= d <= high:
                    k = cover(dx, dy, d)
                    if k:
                        pr += (cr - pr) * k
                        pg += (cg - pg) * k
                        pb += (cb - pb) * k
                        pa += (ca - pa) * k
            if pa > 0:
                i = (y * size_px + x) * 4
                out[i:i + 4] = bytes((round(pr * 255 / pa), round(pg * 255 / pa),
                                      round(pb * 255 / pa), round(pa)))
    return bytes(out)


def argb(rgba: bytes) -> bytes:
    """RGBA pixels as ARGB32 big-endian (A, R, G, B bytes), StatusNotifierItem's IconPixmap."""
    out = bytearray(len(rgba))
    out[0::4], out[1::4], out[2::4], out[3::4] = rgba[3::4], rgba[0::4], rgba[1::4], rgba[2::4]
    return bytes(out)


class IconArt:
    """The icon of one look at any size, without Pillow: what the sni tray's `icon` holds."""

    def __init__(self, look: IconLook) -> None:
        self.look = look

    def argb(self, size_px: int) -> bytes:
        return argb(icon_rgba(self.look, size_px))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IconArt) and other.look == self.look

    def __hash__(self) -> int:
        return hash(self.look)


@lru_cache(maxsize=16)
def render_icon(look: IconLook, size_px: int = 64) -> Image:
    """The icon for `look` at `size_px` square as a Pillow RGBA image (pystray's backends)."""
    from PIL import Image

    return Image.frombytes("RGBA", (size_px, size_px), icon_rgba(look, size_px))


def app_icon(size_px: int = 256) -> bytes:
    """The application icon (menus, notifications, About) as PNG file bytes: a sitting-state
    ring two-thirds full."""
    return png_bytes(icon_rgba(APP_LOOK, size_px), size_px)


def png_bytes(rgba: bytes, size_px: int) -> bytes:
    """Square RGBA pixels as PNG file bytes (Pillow's save would load every format plugin it
    has, 1.8 MiB for the life of the process, to write one small file)."""
    row = size_px * 4
    rows = b"".join(b"\0" + rgba[y * row:(y + 1) * row] for y in range(size_px))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size_px, size_px, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
