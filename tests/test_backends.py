"""The backend-choosing helper's rules, with candidates that are plain functions."""

from __future__ import annotations

import logging

import pytest

from psoas_break.adapters.backends import (
    LINUX_BSD,
    MACOS,
    WINDOWS,
    Candidate,
    every,
    first,
    only_on,
    plan,
)
from psoas_break.ports import Choice, Unavailable

VAR = "PSOAS_TEST_BACKEND"


def works(name: str) -> Candidate[str]:
    return Candidate(name, lambda: name)


def fails(name: str, reason: str = "not here", **kw: object) -> Candidate[str]:
    def open_it() -> str:
        raise Unavailable(f"{name}: {reason}")
    return Candidate(name, open_it, **kw)  # type: ignore[arg-type]


def pick(candidates: list[Candidate[str]], env: dict[str, str] | None = None,
         platform: str = "linux") -> tuple[str, Choice]:
    return first("test", candidates, lambda: "null", env_var=VAR, env=env or {},
                 platform=platform)


def test_first_that_works_and_why_not_the_others() -> None:
    chosen, choice = pick([fails("a", fix="install a"), works("b"), works("c"),
                           Candidate("w", lambda: "w", WINDOWS)])
    assert chosen == "b"
    assert choice == Choice("test", "b", (
        ("a", "a: not here"), ("c", "not needed: b answered first"), ("w", "only on Windows")
    ))


def test_nothing_works_gives_the_null_and_the_first_fix() -> None:
    chosen, choice = pick([fails("a"), fails("b", fix="install b"), fails("c", fix="install c")])
    assert (chosen, choice.chosen, choice.fix) == ("null", "none", "install b")
    with pytest.raises(Unavailable, match="no test backend works here: a: a: not here"):
        first("test", [fails("a")], env={})


def test_skip_applies_to_the_automatic_choice_only() -> None:
    wayland = Candidate("x11", lambda: "x11", skip=lambda: "Wayland session")
    assert pick([wayland, works("b")])[1].rejected == (("x11", "Wayland session"),)
    chosen, choice = pick([wayland, works("b")], {VAR: " X11 "})
    assert chosen == "x11" and choice.rejected == (("b", "not used: PSOAS_TEST_BACKEND=x11"),)


def test_a_forced_backend_is_tried_alone_even_off_its_platform() -> None:
    chosen, _ = pick([works("a"), Candidate("w", lambda: "w", WINDOWS)], {VAR: "w"})
    assert chosen == "w"
    chosen, choice = pick([works("a"), fails("b")], {VAR: "b"})
    assert (chosen, choice.chosen) == ("null", "none")
    assert dict(choice.rejected) == {"a": "not used: PSOAS_TEST_BACKEND=b", "b": "b: not here"}
    assert choice.fix == "unset PSOAS_TEST_BACKEND to let psoas-break choose"
    chosen, choice = pick([works("a")], {VAR: "none"})
    assert (chosen, choice.fix) == ("null", None)


def test_an_unknown_value_warns_once_and_chooses_automatically(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        chosen, choice = pick([works("a"), works("b")], {VAR: "carrier-pigeon"})
    assert chosen == "a"
    message = "PSOAS_TEST_BACKEND: carrier-pigeon is not one of: a, b, none; choosing automatically"
    assert choice.rejected[0] == (VAR, message)
    assert [r.getMessage() for r in caplog.records] == [message]


def test_a_broken_backend_is_a_reason_not_a_crash() -> None:
    def broken() -> str:
        raise KeyError("bug")
    chosen, choice = pick([Candidate("a", broken), works("b")])
    assert chosen == "b" and dict(choice.rejected)["a"] == "failed: KeyError: 'bug'"


def test_every_uses_all_that_work_and_the_override_narrows_the_set() -> None:
    candidates = [works("a"), fails("b"), works("c"), Candidate("m", lambda: "m", MACOS)]
    opened, choice = every("test", candidates, env={}, platform="linux", join="+")
    assert opened == ["a", "c"] and choice.chosen == "a+c"
    assert dict(choice.rejected) == {"b": "b: not here", "m": "only on macOS"}
    opened, choice = every("test", candidates, env_var=VAR, env={VAR: "c, m, zz"},
                           platform="linux")
    assert opened == ["c"]
    rejected = dict(choice.rejected)
    assert rejected["a"] == "not used: PSOAS_TEST_BACKEND=c, m, zz"
    assert rejected["m"] == "only on macOS"  # the platform filter still applies
    assert "zz is not one of" in rejected[VAR] and rejected[VAR].endswith("ignoring it")
    opened, choice = every("test", candidates, env_var=VAR, env={VAR: "none"})
    assert (opened, choice.chosen, choice.fix) == ([], "none", None)


def test_plan_keeps_order_and_the_first_variable_set_wins() -> None:
    p = plan("test", [works("a"), works("b")], env_var=("FIRST", "SECOND"),
             env={"FIRST": "", "SECOND": "b"}, null="log")
    assert [c.name for c in p.todo] == ["b"] and p.override == ("SECOND", "b")
    assert p.rejected == (("a", "not used: SECOND=b"),)
    assert plan("test", [works("a")], env_var=VAR, env={VAR: "log"}, null="log").forced_null


def test_platform_names() -> None:
    assert only_on(LINUX_BSD) == "only on Linux/BSD"
    assert only_on((*LINUX_BSD, *MACOS, *WINDOWS)) == "only on Linux/BSD, macOS and Windows"
    assert only_on(("sunos",)) == "only on sunos"
