"""The About page: version, the safety note, where settings, history and logs live.

Written as a small self-contained HTML file into the cache folder and opened in the default
browser (every text escaped; no scripts).
"""

from __future__ import annotations

import html
from pathlib import Path

from psoas_break import __version__
from psoas_break.adapters.files.paths import AppPaths
from psoas_break.core.i18n import _, language
from psoas_break.core.safety import safety_text


def write_about(paths: AppPaths, backends: dict[str, str], driver: bool) -> Path:
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in (
            (_("Settings"), str(paths.settings_file)),
            (_("History"), str(paths.history_file)),
            (_("Log"), str(paths.log_file)),
            *((_("{family} backend", family=family.capitalize()), name)
              for family, name in backends.items()),
        )
    )
    notes = "".join(
        f"<p>{html.escape(p)}</p>" for p in safety_text(include_driving=driver).split("\n") if p
    )
    title = html.escape(_("About psoas-break"))
    purpose = html.escape(_("Times how long you sit and prompts hip-flexor stretches and "
                            "posture changes."))
    privacy = html.escape(_("psoas-break keeps everything on this computer and never uses the "
                            "network."))
    page = f"""<!doctype html>
<html lang="{html.escape(language())}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>{title}</title>
<style>body{{font-family:sans-serif;max-width:42em;margin:2em auto;line-height:1.5}}
th{{text-align:left;padding-right:1em}}</style></head>
<body><h1>psoas-break {html.escape(__version__)}</h1>
<p>{purpose}</p>
{notes}
<table>{rows}</table>
<p>{privacy}</p>
</body></html>
"""
    target = paths.cache_dir / "about.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target
