"""One exercise as a self-contained local HTML page: picture, steps, a hold countdown, caution.

Non-core (it writes files and can open a browser). The page works offline and loads nothing:
the picture is embedded as a data: URI, the style and the small countdown script are inline and
allowed by their SHA-256 hashes in a strict Content-Security-Policy (`default-src 'none'`), and
every text from the data is `html.escape`d (a user's own exercise files may hold anything). The
script is the same for every page and language; it reads the timings and its few words from
data- attributes. The page is in the active language (the shipped exercise texts are in the
catalog; a user's own exercise is shown as they wrote it).

The page is a file: it cannot talk to the running app. So "never show this one again" is said
on the page as what to do: the tray menu's "Never show this one again" (offered while this is
the current exercise) or `psoas-break exercises hide ID`; `psoas-break exercises unhide ID`
brings it back.

API: `write_exercise_page(exercise, side, out_dir, picture=...) -> Path`,
`open_exercise_page(path) -> bool`, and `show_exercise(exercise, side, cache_dir)` doing both.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import os
import tempfile
import webbrowser
from pathlib import Path

from psoas_break.core.exercises import Exercise, Side
from psoas_break.core.i18n import N_, _, language, localized
from psoas_break.core.safety import NOT_MEDICAL_NOTE, SAFETY_NOTE
from psoas_break.ui.pictures import PictureFinder, picture_path

log = logging.getLogger(__name__)

_STYLE = """
:root { color-scheme: light dark; --bg: #f7f5f0; --fg: #1e293b; --muted: #52606d;
  --accent: #c2410c; --card: #ffffff; --line: #cbd2d9; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #17191d; --fg: #e6e9ee; --muted: #a7b1bd; --accent: #fb923c;
    --card: #22262c; --line: #3a414a; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 17px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0 0 .25rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
.top { display: flex; gap: 1.25rem; align-items: flex-start; flex-wrap: wrap; }
.top img { width: 256px; height: 256px; flex: none; }
.side { font-weight: 600; color: var(--accent); }
ol { padding-left: 1.4rem; } li { margin: .35rem 0; }
#timer { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 1rem 1.25rem; margin: 1.25rem 0; }
#timer-count { font-size: 2.6rem; font-variant-numeric: tabular-nums; font-weight: 700; }
#timer-note { color: var(--muted); min-height: 1.5em; }
button { font: inherit; padding: .45rem 1.1rem; border-radius: 8px; border: 1px solid var(--line);
  background: var(--accent); color: #fff; cursor: pointer; }
.caution { border-left: 4px solid var(--accent); padding: .25rem .9rem; }
.small { color: var(--muted); font-size: .9rem; }
"""

_SCRIPT = """
(function () {
  "use strict";
  var box = document.getElementById("timer");
  var count = document.getElementById("timer-count");
  var note = document.getElementById("timer-note");
  var button = document.getElementById("timer-start");
  if (!box || !count || !note || !button) { return; }
  function text(name) { return box.getAttribute("data-" + name) || ""; }
  var seconds = parseInt(text("seconds"), 10) || 30;
  var rounds = parseInt(text("rounds"), 10) || 1;
  var labels = [text("first"), text("second")];
  var perSide = labels[0] !== "";
  var total = perSide ? rounds * 2 : rounds;
  var done = 0, left = seconds, timer = null;
  function label(i) {
    var what = perSide ? labels[i % 2] + ": " : "";
    var round = perSide ? Math.floor(i / 2) + 1 : i + 1;
    return what + text("of").replace("{round}", round).replace("{rounds}", rounds);
  }
  function show() { count.textContent = left + " s"; }
  function finish() {
    clearInterval(timer); timer = null; done += 1; left = seconds; show();
    if (done >= total) {
      note.textContent = text("done");
      button.textContent = text("again"); done = 0;
    } else {
      note.textContent = text("rest") + " " + label(done);
      button.textContent = text("start");
    }
    button.disabled = false;
  }
  button.addEventListener("click", function () {
    if (timer !== null) { return; }
    left = seconds; show(); note.textContent = label(done); button.disabled = true;
    timer = setInterval(function () { left -= 1; show(); if (left <= 0) { finish(); } }, 1000);
  });
  show(); note.textContent = text("next") + " " + label(0);
})();
"""


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; "
    f"style-src {_csp_hash(_STYLE)}; script-src {_csp_hash(_SCRIPT)}; "
    "base-uri 'none'; form-action 'none'"
)


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def page_file_name(exercise: Exercise, side: Side | None) -> str:
    """`<id>.html`, or `<id>-left.html` / `<id>-right.html` for a per-side exercise."""
    if exercise.per_side and side is not None:
        return f"{exercise.id}-{side}.html"
    return f"{exercise.id}.html"


KIND_LABELS = {"stretch": N_("Stretch"), "posture": N_("Posture"), "move": N_("Move")}
PLACE_LABELS = {
    "seated": N_("seated"),
    "standing": N_("standing"),
    "floor": N_("lying down at home"),
    "parked_cab": N_("in the parked cab"),
    "beside_vehicle": N_("beside the parked vehicle"),
    "driving_safe": N_("while driving (hands on the wheel)"),
}


def place_text(exercise: Exercise) -> str:
    """Where it can be done, in words (the active language)."""
    return ", ".join(localized(PLACE_LABELS[t]) for t in sorted(exercise.tags)
                     if t in PLACE_LABELS)


def render_exercise_page(exercise: Exercise, side: Side | None, picture_png: bytes | None) -> str:
    """The page's HTML text (pure: no files), in the active language."""
    side = (side or "left") if exercise.per_side else None
    texts = exercise.texts_for(side)
    if exercise.hold_s is not None:
        seconds, rounds = exercise.hold_s, exercise.reps
    else:
        seconds, rounds = exercise.duration_s or 30, 1
    first = second = ""
    side_html = ""
    if side is not None:
        first, second = (_("Left side"), _("Right side")) if side == "left" else (
            _("Right side"), _("Left side"))
        working = texts.working or ""
        start = (_("Start on your left side: {working}. Then the right side.", working=working)
                 if side == "left"
                 else _("Start on your right side: {working}. Then the left side.",
                        working=working))
        if not exercise.user:
            orange = _("It is orange in the picture.")
            start = f"{start} {orange}"
        side_html = f'<p class="side">{_e(start)}</p>'
    img_html = ""
    if picture_png is not None:
        data = base64.b64encode(picture_png).decode("ascii")
        img_html = (
            f'<img src="data:image/png;base64,{data}" width="256" height="256" '
            f'alt="{_e(texts.title)}">'
        )
    steps_html = "\n".join(f"<li>{_e(step)}</li>" for step in texts.steps)
    kind = localized(KIND_LABELS.get(exercise.kind, N_("Exercise")))
    own_text = _("Your own exercise.")
    own = f'<p class="small">{_e(own_text)}</p>' if exercise.user else ""
    hide = _("Not for you? Choose “Never show this one again” in the tray menu while this is "
             "the current exercise, or run: psoas-break exercises hide {id}", id=exercise.id)
    source = _("Source: {text}", text=texts.source)
    source_html = f'<p class="small">{_e(source)}</p>' if texts.source else ""
    steps_label, caution_label, start_label = _("Steps"), _("Caution:"), _("Start")
    timer_words = {
        "of": _("{round} of {rounds}"),
        "done": _("Done. Well moved."),
        "again": _("Start again"),
        "rest": _("Rest a moment. Next:"),
        "next": _("Next:"),
        "start": _("Start"),
    }
    timer_attrs = " ".join(f'data-{k}="{_e(v)}"' for k, v in timer_words.items())
    return f"""<!doctype html>
<html lang="{_e(language())}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(texts.title)} - psoas-break</title>
<style>{_STYLE}</style>
</head>
<body>
<main>
<h1>{_e(texts.title)}</h1>
<p class="meta">{_e(kind)} · {_e(place_text(exercise))} · {_e(texts.dose)}</p>
<div class="top">
{img_html}
<div>
<p>{_e(texts.prompt)}</p>
{side_html}
</div>
</div>
<h2>{_e(steps_label)}</h2>
<ol id="steps">
{steps_html}
</ol>
<section id="timer" data-seconds="{seconds}" data-rounds="{rounds}" data-first="{_e(first)}" \
data-second="{_e(second)}" {timer_attrs}>
<div id="timer-count">{seconds} s</div>
<div id="timer-note"></div>
<button id="timer-start" type="button">{_e(start_label)}</button>
</section>
<p class="caution"><strong>{_e(caution_label)}</strong> {_e(texts.caution)}</p>
<p class="small">{_e(localized(SAFETY_NOTE))}</p>
{source_html}
{own}
<p class="small">{_e(hide)}</p>
<p class="small">{_e(localized(NOT_MEDICAL_NOTE))}</p>
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_exercise_page(
    exercise: Exercise,
    side: Side | None,
    out_dir: Path,
    picture: Path | bytes | None = None,
) -> Path:
    """Write the page into `out_dir` (created if needed) and return its path.

    `picture` is the PNG (a path or its bytes) to embed; None leaves the picture out. Raises
    OSError when the folder or the picture cannot be read or written.
    """
    png = picture.read_bytes() if isinstance(picture, Path) else picture
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / page_file_name(exercise, side)
    _atomic_write(path, render_exercise_page(exercise, side, png))
    return path


def open_exercise_page(path: Path) -> bool:
    """Open the page in the default browser; False when no browser could be started."""
    try:
        return webbrowser.open(path.resolve().as_uri())
    except webbrowser.Error:
        log.warning("could not open a browser for %s", path, exc_info=True)
        return False


def show_exercise(
    exercise: Exercise, side: Side | None, cache_dir: Path, pictures: PictureFinder = picture_path
) -> Path:
    """"Show this stretch": write the page (with its picture) under `cache_dir` and open it."""
    path = write_exercise_page(exercise, side, cache_dir / "pages", pictures(exercise, side))
    open_exercise_page(path)
    return path
