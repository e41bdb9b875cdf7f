"""Commands: every input to the app, as one typed vocabulary. Pure: stdlib only.

A menu entry, a notification button, a control request, a lock or sleep signal: each becomes
one of these values before it reaches the engine thread, and the runtime dispatches on the
type. Durations are seconds, everywhere (minutes exist only at the edges a person sees).

Engine commands change the sitting state (`SittingEngine.command`); app commands are carried
out by the runtime around it (saving a setting, opening a page, quitting, answering status).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psoas_break.core.engine import Status
    from psoas_break.core.settings import Settings
    from psoas_break.core.stats import Summary


@dataclass(frozen=True)
class TakeBreak:
    """ "Take a break now" / "I'm up" / "Stopped — taking a break": start a break."""


@dataclass(frozen=True)
class EndBreak:
    """ "Back to work" / "Back on the road" before the break's time is up (it still counts)."""


@dataclass(frozen=True)
class Snooze:
    """Postpone the stretch prompt by `seconds`; None uses the `snooze_min` setting."""

    seconds: float | None = None


@dataclass(frozen=True)
class Skip:
    """Skip this stretch break: the next one comes a full interval later."""


@dataclass(frozen=True)
class Pause:
    """Pause reminders for `seconds` (a countdown; it always ends by itself)."""

    seconds: float


@dataclass(frozen=True)
class PauseUntilTomorrow:
    """Pause until the next working period starts (or the next local midnight)."""


@dataclass(frozen=True)
class Resume:
    """End a pause now; during a break, end the break (back to work)."""


@dataclass(frozen=True)
class ScreenLock:
    """The session's screen was locked (True) or unlocked (False)."""

    locked: bool


@dataclass(frozen=True)
class OffHours:
    """Outside (True) or back inside (False) working hours: quietly paused meanwhile."""

    active: bool


@dataclass(frozen=True)
class DeferPrompt:
    """The stretch prompt `prompt_id` is held back (fullscreen, a call, do-not-disturb): it is
    not repeated or counted as ignored while held."""

    prompt_id: int


@dataclass(frozen=True)
class ReleasePrompt:
    """The held prompt was shown after all; its repeat countdown starts now."""

    prompt_id: int


@dataclass(frozen=True)
class ApplySettings:
    """New settings take effect at once; the current cycle keeps its elapsed time."""

    settings: Settings


EngineCommand = (TakeBreak | EndBreak | Snooze | Skip | Pause | PauseUntilTomorrow | Resume
                 | ScreenLock | ApplySettings | OffHours | DeferPrompt | ReleasePrompt)


@dataclass(frozen=True)
class SetSetting:
    """Change one setting to `value` (already the setting's type) and save it."""

    key: str
    value: Any


@dataclass(frozen=True)
class ReloadSettings:
    """Re-read the settings files (after `psoas-break config set` changed them)."""


@dataclass(frozen=True)
class SettingsSaved:
    """The settings store wrote a change: these settings are now on disk (from the job thread)."""

    settings: Settings


@dataclass(frozen=True)
class SetAutostart:
    """Turn "Start at login" on or off."""

    enabled: bool


@dataclass(frozen=True)
class AutostartChanged:
    """ "Start at login" is now on or off (read back after switching it)."""

    enabled: bool


@dataclass(frozen=True)
class ShowStretch:
    """Open the page of the current (or last) prompt's exercise."""


@dataclass(frozen=True)
class ShowWeek:
    """Open the chart of the last seven days."""


@dataclass(frozen=True)
class ShowAbout:
    """Open the About page."""


@dataclass(frozen=True)
class Sleep:
    """The system is about to suspend (True) or has resumed (False)."""

    sleeping: bool


@dataclass(frozen=True)
class IdleChanged:
    """The idle source said its answer changed (the user went idle past a threshold that
    matters, came back, or the source was lost or replaced): the tick this step takes reads it.
    Event-driven sources post it, so nothing polls them."""


@dataclass(frozen=True)
class QuietChecked:
    """The quiet detectors answered: these reasons are active now (empty: not quiet)."""

    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QuietChanged:
    """A quiet detector that watches (a call, a screen share) saw its answer change: ask the
    detectors now instead of at the next check, so a held prompt leaves as the call ends."""

    detector: str


@dataclass(frozen=True)
class NotifierState:
    """Notifications stopped working (`working` False) or work again; `detail` for the log."""

    working: bool
    detail: str = ""


@dataclass(frozen=True)
class Notice:
    """Tell the user one line (a collaborator on another thread noticed something)."""

    text: str


@dataclass(frozen=True)
class RoadSample:
    """The location source's ground speed in m/s (None: no fix), measured at `mono_s` on the
    app's clock (the source's thread stamps it). Never a position."""

    speed_mps: float | None
    mono_s: float


@dataclass(frozen=True)
class LocationState:
    """The location source now in use ("none": stops are reported by hand), and why."""

    source: str
    detail: str = ""


@dataclass(frozen=True)
class GetStatus:
    """Answer with a `StatusReport` (the control channel's `status`)."""


@dataclass(frozen=True)
class Quit:
    """Stop the app: close the open sit, flush the history, remove the icon."""


AppCommand = (
    SetSetting | ReloadSettings | SettingsSaved | SetAutostart | AutostartChanged | ShowStretch
    | ShowWeek | ShowAbout | Sleep | IdleChanged | QuietChecked | QuietChanged | NotifierState
    | Notice | RoadSample | LocationState | GetStatus | Quit
)

Command = EngineCommand | AppCommand

# ---- answers (to a caller that waits: the control channel) ----


@dataclass(frozen=True)
class StatusReport:
    """What `psoas-break status` shows: the engine snapshot and the facts around it."""

    status: Status
    text: str
    today: Summary
    driving: str | None
    mono_s: float
    backends: Mapping[str, str]
    pid: int = 0
    version: str = ""
    scale: float = 1.0  # engine seconds per real second (1 unless a test shortens minutes)
    road: Mapping[str, object] | None = None  # driver profile: the road and the planner


@dataclass(frozen=True)
class Outcome:
    """The engine thread's answer to one command: notices for the user (the control channel
    prints the first), a status report for `GetStatus`."""

    notices: tuple[str, ...] = ()
    report: StatusReport | None = None
