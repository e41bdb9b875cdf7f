"""Exercise pictures: every one shipped, equal to the generator's output, mirrored, readable."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path

import PIL
import pytest
from PIL import Image, ImageChops, ImageOps

from icons.generator import ICON_SIZE_PX, ICONS_DIR, picture_pose, render_exercise
from icons.generator.generate import MANIFEST, pixel_digest, write_all
from icons.generator.poses import POSES
from icons.generator.render import (
    ACCENT,
    CARD,
    CARD_EDGE,
    INK,
    Pose,
    direction,
    facing_deg,
    floor_problems,
    render_pose,
    skeleton,
)
from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.ui.pictures import picture_files, picture_path

LIBRARY = load_builtin_library()
REPO = Path(__file__).resolve().parent.parent
ICONS = REPO / "icons" / "exercises"


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("icons")
    write_all(out, LIBRARY, sheet=False)
    return out


def test_every_exercise_has_its_pictures_and_nothing_is_stale() -> None:
    expected = {name for e in LIBRARY for name, _side in picture_files(e)}
    on_disk = {p.name for p in ICONS.glob("*.png")} - {"contact-sheet.png"}
    assert expected <= on_disk, sorted(expected - on_disk)
    assert on_disk <= expected, f"pictures of no exercise: {sorted(on_disk - expected)}"
    for e in LIBRARY:
        names = [n for n, _ in picture_files(e)]
        assert f"{e.id}.png" in names
        if e.per_side:
            assert {f"{e.id}-left.png", f"{e.id}-right.png"} <= set(names)


def test_shipped_pictures_equal_a_fresh_generation(generated: Path) -> None:
    manifest = json.loads((ICONS / MANIFEST).read_text())
    same_pillow = manifest["pillow"] == PIL.__version__
    for fresh in sorted(generated.glob("*.png")):
        with Image.open(ICONS / fresh.name) as shipped, Image.open(fresh) as new:
            assert shipped.size == new.size == (ICON_SIZE_PX, ICON_SIZE_PX)
            assert shipped.mode == new.mode == "RGBA"
            if same_pillow:
                assert pixel_digest(shipped) == pixel_digest(new), (
                    f"{fresh.name} differs from the generator: run `make icons`"
                )
                assert manifest["files"][fresh.name] == pixel_digest(new)
            else:  # pragma: no cover - another Pillow may anti-alias a little differently
                diff = ImageChops.difference(shipped, new).convert("L")
                hist = diff.histogram()
                big = sum(hist[24:])
                assert big <= 0.01 * ICON_SIZE_PX**2, f"{fresh.name}: run `make icons`"


def test_generation_is_deterministic() -> None:
    exercise = LIBRARY.get("glute_bridge")
    assert exercise is not None
    a = render_exercise(exercise, None)
    b = render_exercise(exercise, None)
    assert a.tobytes() == b.tobytes()


def _anatomical_side(pose: Pose, limb: str, mirrored: bool) -> str:
    """Which side of the DRAWN figure `limb` is, worked out from the pose's geometry in 3-D
    (x right, y up, z toward the viewer), independently of the renderer's own rule.

    A person's right-hand direction is front x up (facing north with the head up, the right
    hand points east). Side view: the front is where the nose points (`facing_deg`), up is the
    head's direction, both in the picture plane; near limbs are at +z (toward the viewer), far
    ones at -z. Front view: the front is +z (facing the viewer), up is the torso's direction,
    and a limb lies where the skeleton put its root across the body. A mirror negates x.
    """
    flip = -1.0 if mirrored else 1.0
    if pose.view == "side":
        fx, fy = direction(facing_deg(pose))
        ux, uy = direction(pose.torso if pose.head is None else pose.head)
        fx, ux = fx * flip, ux * flip
        right_z = fx * uy - fy * ux  # z of front x up (both in the picture plane)
        limb_z = 1.0 if limb.startswith("near") else -1.0
        return "right" if right_z * limb_z > 0 else "left"
    sk = skeleton(pose)
    part = "near" if limb.startswith("near") else "far"
    root = sk.leg_roots[part] if limb.endswith("leg") else sk.arm_roots[part]
    centre = sk.hip if limb.endswith("leg") else sk.shoulder
    dx, dy = (root[0] - centre[0]) * flip, root[1] - centre[1]
    ux, uy = direction(pose.torso)
    ux *= flip
    rx, ry = -uy, ux  # (0, 0, 1) x (ux, uy, 0): the figure's right, facing the viewer
    return "right" if dx * rx + dy * ry > 0 else "left"


def test_the_geometry_check_knows_left_from_right() -> None:
    """Sanity of the check itself on plain cases a person can picture."""
    standing = POSES["standing_lunge"]  # side view, facing right (+x): we see its right side
    assert _anatomical_side(standing, "near_leg", mirrored=False) == "right"
    assert _anatomical_side(standing, "near_leg", mirrored=True) == "left"
    assert _anatomical_side(standing, "far_leg", mirrored=False) == "left"
    front = POSES["doorway"]  # facing the viewer: its left is on the viewer's right (+x)
    assert skeleton(front).arm_roots["near"][0] > skeleton(front).shoulder[0]
    assert _anatomical_side(front, "near_arm", mirrored=False) == "left"
    assert _anatomical_side(front, "near_arm", mirrored=True) == "right"


@pytest.mark.parametrize("exercise", [e for e in LIBRARY if e.per_side], ids=lambda e: e.id)
def test_each_side_picture_highlights_that_anatomical_limb(exercise: object) -> None:
    """`-left.png` highlights the figure's LEFT working limb, `-right.png` its right one
    (checked from the pose data), and the PNG is exactly that pose drawn that way."""
    from psoas_break.core.exercises import Exercise

    assert isinstance(exercise, Exercise)
    for side in ("left", "right"):
        pose, mirrored = picture_pose(exercise, side)  # type: ignore[arg-type]
        assert pose.highlight, f"{exercise.id}: a per-side picture highlights the working limb"
        for limb in pose.highlight:
            assert _anatomical_side(pose, limb, mirrored) == side, (exercise.id, side, limb)
        with Image.open(ICONS / f"{exercise.id}-{side}.png") as shipped:
            drawn = render_pose(pose, ICON_SIZE_PX, mirror=mirrored)
            assert pixel_digest(shipped) == pixel_digest(drawn), (exercise.id, side)


def test_right_side_is_the_mirror_of_the_left_and_differs() -> None:
    for e in LIBRARY:
        if not e.per_side:
            continue
        with Image.open(ICONS / f"{e.id}-left.png") as left, Image.open(
            ICONS / f"{e.id}-right.png"
        ) as right, Image.open(ICONS / f"{e.id}.png") as default:
            assert ImageOps.mirror(left).tobytes() == right.tobytes(), e.id
            assert left.tobytes() != right.tobytes(), e.id
            assert default.tobytes() == left.tobytes(), e.id
            # the working leg is highlighted in the accent colour
            assert _count_near(left, ACCENT, 40) > 150, e.id


def _pixels(image: Image.Image) -> list[tuple[int, ...]]:
    """Pixel tuples (Pillow 12 renamed getdata to get_flattened_data)."""
    flat = getattr(image, "get_flattened_data", None) or image.getdata
    return list(flat())


def _count_near(image: Image.Image, rgb: tuple[int, int, int], tolerance: int) -> int:
    px = _pixels(image.convert("RGBA"))
    return sum(
        1
        for r, g, b, a in px
        if a == 255 and abs(r - rgb[0]) + abs(g - rgb[1]) + abs(b - rgb[2]) <= tolerance
    )


def _on(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    base = Image.new("RGBA", image.size, (*background, 255))
    return Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")


def test_colours_have_contrast_on_light_and_dark_desktops() -> None:
    white, near_black = (255, 255, 255), (18, 18, 18)
    assert contrast(INK, CARD) >= 7  # the figure on its card
    assert contrast(ACCENT, CARD) >= 3  # the working limb on its card
    assert contrast(INK, white) >= 7  # the figure where the card meets white
    assert contrast(CARD, near_black) >= 7  # the card on a dark panel
    assert contrast(CARD_EDGE, white) >= 2  # the card's edge on a white panel


@pytest.mark.parametrize("name", ["half_kneeling_hip_flexor-left.png", "drive_sit_tall.png",
                                  "walk_around_vehicle.png", "doorway_chest_stretch.png"])
def test_pictures_read_on_white_and_near_black(name: str) -> None:
    with Image.open(ICONS / name) as image:
        image.load()
    for background in ((255, 255, 255), (18, 18, 18)):
        for size in (ICON_SIZE_PX, 128, 64):
            small = image.resize((size, size), Image.Resampling.LANCZOS)
            flat = _on(small, background)
            pixels = _pixels(flat)
            # the figure: dark pixels, a visible share of the picture even at 64 px
            ink = [p for p in pixels if contrast(p, CARD) >= 7 and _luminance(p) < 0.1]
            assert len(ink) >= 0.015 * size * size, (name, background, size, len(ink))
            if background != (255, 255, 255):
                # on a dark panel the whole light card stands out (on white the figure and
                # the card's grey edge do; see the colour contrast test)
                apart = sum(1 for p in pixels if contrast(p, background) >= 3)
                assert apart >= 0.8 * size * size, (name, background, size)
    # the corners are transparent (a rounded card), the middle is opaque
    assert image.getpixel((0, 0))[3] == 0
    assert image.getpixel((ICON_SIZE_PX // 2, ICON_SIZE_PX // 2))[3] == 255


def test_every_pose_is_used_and_nothing_sinks_through_the_floor() -> None:
    used = {e.pose for e in LIBRARY}
    assert used <= set(POSES), sorted(used - set(POSES))
    assert set(POSES) <= used, f"unused poses: {sorted(set(POSES) - used)}"
    for pose_id, pose in POSES.items():
        assert floor_problems(pose) == [], pose_id


def test_picture_path_gives_the_committed_png_of_each_side() -> None:
    assert ICONS_DIR.resolve() == ICONS.resolve()
    lunge = LIBRARY.get("vehicle_lunge")
    walk = LIBRARY.get("short_walk")
    assert lunge is not None and walk is not None and lunge.per_side and not walk.per_side
    for exercise, side, name in ((lunge, "right", "vehicle_lunge-right.png"),
                                 (lunge, "left", "vehicle_lunge-left.png"),
                                 (lunge, None, "vehicle_lunge.png"),
                                 (walk, "right", "short_walk.png")):
        path = picture_path(exercise, side)
        assert path is not None and path.name == name
        assert path.read_bytes() == (ICONS / name).read_bytes()


def test_a_missing_picture_is_none_and_a_log_line_never_a_rendering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = LIBRARY.get("vehicle_lunge")
    assert base is not None
    unshipped = dataclasses.replace(base, id="not_shipped_lunge")
    before = sorted(p.name for p in ICONS.iterdir())
    with caplog.at_level(logging.WARNING, logger="psoas_break.ui.pictures"):
        assert picture_path(unshipped, "right") is None
    assert "not_shipped_lunge-right.png" in caplog.text
    assert sorted(p.name for p in ICONS.iterdir()) == before


def test_generator_writes_exactly_the_picture_files(generated: Path) -> None:
    names = {p.name for p in generated.glob("*.png")}
    assert names == {n for e in LIBRARY for n, _ in picture_files(e)}
    manifest = json.loads((generated / MANIFEST).read_text())
    assert set(manifest["files"]) == names and manifest["size_px"] == ICON_SIZE_PX


def test_generator_check_mode_passes_on_the_repo_in_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "icons.generator", "--check"],
        capture_output=True, text=True, timeout=120, check=False, cwd=REPO,
    )
    assert out.returncode == 0, out.stderr
