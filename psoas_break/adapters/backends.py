"""Choosing a backend: the one helper every adapter family uses to pick what works here.

A family declares its candidates as data, best first (`Candidate(name, open, platforms,
skip=, fix=)`), and asks for the first that opens or for every one that does, e.g.
`first("idle", candidates, NullIdleSource, env_var="PSOAS_IDLE_BACKEND")` (adapters/idle).

The rules are the same for every family (pystray's PYSTRAY_BACKEND is the model):
- `env_var` names the environment override (a tuple: the first one set counts). Its value,
  stripped and lower-cased, names a candidate, or the null's name ("none", "log") for none at
  all. A value that names nothing known is logged once, listed with the reasons, and ignored.
- `first()`: the first candidate that opens, else the null object. An override forces one:
  only it is tried, even on another platform or when its `skip` says no (the user knows
  best). If it fails: the null object, its reason, and the fix "unset VAR ...". Nothing else
  is tried behind the user's back.
- `every()`: every candidate that opens, to be used together. The override is a comma-separated
  list that narrows the set; the platform filter still applies, `skip` does not.
- `plan()`: only the order and the reasons, for a family that tries at delivery time (notify).
- Every candidate that is not used says why, in candidate order: its platforms ("only on
  Windows"), its `skip` reason, what its opener raised (an AdapterError's text; anything
  else is a bug in that backend, logged with its traceback and reported as "failed: ..."),
  "not needed: X answered first" or "not used: VAR=value".
- When nothing opens on its own, `Choice.fix` is the `fix` of the first candidate that was
  tried and failed.
Nothing here raises, except `first()` without a null object when nothing opens (Unavailable).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from psoas_break.ports import AdapterError, Choice, Unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Values of `Candidate.platforms`: prefixes of sys.platform.
LINUX_BSD = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly")
MACOS = ("darwin",)
WINDOWS = ("win32",)


@dataclass(frozen=True)
class Candidate(Generic[T]):
    """One backend a family may use.

    open(): the backend, or AdapterError with the reason it cannot work here.
    platforms: sys.platform prefixes it runs on (() = every platform).
    skip(): a reason not to try it on the automatic choice (None = try it).
    fix: what the user can do when nothing works and this one was tried and failed.
    """

    name: str
    open: Callable[[], T]
    platforms: tuple[str, ...] = ()
    skip: Callable[[], str | None] | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Plan(Generic[T]):
    """What to try, in order, and why the rest is not tried.

    steps: every candidate with the reason it is not tried, or None (try it).
    notes: reasons that belong to no candidate (an unknown override value).
    override: (variable, value) when the environment chose; forced_null: it chose nothing.
    """

    family: str
    steps: tuple[tuple[Candidate[T], str | None], ...]
    notes: tuple[tuple[str, str], ...] = ()
    override: tuple[str, str] | None = None
    forced_null: bool = False

    @property
    def todo(self) -> list[Candidate[T]]:
        """The candidates to try, best first."""
        return [cand for cand, why_not in self.steps if why_not is None]

    @property
    def rejected(self) -> tuple[tuple[str, str], ...]:
        """(name, reason) of the notes and of every candidate not tried."""
        return self.notes + tuple((c.name, why) for c, why in self.steps if why is not None)


def only_on(platforms: Sequence[str]) -> str:
    """ "only on Linux/BSD", "only on macOS and Windows", ... for `Candidate.platforms`."""
    names = [name for name, group in (("Linux/BSD", LINUX_BSD), ("macOS", MACOS),
                                      ("Windows", WINDOWS)) if set(group) & set(platforms)]
    names += [p for p in platforms if not any(p in g for g in (LINUX_BSD, MACOS, WINDOWS))]
    return "only on " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1
                         else names[0])


def plan(family: str, candidates: Sequence[Candidate[T]], *, env_var: str | tuple[str, ...] = (),
         env: Mapping[str, str] | None = None, platform: str | None = None, null: str = "none",
         many: bool = False) -> Plan[T]:
    """Apply the override, the platform filter and `skip` (see module docstring)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    names = [c.name for c in candidates]
    notes: list[tuple[str, str]] = []
    override: tuple[str, str] | None = None
    wanted: set[str] = set()
    for var in (env_var,) if isinstance(env_var, str) else env_var:
        value = env.get(var, "").strip().lower()
        if not value:
            continue
        asked = [v.strip() for v in value.split(",")] if many else [value]
        unknown = [v for v in asked if v and v not in names and v != null]
        wanted = {v for v in asked if v and v not in unknown}
        if unknown:
            tail = "ignoring it" if wanted else "choosing automatically"
            message = (f"{var}: {', '.join(unknown)} is not one of: "
                       f"{', '.join([*names, null])}; {tail}")
            log.warning("%s", message)
            notes.append((var, message))
        if wanted:
            override = (var, value)
        break
    forced_null = null in wanted
    steps: list[tuple[Candidate[T], str | None]] = []
    for cand in candidates:
        why_not: str | None = None
        if override is not None and (forced_null or cand.name not in wanted):
            why_not = f"not used: {override[0]}={override[1]}"
        elif (cand.platforms and not platform.startswith(cand.platforms)
              and (override is None or many)):
            why_not = only_on(cand.platforms)
        elif override is None and cand.skip is not None:
            why_not = cand.skip()
        steps.append((cand, why_not))
    return Plan(family, tuple(steps), tuple(notes), override, forced_null)


def _open(p: Plan[T], one: bool) -> tuple[list[tuple[str, T]], list[tuple[str, str]], str | None]:
    """Open the plan's candidates in order (only until one works if `one`): the (name,
    backend) pairs opened, every reason, and the fix when nothing opened."""
    reasons = list(p.notes)
    opened: list[tuple[str, T]] = []
    fix: str | None = None
    for cand, why_not in p.steps:
        if why_not is None and one and opened:
            why_not = f"not needed: {opened[0][0]} answered first"
        elif why_not is None:
            try:
                opened.append((cand.name, cand.open()))
                continue
            except AdapterError as exc:
                why_not = str(exc) or type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - a broken backend must not stop the app
                log.warning("%s backend %s failed", p.family, cand.name, exc_info=True)
                why_not = f"failed: {type(exc).__name__}: {exc}"
            fix = fix or cand.fix
        reasons.append((cand.name, why_not))
    if opened or p.forced_null:
        return opened, reasons, None
    if p.override is not None:  # the user's choice does not work: undoing it is the fix
        fix = f"unset {p.override[0]} to let psoas-break choose"
    return opened, reasons, fix


def first(family: str, candidates: Sequence[Candidate[T]], null: Callable[[], T] | None = None,
          *, env_var: str | tuple[str, ...] = (), env: Mapping[str, str] | None = None,
          platform: str | None = None) -> tuple[T, Choice]:
    """The first candidate that opens, else `null()`, and the Choice (see module docstring)."""
    p = plan(family, candidates, env_var=env_var, env=env, platform=platform)
    opened, reasons, fix = _open(p, one=True)
    if opened:
        return opened[0][1], Choice(family, opened[0][0], tuple(reasons))
    if fix is not None and p.override is not None:
        log.warning("%s backend %s (forced by %s) is unavailable: %s", family,
                    p.override[1], p.override[0], dict(reasons).get(p.override[1]))
    if null is None:
        raise Unavailable(f"no {family} backend works here: "
                          + "; ".join(f"{n}: {r}" for n, r in reasons))
    return null(), Choice(family, "none", tuple(reasons), fix)


def every(family: str, candidates: Sequence[Candidate[T]], *, env_var: str | tuple[str, ...] = (),
          env: Mapping[str, str] | None = None, platform: str | None = None, join: str = ", "
          ) -> tuple[list[T], Choice]:
    """Every candidate that opens, in order, and the Choice (chosen: their names joined)."""
    p = plan(family, candidates, env_var=env_var, env=env, platform=platform, many=True)
    opened, reasons, fix = _open(p, one=False)
    chosen = join.join(name for name, _ in opened) or "none"
    return [backend for _, backend in opened], Choice(family, chosen, tuple(reasons), fix)
