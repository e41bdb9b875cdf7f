"""The local "Show this stretch" page: real files, parsed back, safe against hostile data."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from psoas_break.adapters.files.exercise_library import load_builtin_library
from psoas_break.core.exercises import Exercise
from psoas_break.ui.exercise_page import (
    CONTENT_SECURITY_POLICY,
    page_file_name,
    render_exercise_page,
    write_exercise_page,
)
from psoas_break.ui.pictures import picture_path

LIBRARY = load_builtin_library()


class _Page(HTMLParser):
    """Collects what the tests look at: tags, attributes, text, script and style bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
        if tag not in ("meta", "img", "br", "link"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self._in = None
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    def all_text(self) -> str:
        return " ".join(" ".join(self.text).split())

    def find(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def parse(html_text: str) -> _Page:
    page = _Page()
    page.feed(html_text)
    page.close()
    assert page.stack == [], f"unclosed tags: {page.stack}"
    return page


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_is_written_parses_and_has_everything(tmp_path: Path) -> None:
    exercise = LIBRARY.get("half_kneeling_hip_flexor")
    assert exercise is not None
    picture = picture_path(exercise, "right")
    assert picture is not None
    path = write_exercise_page(exercise, "right", tmp_path / "pages", picture)
    assert path == tmp_path / "pages" / "half_kneeling_hip_flexor-right.html"
    page = parse(path.read_text(encoding="utf-8"))
    text = page.all_text()
    assert exercise.title in text
    for step in exercise.texts_for("right").steps:
        assert step in text
    assert "Kneel on a cushion or folded towel: right knee down, left foot flat" in text
    assert "{" not in text
    assert exercise.caution in text
    assert "Hold 30 s, 2 times each side" in text
    assert ("Start on your right side: your right leg, the knee on the cushion. Then the left "
            "side. It is orange in the picture.") in text
    assert "psoas-break exercises hide half_kneeling_hip_flexor" in text
    # the picture is embedded and is the right-side PNG, byte for byte
    (img,) = page.find("img")
    src = img["src"] or ""
    assert src.startswith("data:image/png;base64,")
    assert base64.b64decode(src.split(",", 1)[1]) == picture.read_bytes()
    timer = next(a for t, a in page.tags if a.get("id") == "timer")
    assert timer["data-seconds"] == "30" and timer["data-rounds"] == "2"
    assert timer["data-first"] == "Right side" and timer["data-second"] == "Left side"
    assert not list(tmp_path.glob("pages/.tmp-*"))


def test_steps_are_in_order_in_an_ordered_list(tmp_path: Path) -> None:
    exercise = LIBRARY.get("chin_tucks")
    assert exercise is not None
    html_text = render_exercise_page(exercise, None, None)
    body = html_text.split('<ol id="steps">', 1)[1].split("</ol>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", body)
    assert items == list(exercise.steps)
    assert "<img" not in html_text  # no picture given, none claimed


def test_csp_is_strict_and_matches_the_inline_script_and_style() -> None:
    exercise = LIBRARY.get("glute_bridge")
    assert exercise is not None
    page = parse(render_exercise_page(exercise, None, b"\x89PNG fake"))
    metas = [a for a in page.find("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert len(metas) == 1
    csp = metas[0]["content"] or ""
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip()
    )
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert "unsafe-inline" not in csp and "http" not in csp and "*" not in csp
    (script,) = page.scripts
    (style,) = page.styles
    assert directives["script-src"] == _sha(script)
    assert directives["style-src"] == _sha(style)
    for attrs in page.find("script"):
        assert "src" not in attrs
    assert not page.find("link") and not page.find("iframe")


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted" \'single\''


def _hostile_exercise() -> Exercise:
    base = LIBRARY.get("vehicle_lunge")
    assert base is not None
    return dataclasses.replace(
        base,
        id="hostile_test",
        title=HOSTILE,
        prompt=HOSTILE,
        steps=(HOSTILE, "</ol><script>alert(2)</script>"),
        caution=HOSTILE,
        source=HOSTILE,
        working='"><svg onload=alert(3)>',
        tags=frozenset({"beside_vehicle", '"><b>tag</b>'}),
    )


def test_markup_in_the_data_is_escaped(tmp_path: Path) -> None:
    exercise = _hostile_exercise()
    path = write_exercise_page(exercise, "left", tmp_path, b"png")
    html_text = path.read_text(encoding="utf-8")
    page = parse(html_text)
    # exactly one script (ours), one img (ours), and no element the data tried to inject
    assert len(page.find("script")) == 1
    assert len(page.find("img")) == 1
    assert not page.find("svg") and not page.find("b")
    for _tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), attrs
    # the text survives, as text
    assert page.all_text().count('<script>alert("x")</script>') >= 4
    assert "</ol><script>alert(2)</script>" in page.all_text()
    assert "<script>alert" not in html_text


def test_file_names_follow_the_side() -> None:
    lunge = LIBRARY.get("vehicle_lunge")
    walk = LIBRARY.get("short_walk")
    assert lunge is not None and walk is not None
    assert page_file_name(lunge, "left") == "vehicle_lunge-left.html"
    assert page_file_name(walk, "left") == "short_walk.html"


def test_every_exercise_renders_a_page_that_parses(tmp_path: Path) -> None:
    for exercise in LIBRARY:
        side = "left" if exercise.per_side else None
        page = parse(render_exercise_page(exercise, side, None))  # type: ignore[arg-type]
        assert exercise.texts_for(side).steps[-1] in page.all_text()  # type: ignore[arg-type]
        assert "{" not in page.all_text(), exercise.id


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
def test_countdown_script_runs_and_counts_both_sides() -> None:
    # No browser here; node runs the page's real inline script against a minimal DOM and a
    # fake clock, so a syntax error or a broken countdown fails.
    exercise = LIBRARY.get("vehicle_lunge")
    assert exercise is not None
    page = parse(render_exercise_page(exercise, "left", None))
    (script,) = page.scripts
    timer = next(a for t, a in page.tags if a.get("id") == "timer")
    harness = """
const attrs = __ATTRS__;
const els = {};
function el(id) { return { id, textContent: "", disabled: false, handlers: {},
  getAttribute(n) { return id === "timer" ? attrs[n] : null; },
  addEventListener(t, f) { this.handlers[t] = f; } }; }
for (const id of ["timer", "timer-count", "timer-note", "timer-start"]) els[id] = el(id);
global.document = { getElementById: (id) => els[id] || null };
let pending = null;
global.setInterval = (f, ms) => { pending = f; return 1; };
global.clearInterval = () => { pending = null; };
__SCRIPT__
const log = [els["timer-note"].textContent];
for (let round = 0; round < 4; round++) {
  els["timer-start"].handlers.click();
  log.push(els["timer-note"].textContent);
  while (pending) pending();
  log.push(els["timer-note"].textContent + " | " + els["timer-count"].textContent);
}
console.log(JSON.stringify(log));
"""
    attrs = json.dumps({k: v for k, v in timer.items() if k.startswith("data-")})
    harness = harness.replace("__ATTRS__", attrs).replace("__SCRIPT__", script)
    out = subprocess.run(
        ["node", "-e", harness], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.returncode == 0, out.stderr
    log = out.stdout.strip()
    assert "Left side: 1 of 2" in log and "Right side: 1 of 2" in log
    assert "Right side: 2 of 2" in log
    assert "Done." in log and "30 s" in log
