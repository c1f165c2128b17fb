"""Japanese fonts for the tests that render Japanese pages and charts.

:func:`ensure_japanese_fonts` returns the path of a font file with Japanese glyphs, installing
Debian's ``fonts-noto-cjk`` when none is found and the tests run as root (as
:mod:`browser` installs Chromium); otherwise it raises :class:`FontsUnavailable` with the
command to run, so the test fails loudly instead of being skipped.
"""

from __future__ import annotations

import shutil
import subprocess

import debian_packages

PACKAGE = "fonts-noto-cjk"
INSTALL = debian_packages.install_command(PACKAGE)


class FontsUnavailable(RuntimeError):
    """No Japanese font is installed and none can be installed here."""


def japanese_font_file() -> str | None:
    """A font file fontconfig knows with Japanese glyphs, or None."""
    if shutil.which("fc-list") is None:
        return None
    done = subprocess.run(
        ["fc-list", ":lang=ja", "file"], capture_output=True, text=True, timeout=60, check=False
    )
    files = sorted(line.split(":")[0].strip() for line in done.stdout.splitlines() if line)
    return files[0] if files else None


def ensure_japanese_fonts() -> str:
    """The path of a Japanese font file, installing fonts-noto-cjk with apt-get if need be."""
    found = japanese_font_file()
    if found:
        return found
    if not debian_packages.can_install():
        raise FontsUnavailable(
            "the Japanese report test needs a font with Japanese glyphs; install one with "
            f"`sudo sh -c '{INSTALL}'` (Debian/Ubuntu) or any Noto Sans CJK / IPAex font"
        )
    failure = debian_packages.install(PACKAGE, timeout_s=1800)
    found = japanese_font_file()
    if failure or not found:
        raise FontsUnavailable(f"installing Japanese fonts: {failure or 'no font found after it'}")
    return found
