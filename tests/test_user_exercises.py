"""A person's own exercises: real files in a real folder, hostile ones included.

Each bad file or exercise gives one bounded line naming the file, the exercise, the field and
what is allowed; nothing raises, nothing hangs (a FIFO named like an exercise file), nothing
outside the folder is read (symlinks, "../" picture names), and what is good is kept: listed,
chosen by selection, shown in a notification with its picture and on an escaped HTML page.
"""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

import pytest

from psoas_break.adapters.files.exercise_library import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_PROBLEM_CHARS,
    UserExercises,
    load_builtin_library,
    load_library,
    load_user_exercises,
)
from psoas_break.core.exercise_selection import SelectionHistory, select_exercise
from psoas_break.ui.exercise_page import render_exercise_page
from psoas_break.ui.pictures import picture_finder
from tests.test_exercise_page import parse

BUILTIN = load_builtin_library()

GOOD = """\
[[exercise]]
id = "{id}"
title = "{title}"
kind = "stretch"
tags = ["seated"]
focus = ["chest"]
sides = "{sides}"
hold_s = 20
reps = 2
prompt = "{prompt}"
steps = ["Sit tall.", "Open your chest gently."]
caution = "Stop if it hurts."
source = "My physio."
{extra}
"""


def exercise_toml(ex_id: str = "my_chest_opener", title: str = "My chest opener",
                  sides: str = "both", prompt: str = "Sit tall and open your chest.",
                  extra: str = "") -> str:
    return GOOD.format(id=ex_id, title=title, sides=sides, prompt=prompt, extra=extra)


def write(folder: Path, name: str, *tables: str, header: str = "schema_version = 1\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(header + "\n".join(tables), encoding="utf-8")
    return path


def png(width: int = 8, height: int = 8) -> bytes:
    """A real, small PNG (one colour), built by hand so any size can be claimed."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(min(height, 64)))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def load(folder: Path) -> UserExercises:
    return load_user_exercises(folder, BUILTIN.ids())


def assert_lines(user: UserExercises) -> None:
    for line in user.problems:
        assert "\n" not in line and len(line) <= MAX_PROBLEM_CHARS, line


# ---- good files ----


def test_a_good_file_is_read_with_its_picture(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    write(folder, "mine.toml", exercise_toml(extra='picture = "opener.png"'))
    (folder / "opener.png").write_bytes(png())
    user = load(folder)
    assert user.problems == ()
    (exercise,) = user.exercises
    assert exercise.user and exercise.id == "my_chest_opener" and exercise.pose == ""
    assert user.picture(exercise, None) == (folder / "opener.png").resolve()
    # the shipped pictures are never used for a user's exercise, and theirs are found
    find = picture_finder(user)
    assert find(exercise, None) == (folder / "opener.png").resolve()
    assert find(BUILTIN.exercises[0], "left") is not None


def test_per_side_pictures_by_name_and_side_placeholders(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    write(folder, "sides.toml", exercise_toml(
        sides="left_right", prompt="{Side} hand on the wall, turn away from it.",
        extra='working = "your {side} arm"'))
    (folder / "my_chest_opener-left.png").write_bytes(png())
    (folder / "my_chest_opener-right.png").write_bytes(png(16, 16))
    user = load(folder)
    assert user.problems == ()
    (exercise,) = user.exercises
    assert exercise.texts_for("right").prompt == "Right hand on the wall, turn away from it."
    assert user.picture(exercise, "right") == (folder / "my_chest_opener-right.png").resolve()
    assert user.picture(exercise, "left") == (folder / "my_chest_opener-left.png").resolve()


def test_no_folder_is_no_exercises_and_the_library_merges(tmp_path: Path) -> None:
    library, user = load_library(tmp_path / "data")
    assert user is not None and user.exercises == () and user.problems == ()
    assert library.ids() == BUILTIN.ids()
    write(tmp_path / "data" / "exercises", "mine.toml", exercise_toml())
    library, user = load_library(tmp_path / "data")
    assert library.ids() == (*BUILTIN.ids(), "my_chest_opener")


# ---- hostile content: one line per problem, the rest kept ----


@pytest.mark.parametrize(("field_line", "expected"), [
    ('title = 5', "field 'title': must be non-empty text, got 5"),
    ('steps = "Sit."', "field 'steps': must be a list of 2 to 8 steps"),
    ('tags = {a = 1}', "field 'tags': must be a non-empty list"),
    ('hold_s = 1.5', "field 'hold_s': must be a whole number from 20 to 30, got 1.5"),
    ('sides = ["both"]', "field 'sides': must be one of left_right, alternate, both, none"),
    ('kind = "yoga"', "field 'kind': must be one of stretch, posture, move"),
    ('caution = "This cures it."', "uses banned claim word(s): cure"),
    ('caution = "Good when tired."', "tiredness or sleepiness"),
    ('tags = ["seated", "beside_vehicle"]', "one family only"),
    ('colour = "red"', "field 'colour': unknown field"),
])
def test_wrong_types_and_values_are_one_line_naming_file_exercise_field(
    tmp_path: Path, field_line: str, expected: str
) -> None:
    folder = tmp_path / "exercises"
    key = field_line.split(" = ")[0]
    bad = "\n".join(line for line in exercise_toml("my_bad_one").splitlines()
                    if not line.startswith(f"{key} = ")) + "\n" + field_line + "\n"
    write(folder, "bad.toml", bad, exercise_toml("my_good_one"))
    user = load(folder)
    assert [e.id for e in user.exercises] == ["my_good_one"]
    (line,) = user.problems
    assert line.startswith("bad.toml: exercise 'my_bad_one': "), line
    assert expected in line, line
    assert_lines(user)


def test_huge_values_give_bounded_lines(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    write(folder, "long.toml", exercise_toml(title="T" * 100_000),
          exercise_toml("my_second", prompt="x" * 50_000),
          exercise_toml("my_third", extra="duration_s = " + "9" * 4000))
    user = load(folder)
    assert user.exercises == ()
    assert len(user.problems) == 3
    assert_lines(user)
    assert "at most 60 allowed" in user.problems[0]


def test_files_too_big_not_utf8_not_toml_too_deep_or_wrong_shape(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / "a_huge.toml").write_bytes(b"# " + b"x" * (MAX_FILE_BYTES + 10))
    (folder / "b_latin1.toml").write_bytes("title = \"caf\xe9\"".encode("latin-1"))
    (folder / "c_broken.toml").write_text("[[exercise]\nid = ")
    (folder / "d_deep.toml").write_text("a = " + "[" * 20_000 + "]" * 20_000)
    (folder / "d_digits.toml").write_text("a = " + "9" * 5000)
    write(folder, "e_no_version.toml", exercise_toml("my_e"), header="")
    write(folder, "f_version_two.toml", exercise_toml("my_f"), header="schema_version = 2\n")
    write(folder, "g_not_tables.toml", "", header="schema_version = 1\nexercise = [1, 2]\n")
    write(folder, "h_clash.toml", exercise_toml("glute_bridge"), exercise_toml("my_h"),
          exercise_toml("my_h"))
    (folder / "notes.txt").write_text("not an exercise file")
    user = load(folder)
    assert [e.id for e in user.exercises] == ["my_h"]
    text = "\n".join(user.problems)
    assert "a_huge.toml: not used: is 262156 bytes, at most 262144 allowed" in text
    assert "b_latin1.toml: not used:" in text and "utf-8" in text.lower()
    assert "c_broken.toml: not used:" in text
    assert "d_deep.toml: not used" in text and "d_digits.toml: not used" in text
    assert "e_no_version.toml: 'schema_version' must be 1, got None" in text
    assert "f_version_two.toml: 'schema_version' must be 1, got 2" in text
    assert "g_not_tables.toml: entry 1 is not an [[exercise]] table" in text
    assert "h_clash.toml: exercise 'glute_bridge': field 'id': is already used" in text
    assert "h_clash.toml: exercise 'my_h': field 'id': is already used" in text
    assert "notes.txt" not in text
    assert_lines(user)


@pytest.mark.timeout(30)
def test_a_fifo_a_folder_and_links_out_are_refused_without_hanging(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    folder.mkdir()
    outside = tmp_path / "outside.toml"
    outside.write_text("schema_version = 1\n" + exercise_toml("my_outside"))
    os.mkfifo(folder / "fifo.toml")  # nobody writes: a plain open() would block forever
    (folder / "dir.toml").mkdir()
    (folder / "escape.toml").symlink_to(outside)
    (folder / "dangling.toml").symlink_to(tmp_path / "nothing.toml")
    write(folder, "real.toml", exercise_toml("my_real"))
    (folder / "alias.toml").symlink_to(folder / "real.toml")  # a link inside is fine
    user = load(folder)
    text = "\n".join(user.problems)
    assert "fifo.toml: not used: is not a regular file" in text
    assert "dir.toml: not used: is not a regular file" in text
    assert "escape.toml: not used: it must be a file in" in text
    assert "dangling.toml: not used: it must be a file in" in text
    assert "my_outside" not in [e.id for e in user.exercises]
    # the alias is read first (sorted names) and the real file then clashes with it
    assert [e.id for e in user.exercises] == ["my_real"]
    assert_lines(user)


def test_too_many_files_only_the_first_are_read(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    for i in range(MAX_FILES + 3):
        write(folder, f"f{i:03}.toml", exercise_toml(f"my_ex_{i:03}"))
    user = load(folder)
    assert len(user.exercises) == MAX_FILES
    assert any(f"only the first {MAX_FILES} .toml files" in p for p in user.problems)


# ---- picture tricks ----


@pytest.mark.parametrize("name", ["../secret.png", "/etc/secret.png", "sub/x.png", "..png",
                                  "x.svg", "C:\\\\x.png", ".hidden.png"])
def test_picture_names_with_paths_are_refused_by_the_validator(
    tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "exercises"
    write(folder, "pic.toml", exercise_toml(extra=f'picture = "{name}"'))
    user = load(folder)
    assert user.exercises == ()
    (line,) = user.problems
    assert "field 'picture': must be the name of a PNG file in the same folder" in line


def test_picture_files_that_escape_or_are_not_pngs_are_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    tables = [
        exercise_toml("my_link_out", extra='picture = "out.png"'),
        exercise_toml("my_not_png", extra='picture = "fake.png"'),
        exercise_toml("my_giant", extra='picture = "giant.png"'),
        exercise_toml("my_missing", extra='picture = "nowhere.png"'),
        exercise_toml("my_link_in", extra='picture = "in.png"'),
        exercise_toml("my_fifo", extra='picture = "fifo.png"'),
    ]
    write(folder, "pics.toml", *tables)
    (folder / "out.png").symlink_to(secret)
    (folder / "fake.png").write_text("<svg onload=alert(1)>")
    (folder / "giant.png").write_bytes(png(100_000, 8))
    (folder / "real.png").write_bytes(png())
    (folder / "in.png").symlink_to(folder / "real.png")
    os.mkfifo(folder / "fifo.png")
    user = load(folder)
    # every exercise is kept (a picture problem only drops the picture)
    assert len(user.exercises) == len(tables)
    by_id = {e.id: e for e in user.exercises}
    assert user.picture(by_id["my_link_in"], None) == (folder / "real.png").resolve()
    for ex_id in ("my_link_out", "my_not_png", "my_giant", "my_missing", "my_fifo"):
        assert user.picture(by_id[ex_id], None) is None, ex_id
    text = "\n".join(user.problems)
    assert "exercise 'my_link_out': field 'picture': 'out.png' must be a file in" in text
    assert "'fake.png' is not a PNG file" in text
    assert "'giant.png' is 100000 x 8 pixels; at most 4096 x 4096 allowed" in text
    assert "'nowhere.png' must be a file in" in text
    assert "'fifo.png' cannot be used (is not a regular file)" in text
    assert_lines(user)


# ---- markup in text: kept as text, escaped on the page ----


def test_markup_in_a_users_file_is_escaped_on_the_page(tmp_path: Path) -> None:
    folder = tmp_path / "exercises"
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    write(folder, "x.toml", exercise_toml(title="<b>Bold</b> &amp; stretch",
                                          prompt=hostile.replace('"', "'")))
    user = load(folder)
    (exercise,) = user.exercises
    page = parse(render_exercise_page(exercise, None, png()))
    assert len(page.find("script")) == 1  # ours
    assert len(page.find("img")) == 1  # ours, the picture
    assert not page.find("b")
    assert hostile in page.all_text()
    assert "<b>Bold</b> &amp; stretch" in page.all_text()
    assert "Your own exercise." in page.all_text()
    assert "It is orange in the picture." not in page.all_text()


# ---- chosen by selection ----


def test_selection_chooses_a_users_exercise(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "exercises"
    write(folder, "mine.toml", exercise_toml())
    library, _user = load_library(tmp_path / "data")
    seen = set()
    history = SelectionHistory()
    rng = random.Random(3)
    for _ in range(300):
        sel = select_exercise(library, "stretch", "desk", "desk", history, rng,
                              places=("seated",))
        seen.add(sel.exercise.id)
        history = history.recorded(sel)
    assert "my_chest_opener" in seen
