"""Draws the tray icon with Pillow: a ring that fills with sitting time, coloured by state.

Drawn at 4x and downsampled, so it is crisp from 16 to 64 px (and HiDPI). Every shape has a
thin dark edge and a light halo so it reads on light and dark panels alike.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw

from psoas_break.core.tray_view import ICON_FILL_STEPS, IconLook

# Colours per state: (ring, centre). Chosen for contrast on both light and dark panels.
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "sitting": ((0x1F, 0xA1, 0x87), (0x1F, 0xA1, 0x87)),  # teal
    "prompt_due": ((0xF0, 0x8C, 0x00), (0xF0, 0x8C, 0x00)),  # amber: attention
    "on_break": ((0x2E, 0x9E, 0x4F), (0x2E, 0x9E, 0x4F)),  # green
    "away": ((0x3D, 0x7B, 0xD9), (0x3D, 0x7B, 0xD9)),  # blue
    "paused": ((0x8A, 0x8F, 0x98), (0x8A, 0x8F, 0x98)),  # grey
    "quiet": ((0x8E, 0x6B, 0xC9), (0x8E, 0x6B, 0xC9)),  # violet
}
TRACK = (0x80, 0x80, 0x80, 110)
EDGE = (0x10, 0x10, 0x10, 200)
HALO = (0xFF, 0xFF, 0xFF, 150)
WHITE = (0xFF, 0xFF, 0xFF, 255)


def state_colour(state: str) -> tuple[int, int, int]:
    return COLOURS.get(state, COLOURS["sitting"])[0]


@lru_cache(maxsize=64)
def render_icon(look: IconLook, size_px: int = 64) -> Image.Image:
    """The icon for `look` at `size_px` square, RGBA. Cached: looks repeat all day."""
    scale = 4
    s = size_px * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ring_rgb = state_colour(look.state)
    ring = (*ring_rgb, 255)
    pad = s * 0.06
    width = max(scale * 2, int(s * 0.16))
    box = (pad, pad, s - pad, s - pad)
    # Halo then edge around the whole disc, for light and dark panels.
    draw.ellipse(box, fill=None, outline=HALO, width=max(scale, int(s * 0.03)))
    inner = pad + s * 0.015
    box_in = (inner, inner, s - inner, s - inner)
    draw.ellipse(box_in, fill=None, outline=TRACK, width=width)
    fraction = look.fill_steps / ICON_FILL_STEPS
    if look.state != "sitting":
        fraction = 1.0
    if fraction > 0:
        draw.arc(box_in, start=-90, end=-90 + 360 * fraction, fill=ring, width=width)
    # Centre disc with a glyph per state.
    c = s / 2
    r = s * 0.22
    centre = (c - r, c - r, c + r, c + r)
    draw.ellipse(centre, fill=ring, outline=EDGE, width=max(scale, int(s * 0.02)))
    glyph_w = max(scale, int(s * 0.05))
    if look.state == "paused":
        for dx in (-0.35, 0.35):
            x = c + dx * r
            draw.line((x, c - r * 0.5, x, c + r * 0.5), fill=WHITE, width=glyph_w)
    elif look.state == "prompt_due":
        draw.line((c, c - r * 0.6, c, c + r * 0.15), fill=WHITE, width=glyph_w)
        dot = glyph_w * 0.7
        draw.ellipse((c - dot, c + r * 0.35, c + dot, c + r * 0.35 + 2 * dot), fill=WHITE)
    elif look.state == "on_break":
        draw.line((c - r * 0.5, c, c - r * 0.1, c + r * 0.4, c + r * 0.55, c - r * 0.4),
                  fill=WHITE, width=glyph_w, joint="curve")
    draw.ellipse(box, fill=None, outline=EDGE, width=max(scale // 2, int(s * 0.012)))
    return img.resize((size_px, size_px), Image.Resampling.LANCZOS)


def app_icon(size_px: int = 256) -> Image.Image:
    """The application icon (menus, notifications, About): a sitting-state ring two-thirds full."""
    return render_icon(IconLook("sitting", ICON_FILL_STEPS * 2 // 3), size_px)
