"""The quiet gate: hold a due prompt while the user must not be disturbed, then release ONE.

Pure: stdlib only, time enters as monotonic seconds. The runtime asks its quiet detectors (see
`psoas_break.adapters.quiet`) only when a prompt is due and, while one is held, when
`seconds_until_check()` says so (every `check_every_s`, default 30 s): never continuously.

A quiet episode starts when a prompt is offered while a quiet reason is active. During it:
- more prompts offered (the engine's re-prompts) replace the held one: no pile-up; an offer
  is an extra look at the reasons (it may release) but does not move the regular check;
- the first check that finds no reason releases the held prompt (`gentle=False`): at most one
  check interval after the reasons clear;
- once `max_defer_s` has passed since the episode began, the held prompt is released anyway,
  flagged `gentle=True` (say it softly: the user is still busy); the check before that deadline
  is scheduled for the deadline itself, so it is never overshot by more than the runtime's
  wake-up lateness.
Either release ends the episode; exactly one prompt leaves per episode. `withdraw()` ends it
with none (the prompt was answered from the tray, or a natural break made it stale).

The episode keeps what it was about for the released prompt's words: `GateOutcome.episode`
(every reason seen while holding) and `episode_s`, counted from when its earliest reason was
first seen. `observe()` tells the gate about reasons seen while no prompt is due (a detector
that watches reports a call starting), so "That call was 52 minutes" counts the whole call,
not only the part after the prompt came due (`after_quiet_lead`).

`max_defer_s` = 0 switches deferral off: every offer is released at once.

Reasons are short tokens the detectors produce: "fullscreen", "presentation",
"do-not-disturb", "camera", "microphone", "screen-sharing", "away", "app:<name>".
`quiet_title()` turns them into the tray title ("Quiet: fullscreen", "Quiet: in a call", ...).
The `quiet_when` setting names the kinds that count (`QUIET_KINDS`, all by default);
`counted()` drops the others. "away" and "app:<name>" always count (quiet_apps is their switch).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from psoas_break.core.errors import InputError
from psoas_break.core.i18n import N_, _, localized, ngettext
from psoas_break.core.plain_text import show_value

DEFAULT_CHECK_EVERY_S = 30.0
DEFAULT_MAX_DEFER_MIN = 60
MAX_DEFER_MIN_LOW = 5
MAX_DEFER_MIN_HIGH = 240
MAX_QUIET_APPS = 50
MAX_QUIET_APP_LEN = 64

# English values; `reason_text` gives them in the active language.
REASON_TEXT = {
    "fullscreen": N_("fullscreen"),
    "presentation": N_("presenting"),
    "do-not-disturb": N_("do not disturb"),
    "camera": N_("camera in use"),
    "microphone": N_("in a call"),
    "screen-sharing": N_("sharing your screen"),
    "away": N_("away"),
}

# What `quiet_when` can switch, and the reasons each kind stands for. A reason not listed
# here ("away", "app:<name>") always counts.
QUIET_KINDS = ("camera", "microphone", "screen-sharing", "fullscreen", "do-not-disturb")
KIND_OF_REASON = {
    "camera": "camera",
    "microphone": "microphone",
    "screen-sharing": "screen-sharing",
    "fullscreen": "fullscreen",
    "presentation": "fullscreen",
    "do-not-disturb": "do-not-disturb",
}
# A hold at least this long (engine seconds, counted from the episode's first reason) is said
# in the released prompt ("That call was 52 minutes.").
LONG_EPISODE_S = 10 * 60.0

P = TypeVar("P")


def reason_text(reason: str) -> str:
    """Human words for one reason token: "camera" -> "camera in use", "app:zoom" -> "zoom"."""
    if reason.startswith("app:"):
        return _("{program} running", program=reason[4:])
    return localized(REASON_TEXT.get(reason, reason))


def quiet_title(reasons: Sequence[str]) -> str | None:
    """The tray title while quiet, e.g. "Quiet: fullscreen, camera in use"; None if no reason."""
    if not reasons:
        return None
    words: list[str] = []
    for reason in reasons:
        text = reason_text(reason)
        if text not in words:
            words.append(text)
    return _("Quiet: {reasons}", reasons=", ".join(words))


def counted(reasons: Sequence[str], quiet_when: Sequence[str]) -> tuple[str, ...]:
    """The reasons that count with `quiet_when` (the kinds switched on); see KIND_OF_REASON."""
    return tuple(r for r in reasons
                 if KIND_OF_REASON.get(r) is None or KIND_OF_REASON[r] in quiet_when)


def after_quiet_lead(episode: Sequence[str], episode_s: float) -> str | None:
    """What a prompt released after a long quiet episode says first ("That call was 52
    minutes."), in the active language; None when the episode was shorter than
    LONG_EPISODE_S."""
    if episode_s < LONG_EPISODE_S:
        return None
    minutes = round(episode_s / 60.0)
    kinds = {KIND_OF_REASON.get(r) for r in episode}
    if kinds & {"microphone", "camera"}:
        return ngettext("That call was {n} minute.", "That call was {n} minutes.", minutes)
    if "screen-sharing" in kinds:
        return ngettext("That screen share was {n} minute.",
                        "That screen share was {n} minutes.", minutes)
    return ngettext("You were busy for {n} minute.", "You were busy for {n} minutes.", minutes)


@dataclass(frozen=True)
class GateOutcome(Generic[P]):
    """What to do now.

    release: the one prompt to show now, or None (held, or nothing to show).
    gentle: True when released because the maximum deferral ran out while still quiet.
    reasons: the quiet reasons seen at this call (empty when not quiet).
    deferred_s: how long the released prompt was held (0 when shown at once).
    episode: every reason seen while the prompt was held (what the hold was about).
    episode_s: how long the episode lasted, from when its earliest reason was first seen
        (at least `deferred_s`).
    """

    release: P | None
    gentle: bool = False
    reasons: tuple[str, ...] = ()
    deferred_s: float = 0.0
    episode: tuple[str, ...] = ()
    episode_s: float = 0.0


class QuietGate(Generic[P]):
    """Holds at most one prompt per quiet episode (see module docstring). Not thread-safe:
    the runtime's engine thread owns it."""

    def __init__(self, check_every_s: float = DEFAULT_CHECK_EVERY_S,
                 max_defer_s: float = DEFAULT_MAX_DEFER_MIN * 60.0) -> None:
        self._held: P | None = None
        self._holding = False
        self._since_s = 0.0
        self._next_check_s = 0.0
        self._reasons: tuple[str, ...] = ()
        self._episode: tuple[str, ...] = ()
        self._episode_start_s = 0.0
        # When each active reason was first seen (uninterrupted), held or not.
        self._seen_since: dict[str, float] = {}
        self.check_every_s = self.max_defer_s = 0.0
        self.set_limits(check_every_s=check_every_s, max_defer_s=max_defer_s)

    @property
    def holding(self) -> bool:
        """True while a prompt is held."""
        return self._holding

    @property
    def held(self) -> P | None:
        """The prompt being held (the latest offered), or None."""
        return self._held if self._holding else None

    @property
    def reasons(self) -> tuple[str, ...]:
        """The quiet reasons seen at the last offer/check while holding; () otherwise."""
        return self._reasons if self._holding else ()

    def title(self) -> str | None:
        """Tray title while holding ("Quiet: fullscreen"), else None."""
        return quiet_title(self.reasons)

    def set_limits(self, *, check_every_s: float | None = None,
                   max_defer_s: float | None = None) -> None:
        """New limits; an episode under way keeps its start and obeys the new maximum.
        ValueError for a check interval that is not positive or a negative maximum."""
        if check_every_s is not None:
            if check_every_s <= 0:
                raise ValueError("check_every_s must be positive")
            self.check_every_s = check_every_s
        if max_defer_s is not None:
            if max_defer_s < 0:
                raise ValueError("max_defer_s must not be negative")
            self.max_defer_s = max_defer_s
        if self._holding:
            self._next_check_s = min(self._next_check_s, self._deadline_s)

    def observe(self, reasons: Sequence[str], mono_s: float) -> None:
        """`reasons` are the active ones now (all of them): remember since when each is
        active, for the episode's length. `offer` and `check` observe their reasons too."""
        active = tuple(reasons)
        self._seen_since = {r: self._seen_since.get(r, mono_s) for r in active}
        if self._holding and active:
            self._episode += tuple(r for r in active if r not in self._episode)
            self._episode_start_s = min(self._episode_start_s,
                                        *(self._seen_since[r] for r in active))

    def offer(self, prompt: P, reasons: Sequence[str], mono_s: float) -> GateOutcome[P]:
        """A prompt is due while `reasons` are active: released at once (not quiet, deferral
        off, or the episode's maximum ran out) or held (see the module docstring)."""
        active = tuple(reasons)
        if not self._holding:
            self.observe(active, mono_s)
            if not active or self.max_defer_s <= 0:
                return GateOutcome(prompt, False, active, 0.0)
            self._holding = True
            self._since_s = self._episode_start_s = mono_s
            self._held = prompt
            self._reasons = self._episode = ()
            self.observe(active, mono_s)
            self._reasons = active
            self._next_check_s = min(mono_s + self.check_every_s, self._deadline_s)
            return GateOutcome(None, False, active, 0.0)
        self.observe(active, mono_s)
        self._held = prompt
        # The regular check stays where it was: an offer is an extra look, not a check.
        return self._decide(active, mono_s, reschedule=False)

    def seconds_until_check(self, mono_s: float) -> float | None:
        """Seconds until the runtime should ask the detectors and call `check`; None when
        nothing is held (then the detectors are not asked at all)."""
        if not self._holding:
            return None
        return max(0.0, self._next_check_s - mono_s)

    def check_due(self, mono_s: float) -> bool:
        """True when a prompt is held and its next check time has come."""
        return self._holding and mono_s >= self._next_check_s

    def check(self, reasons: Sequence[str], mono_s: float) -> GateOutcome[P]:
        """The detectors' answer now: release the held prompt if the reasons cleared or the
        maximum ran out, else keep holding (without a held prompt it only observes)."""
        active = tuple(reasons)
        self.observe(active, mono_s)
        if not self._holding:
            return GateOutcome(None, False, active, 0.0)
        return self._decide(active, mono_s, reschedule=True)

    def withdraw(self) -> P | None:
        """End the episode without a prompt (answered elsewhere or stale); returns the held
        prompt, if any."""
        held = self.held
        self._reset()
        return held

    @property
    def _deadline_s(self) -> float:
        return self._since_s + self.max_defer_s

    def _decide(self, active: tuple[str, ...], mono_s: float, *, reschedule: bool
                ) -> GateOutcome[P]:
        held_s = max(0.0, mono_s - self._since_s)
        if not active:
            return self._release(False, active, held_s)
        if mono_s >= self._deadline_s:
            return self._release(True, active, held_s)
        self._reasons = active
        if reschedule:
            self._next_check_s = mono_s + self.check_every_s
        self._next_check_s = min(self._next_check_s, self._deadline_s)
        return GateOutcome(None, False, active, held_s)

    def _release(self, gentle: bool, active: tuple[str, ...], held_s: float) -> GateOutcome[P]:
        prompt, episode = self._held, self._episode
        episode_s = max(held_s, self._since_s + held_s - self._episode_start_s)
        self._reset()
        return GateOutcome(prompt, gentle, active, held_s, episode, episode_s)

    def _reset(self) -> None:
        # `_seen_since` stays: it is about the world, not about the held prompt.
        self._holding = False
        self._held = None
        self._reasons = self._episode = ()
        self._since_s = self._episode_start_s = 0.0
        self._next_check_s = 0.0


# ---- settings validators (for core/settings.py) ----


#: A quiet-related setting that is not allowed; str() is the one line to show.
QuietSettingError = InputError


def validate_max_defer_min(raw: object, key: str = "max_defer_min") -> int:
    """Minutes a prompt may be held while quiet: 0 (never hold) or 5 to 240."""
    if (isinstance(raw, int) and not isinstance(raw, bool)
            and (raw == 0 or MAX_DEFER_MIN_LOW <= raw <= MAX_DEFER_MIN_HIGH)):
        return raw
    raise QuietSettingError(
        f"{key} = {show_value(raw)} is not allowed: use a whole number from {MAX_DEFER_MIN_LOW} to "
        f"{MAX_DEFER_MIN_HIGH} (0 = never hold a prompt back)")


def normalise_app_name(name: str) -> str:
    """How quiet_apps names are compared: lower case, without a ".exe" suffix."""
    lowered = name.strip().lower()
    return lowered[:-4] if lowered.endswith(".exe") else lowered


def validate_quiet_apps(raw: object, key: str = "quiet_apps") -> tuple[str, ...]:
    """Process names (not paths) whose running means "do not disturb", e.g. ["zoom", "obs"].

    Returns them normalised (lower case, no ".exe", duplicates dropped, order kept).
    """
    allowed = (f"use a list of up to {MAX_QUIET_APPS} program names (no folders), e.g. "
               '["zoom", "teams", "obs"]')
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise QuietSettingError(f"{key} = {show_value(raw)} is not allowed: {allowed}")
    if len(raw) > MAX_QUIET_APPS:
        raise QuietSettingError(f"{key} has {len(raw)} names, too many: {allowed}")
    names: list[str] = []
    for item in raw:
        if (not isinstance(item, str) or not item.strip() or "/" in item or "\\" in item
                or len(item.strip()) > MAX_QUIET_APP_LEN):
            raise QuietSettingError(f"{key} = {show_value(raw)} is not allowed: "
                                    f"{show_value(item)} is not a program name; {allowed}")
        name = normalise_app_name(item)
        if name not in names:
            names.append(name)
    return tuple(names)


def parse_quiet_apps_text(text: str, key: str = "quiet_apps") -> tuple[str, ...]:
    """What a user typed for `config set quiet_apps ...`: names separated by commas
    ("zoom, teams"); an empty text clears the list."""
    parts = [p.strip() for p in text.split(",")]
    return validate_quiet_apps([p for p in parts if p], key)


def validate_quiet_when(raw: object, key: str = "quiet_when") -> tuple[str, ...]:
    """Which kinds of quiet hold prompts: any of QUIET_KINDS (an empty list: none of them;
    quiet_apps still count). Returned in QUIET_KINDS order, each once."""
    allowed = ("use a list of any of " + ", ".join(f'"{k}"' for k in QUIET_KINDS)
               + " (an empty list: none of them)")
    if isinstance(raw, str):
        raw = [raw] if raw else []
    if not isinstance(raw, (list, tuple)):
        raise QuietSettingError(f"{key} = {show_value(raw)} is not allowed: {allowed}")
    for item in raw:
        if item not in QUIET_KINDS:
            raise QuietSettingError(f"{key} has {show_value(item)}, which is not one of them: "
                                    f"{allowed}")
    return tuple(k for k in QUIET_KINDS if k in raw)


def parse_quiet_when_text(text: str, key: str = "quiet_when") -> tuple[str, ...]:
    """`config set quiet_when camera,microphone` (commas and/or spaces; "_" may stand for
    "-"); "none" or an empty text: none of them, "all": every kind."""
    words = [w.replace("_", "-") for w in re.split(r"[,\s]+", text.strip().lower()) if w]
    if words == ["all"]:
        return QUIET_KINDS
    if words == ["none"]:
        words = []
    return validate_quiet_when(words, key)
