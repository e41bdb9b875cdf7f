"""What a thread or a process costs at rest, from /proc (Linux): context switches and CPU.

One copy for the tests and the benchmarks (bench/ imports tests.desktop already):

    context_switches(tid)          voluntary + nonvoluntary switches of one thread of this
                                   process (each time it slept and woke): 0 more over a quiet
                                   window means the thread never woke
    context_switches(tid, pid)     the same for a thread of another process
    thread_figures(pid)            per thread of `pid`: (CPU seconds, context switches)
    window_delta(before, after)    CPU seconds and switches spent between two thread_figures

Standard library only.
"""

from __future__ import annotations

import os
from pathlib import Path

_SWITCHES = ("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")


def context_switches(tid: int | str, pid: int | str = "self") -> int:
    """Context switches of thread `tid` of process `pid` so far. Raises OSError
    (FileNotFoundError once the thread has ended)."""
    total = 0
    with open(f"/proc/{pid}/task/{tid}/status") as status:
        for line in status:
            if line.startswith(_SWITCHES):
                total += int(line.split()[1])
    return total


def thread_figures(pid: int | str) -> dict[str, tuple[float, int]]:
    """Per thread of `pid` (by tid): (CPU seconds from schedstat, context switches); threads
    that end while they are read are left out."""
    out: dict[str, tuple[float, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            run_ns = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
            out[tid] = (run_ns / 1e9, context_switches(tid, pid))
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread ended meanwhile
    return out


def window_delta(before: dict[str, tuple[float, int]],
                 after: dict[str, tuple[float, int]]) -> tuple[float, int]:
    """CPU seconds and switches spent between two `thread_figures` (a thread that ended in
    between counts nothing; one that started counts all it did)."""
    cpu_s, switches = 0.0, 0
    for tid, (cpu_after, sw_after) in after.items():
        cpu_before, sw_before = before.get(tid, (0.0, 0))
        cpu_s += cpu_after - cpu_before
        switches += sw_after - sw_before
    return cpu_s, switches
