"""Installing a Debian package that a test needs (Chromium, Japanese fonts) when it is missing.

Only as root with apt-get at hand; otherwise the caller raises its own error with the command
to run, so a test fails loudly instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def install_command(package: str) -> str:
    """The shell command that installs ``package`` without its recommended extras."""
    return f"apt-get update && apt-get install -y --no-install-recommends {package}"


def can_install() -> bool:
    """Whether this process may install Debian packages (root, with apt-get)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def install(package: str, *, timeout_s: int) -> str | None:
    """Install ``package``; None when it worked, else what apt-get said (its exit and tails)."""
    command = install_command(package)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode == 0:
        return None
    said = f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return f"`{command}` failed (exit {done.returncode}):\n{said}"
