"""Regenerate the exercise pictures: `python -m icons.generator [--out DIR]`.

Writes every PNG named by `psoas_break.ui.pictures` (deterministic for a given Pillow),
`manifest.json` (generator version, Pillow version, size, SHA-256 of each PNG's pixels) and
`contact-sheet.png` (every picture at 128 px on a light background, and at 64 px on a dark one,
for a person to look at; not shipped). `--check` compares with what is on disk instead and exits
1 when something differs or is missing. Exit 2 for bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import PIL
from PIL import Image, ImageDraw, ImageFont

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.core.exercises import ExerciseDataError, ExerciseLibrary
from psoas_break.ui.pictures import picture_files

from . import GENERATOR_VERSION, ICON_SIZE_PX, ICONS_DIR, render_exercise

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CONTACT_SHEET = "contact-sheet.png"


def pixel_digest(image: Image.Image) -> str:
    """SHA-256 of the RGBA pixels (not the PNG bytes, which depend on the zlib build)."""
    rgba = image.convert("RGBA")
    return hashlib.sha256(f"{rgba.size}".encode() + rgba.tobytes()).hexdigest()


def render_all(library: ExerciseLibrary, size_px: int = ICON_SIZE_PX) -> dict[str, Image.Image]:
    """Every picture by file name, in library order."""
    out: dict[str, Image.Image] = {}
    cache: dict[tuple[str, str | None], Image.Image] = {}
    for exercise in library:
        for name, side in picture_files(exercise):
            key = (exercise.id, side)
            if key not in cache:
                cache[key] = render_exercise(exercise, side, size_px)
            out[name] = cache[key]
    return out


def manifest_for(images: dict[str, Image.Image], size_px: int) -> dict[str, object]:
    return {
        "generator_version": GENERATOR_VERSION,
        "pillow": PIL.__version__,
        "size_px": size_px,
        "files": {name: pixel_digest(img) for name, img in sorted(images.items())},
    }


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def contact_sheet(library: ExerciseLibrary, images: dict[str, Image.Image]) -> Image.Image:
    """A grid of every distinct picture: 128 px on light grey with its name, then 64 px on dark."""
    names = []
    for exercise in library:
        files = picture_files(exercise)
        names += [n for n, _ in files[1:]] if exercise.per_side else [files[0][0]]
    cols, cell, label_h, pad = 6, 128, 16, 10
    rows = -(-len(names) // cols)
    small, small_cols = 64, 12
    small_rows = -(-len(names) // small_cols)
    width = cols * (cell + pad) + pad
    light_h = rows * (cell + label_h + pad) + pad
    dark_h = small_rows * (small + pad) + pad
    sheet = Image.new("RGB", (width, light_h + dark_h), (236, 238, 241))
    sheet.paste((24, 26, 30), (0, light_h, width, light_h + dark_h))
    draw = ImageDraw.Draw(sheet)
    font = _font(10)
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        x, y = pad + c * (cell + pad), pad + r * (cell + label_h + pad)
        tile = images[name].resize((cell, cell), Image.Resampling.LANCZOS)
        sheet.paste(tile, (x, y), tile)
        draw.text((x, y + cell + 2), name.removesuffix(".png")[:24], fill=(40, 40, 40), font=font)
        r2, c2 = divmod(i, small_cols)
        x2 = pad + c2 * (width - pad) // small_cols
        y2 = light_h + pad + r2 * (small + pad)
        tile2 = images[name].resize((small, small), Image.Resampling.LANCZOS)
        sheet.paste(tile2, (x2, y2), tile2)
    return sheet


def write_all(out_dir: Path, library: ExerciseLibrary, sheet: bool = True) -> list[Path]:
    """Render and write every picture, the manifest and (optionally) the contact sheet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = render_all(library)
    written = []
    for name, image in images.items():
        path = out_dir / name
        image.save(path, format="PNG", optimize=True)
        written.append(path)
    manifest = manifest_for(images, ICON_SIZE_PX)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if sheet:
        contact_sheet(library, images).save(out_dir / CONTACT_SHEET, format="PNG", optimize=True)
    return written


def check_all(out_dir: Path, library: ExerciseLibrary) -> list[str]:
    """Problems: pictures missing or different from what the generator makes now."""
    problems = []
    for name, image in render_all(library).items():
        path = out_dir / name
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        with Image.open(path) as on_disk:
            if pixel_digest(on_disk) != pixel_digest(image):
                problems.append(f"{path}: differs from the generator's output")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m icons.generator",
        description="Regenerate the exercise pictures in icons/exercises.",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--no-contact-sheet", action="store_true")
    args = parser.parse_args(argv)
    out_dir = args.out if args.out is not None else ICONS_DIR
    try:
        library = load_builtin_library()
    except ExerciseDataError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    if args.check:
        problems = check_all(out_dir, library)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    written = write_all(out_dir, library, sheet=not args.no_contact_sheet)
    print(f"wrote {len(written)} pictures to {out_dir}")
    return 0
