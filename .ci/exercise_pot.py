"""Write the shipped exercise texts as a gettext template fragment (`make pot` merges it).

`python .ci/exercise_pot.py OUT.pot` reads `psoas_break/data/exercises.toml` through the
app's own loader and writes one entry per text a person can be shown: titles, prompts, steps,
cautions, sources and working limbs, each per side for a one-side-at-a-time exercise (the
placeholders filled in, exactly as `Exercise.texts_for` looks them up), each once. A comment
names the exercise and field for the translator. xgettext cannot read TOML; this is its part.
"""

from __future__ import annotations

import sys
from pathlib import Path

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.core.exercises import ExerciseLibrary, Side, render_side

SOURCE = "psoas_break/data/exercises.toml"
HEADER = (
    'msgid ""\n'
    'msgstr ""\n'
    '"Content-Type: text/plain; charset=UTF-8\\n"\n'
    '"Content-Transfer-Encoding: 8bit\\n"\n'
)


def po_quote(text: str) -> str:
    """`text` as a PO string literal."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\t", "\\t"))
    return f'"{escaped}"'


def pot_text(library: ExerciseLibrary) -> str:
    """The template fragment for every text of `library`, in library order."""
    seen: dict[str, list[str]] = {}
    for exercise in library:
        sides: tuple[Side | None, ...] = ("left", "right") if exercise.per_side else (None,)
        for field, text in exercise.texts():
            for side in sides:
                shown = render_side(text, side)
                note = f"{exercise.id}: {field}" + (f", {side} side" if side and shown != text
                                                     else "")
                seen.setdefault(shown, []).append(note)
    parts = [HEADER]
    for msgid, notes in seen.items():
        comment = "".join(f"#. {n}\n" for n in notes[:3])
        if len(notes) > 3:
            comment += f"#. ... and {len(notes) - 3} more\n"
        parts.append(f"\n{comment}#: {SOURCE}\nmsgid {po_quote(msgid)}\nmsgstr \"\"\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m tools.exercise_pot OUT.pot", file=sys.stderr)
        return 2
    Path(args[0]).write_text(pot_text(load_builtin_library()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
