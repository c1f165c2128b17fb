"""Peak resident memory of a process, measured so that its parent's memory does not leak in.

``ru_maxrss`` of a child on Linux starts from the memory its parent had when it was spawned
(the high-water mark survives ``exec``), so a benchmark that has generated or loaded data
would inflate every figure it measures. Inside the measured process, :func:`peak_rss_gib`
reads the kernel's high-water mark of the process's own address space (``VmHWM``); for a
program that cannot report it, :func:`run_measured` starts it from a small helper process.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

_HELPER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"seconds": time.perf_counter() - started, "kib": usage.ru_maxrss,
                  "code": os.waitstatus_to_exitcode(status)}))
"""


def peak_rss_gib() -> float:
    """Peak resident memory of this process since it started, in GiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def run_measured(command: list[str], *, stderr) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (GiB) and exit code of ``command`` (a program path first)."""
    done = subprocess.run(
        [sys.executable, "-S", "-c", _HELPER, *command],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        check=False,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["kib"] / 2**20, result["code"]
