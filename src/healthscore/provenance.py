"""Where a result came from: the package version and the code's commit, recorded with runs.

Every training set records the version that built it, and every MLflow run the version and
the commit of the working copy, so a figure can always be traced to the code that made it.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def package_version() -> str:
    """The installed version of healthscore ("unknown" when run from a bare checkout)."""
    try:
        return version("healthscore")
    except PackageNotFoundError:
        return "unknown"


def git_commit(root: str | Path) -> str:
    """The commit of the working copy at ``root``, or 'unknown' outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
