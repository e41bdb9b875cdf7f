"""Shared pytest fixtures: the real headless desktop (see tests/desktop/README.md).

- `desktop`: a fresh `DesktopSession` per test (Xvfb + private session and system buses +
  private XDG dirs, ~0.2 s). Teardown stops everything it started and fails the test with
  LeakedProcessError if any process of the session survived.
- `desktop_module`: one session shared by the tests of a module (cheaper; the tests share its
  processes and services, so stop what a test started if the next one must not see it).

Any test using either fixture gets the `desktop` marker automatically (`-m "not desktop"`
deselects them). Where Xvfb or dbus-daemon is missing the tests are skipped, except on CI
(CI set), where that is a failure: CI installs them with `.ci/system-deps test`.
The harness is imported lazily, so collecting the suite works on machines without D-Bus.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    from tests.desktop import DesktopSession

_DESKTOP_FIXTURES = {"desktop", "desktop_module"}

# The suite asserts English text; apps it starts inherit this environment. Tests of other
# languages set LANGUAGE for their own processes.
os.environ["LANGUAGE"] = "en"

# Hypothesis on a busy, shared 2-core CI machine: generating inputs and running one example can
# take seconds when the other core is loaded, which trips the "too slow"/"large base example"
# health checks and the per-example deadline although nothing is wrong with the code. The
# profile drops only those timing checks; every property keeps its examples and assertions.
# A test's own @settings still override the profile for what they name (max_examples, ...).
settings.register_profile(
    "shared-machine",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example,
                           HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "shared-machine"))


def _require_desktop() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("real-desktop tests need Linux (Xvfb and D-Bus)")
    from tests.desktop import missing_tools

    missing = missing_tools()
    if missing:
        message = (
            f"real-desktop tests need {', '.join(missing)}; install them with "
            "`bash .ci/system-deps test`"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _session() -> Iterator[DesktopSession]:
    _require_desktop()
    from tests.desktop import DesktopSession

    with DesktopSession() as session:
        yield session


@pytest.fixture
def desktop() -> Iterator[DesktopSession]:
    """A private real desktop for one test (torn down and leak-checked after it)."""
    yield from _session()


@pytest.fixture(scope="module")
def desktop_module() -> Iterator[DesktopSession]:
    """A private real desktop shared by the tests of one module."""
    yield from _session()


@pytest.fixture
def desk(desktop: DesktopSession) -> DesktopSession:
    """A private desktop with a StatusNotifierWatcher, as a panel offering AppIndicator has
    (started before any app, or pystray falls back to XEmbed)."""
    desktop.start_sni_watcher()
    return desktop


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a desktop fixture with `desktop`."""
    for item in items:
        if _DESKTOP_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.desktop)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests recorded (`record_property("figures", text)`): soak and
    simulated-week measurements belong in the `make test` output, also when the tests ran in
    xdist workers, whose own output is not shown."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", "call") == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "figures"
    ]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
