"""The general safety and "not a medical device" texts, shown at first run and in About.

Pure: constants only. The wording follows shared/health-content.md; keep it plain and free of
claims (tests run the banned-words check on it).
"""

from __future__ import annotations

from psoas_break.core.i18n import N_, localized

# English values (what the banned-words check reads); `safety_text` shows them translated.
SAFETY_NOTE = N_(
    "Move gently and within comfort. Stop if anything hurts, tingles or goes numb. "
    "If you have sciatica, back pain that persists, are pregnant or have had recent surgery, "
    "ask a clinician before you try these exercises.")
NOT_MEDICAL_NOTE = N_(
    "psoas-break prompts ordinary movement and posture changes. It is not a medical device "
    "and does not diagnose anything or make health promises.")
DRIVING_NOTE = N_(
    "While driving, psoas-break only suggests posture changes with your hands on the wheel and "
    "your eyes on the road. Stretch when you are parked. It is an aid, never a tachograph or "
    "ELD: your legal driving and break times are yours to keep.")


def safety_text(include_driving: bool = False) -> str:
    """The texts for the first-run dialog and About box, as paragraphs separated by a blank line
    (in the active language)."""
    parts = [SAFETY_NOTE, NOT_MEDICAL_NOTE]
    if include_driving:
        parts.append(DRIVING_NOTE)
    return "\n\n".join(localized(p) for p in parts)
