"""A real headless browser for the report tests: Chromium driven through its own command line.

:func:`find_chromium` returns the ``chromium`` executable, installing the Debian package when
it is missing and the tests run as root; otherwise it raises :class:`BrowserUnavailable` with
the command to run, so the test fails loudly instead of being skipped. :func:`screenshot` and
:func:`dump_dom` each start a fresh browser with a throw-away profile, no network services
and no sandbox (tests often run as root in a container, where the sandbox cannot start).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import debian_packages

NAMES = ("chromium", "chromium-browser")
INSTALL = debian_packages.install_command("chromium")
_TIMEOUT_S = 120
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here."""


def find_chromium() -> str:
    """The path of the Chromium executable, installing it with apt-get if root and missing."""
    found = _which()
    if found:
        return found
    if not debian_packages.can_install():
        raise BrowserUnavailable(
            "the report's browser test needs Chromium, which is not on PATH; install it with "
            f"`sudo sh -c '{INSTALL}'` (Debian/Ubuntu) or put a `chromium` executable on PATH"
        )
    failure = debian_packages.install("chromium", timeout_s=900)
    found = _which()
    if failure or not found:
        raise BrowserUnavailable(
            f"installing Chromium: {failure or 'no chromium on PATH after it'}"
        )
    return found


def screenshot(page: Path, png: Path, *, width: int = 1400, height: int = 3000) -> Path:
    """Render ``page`` in a ``width`` x ``height`` window and save a PNG of it to ``png``."""
    png.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={png}", f"--window-size={width},{height}"], page)
    if not png.is_file():
        raise AssertionError(f"Chromium wrote no screenshot to {png}")
    return png


def dump_dom(page: Path) -> str:
    """The page's DOM, serialised after it loaded and its scripts ran."""
    return _run(["--dump-dom", "--virtual-time-budget=5000"], page)


def _which() -> str | None:
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(arguments: list[str], page: Path) -> str:
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [chromium, *_FLAGS, f"--user-data-dir={profile}", *arguments, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(
            f"Chromium exited with {done.returncode} on {page}:\n{done.stderr[-3000:]}"
        )
    return done.stdout
