"""InstanceLock with real processes: races, kill -9, inheritance, the folder's permissions."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from psoas_break.adapters.files.single_instance import InstanceLock, ensure_private_dir
from psoas_break.ports import StorageError

pytestmark = pytest.mark.timeout(120)

# A contender: imports, says "ready", waits for "go", tries the lock, reports, then holds it
# until its stdin closes (or it is killed).
CONTENDER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from psoas_break.adapters.files.single_instance import InstanceLock
    lock = InstanceLock(Path(sys.argv[1]))
    print("ready", flush=True)
    sys.stdin.readline()
    if lock.acquire():
        print("won", os.getpid(), flush=True)
    else:
        print("lost", lock.owner_pid(), flush=True)
    sys.stdin.readline()
    """
)


@pytest.fixture
def lock_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pb-lock-") as tmp:
        yield Path(tmp) / "run" / "instance.lock"


def start_contender(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CONTENDER, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)
        for stream in (p.stdin, p.stdout):
            if stream is not None:
                stream.close()


def race(path: Path, n: int) -> tuple[list[subprocess.Popen[str]], list[str]]:
    """Start n contenders, let them all try at the same moment, return their reports."""
    procs = [start_contender(path) for _ in range(n)]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:  # "go" to everyone in a tight loop: they all try within milliseconds
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        assert p.stdout is not None
        reports.append(p.stdout.readline().strip())
    return procs, reports


def test_ten_at_once_exactly_one_wins_every_round(lock_path: Path) -> None:
    for round_no in range(5):
        procs, reports = race(lock_path, 10)
        try:
            winners = [r for r in reports if r.startswith("won ")]
            assert len(winners) == 1, reports
            winner_pid = int(winners[0].split()[1])
            losers = [r for r in reports if r.startswith("lost ")]
            assert len(losers) == 9, reports
            # Every loser names the winner, even those that looked before it wrote its pid.
            assert {r.split()[1] for r in losers} == {str(winner_pid)}, reports
            assert InstanceLock(lock_path).owner_pid() == winner_pid
            winner = next(p for p in procs if p.pid == winner_pid)
            if round_no % 2:
                # Leave a stale file with a dead pid behind for the next round.
                winner.send_signal(signal.SIGKILL)
                winner.wait(timeout=30)
        finally:
            stop(procs)
    assert InstanceLock(lock_path).owner_pid() is None


def test_kill_9_holder_then_a_new_one_acquires(lock_path: Path) -> None:
    procs, reports = race(lock_path, 1)
    try:
        assert reports == [f"won {procs[0].pid}"]
        mine = InstanceLock(lock_path)
        assert mine.acquire() is False
        assert mine.owner_pid() == procs[0].pid
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(timeout=30)
    finally:
        stop(procs)
    # The file is still there, with the dead holder's pid in it ...
    assert lock_path.read_text().strip() == str(procs[0].pid)
    # ... and it blocks nobody.
    assert mine.owner_pid() is None
    assert mine.acquire() is True
    try:
        assert lock_path.read_text().strip() == str(os.getpid())
        # A new process sees us as the owner.
        procs2, reports2 = race(lock_path, 1)
        stop(procs2)
        assert reports2 == [f"lost {os.getpid()}"]
    finally:
        mine.release()
    assert InstanceLock(lock_path).owner_pid() is None


def test_release_lets_another_process_in(lock_path: Path) -> None:
    with InstanceLock(lock_path) as lock:
        assert lock.acquire()
        assert lock.held
        assert lock.acquire()  # idempotent while held
    assert not lock.held
    procs, reports = race(lock_path, 1)
    try:
        assert reports == [f"won {procs[0].pid}"]
    finally:
        stop(procs)


def test_children_do_not_inherit_the_lock(lock_path: Path) -> None:
    # The holder starts a long-lived child (like espeak) and is then killed: the child must
    # not keep the lock alive.
    script = textwrap.dedent(
        """
        import subprocess, sys, time
        from pathlib import Path
        from psoas_break.adapters.files.single_instance import InstanceLock
        lock = InstanceLock(Path(sys.argv[1]))
        assert lock.acquire()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock_path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    grandchild_pid = int(holder.stdout.readline())
    try:
        assert InstanceLock(lock_path).owner_pid() == holder.pid
        holder.kill()
        holder.wait(timeout=30)
        os.kill(grandchild_pid, 0)  # still alive
        lock = InstanceLock(lock_path)
        assert lock.acquire() is True
        lock.release()
    finally:
        holder.stdout.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild_pid, signal.SIGKILL)


def test_folder_is_private_and_garbage_pid_is_none(lock_path: Path) -> None:
    lock = InstanceLock(lock_path)
    assert lock.owner_pid() is None  # nothing there yet
    assert lock.acquire()
    lock.release()
    assert stat.S_IMODE(lock_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(lock_path.stat().st_mode) == 0o600
    lock_path.write_text("not a pid\n")
    assert InstanceLock(lock_path).owner_pid() is None


def test_ensure_private_dir_narrows_a_wide_folder(tmp_path: Path) -> None:
    folder = tmp_path / "wide"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(os.name != "posix" or os.getuid() != 0, reason="needs root to chown")
def test_ensure_private_dir_refuses_another_users_folder(tmp_path: Path) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(StorageError, match="belongs to another user"):
        ensure_private_dir(folder)
    with pytest.raises(StorageError, match="belongs to another user"):
        InstanceLock(folder / "instance.lock").acquire()
    # Their folder as the parent of ours: refused too, even though ours would be fine.
    os.chmod(folder, 0o777)
    with pytest.raises(StorageError, match=f"the folder {folder} belongs to another user"):
        ensure_private_dir(folder / "psoas-break")


def test_unusable_folder_is_a_plain_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create the folder"):
        InstanceLock(blocker / "sub" / "instance.lock").acquire()


def test_a_dead_pid_in_a_held_file_is_not_reported(lock_path: Path) -> None:
    # The moment between a new holder's lock and its pid write, after a kill -9: the file
    # still names the dead process. owner_pid must not report that pid.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    holder = InstanceLock(lock_path)
    assert holder.acquire()
    try:
        lock_path.write_text(f"{dead.pid}\n")
        assert InstanceLock(lock_path).owner_pid() is None
        lock_path.write_text(f"{os.getpid()}\n")
        assert InstanceLock(lock_path).owner_pid() == os.getpid()
    finally:
        holder.release()
