"""Babel extraction of the text healthscore declares as data rather than in calls.

The feature catalogue (:mod:`healthscore.features.catalogue`) declares each feature's
sentences (``text``, ``change_text``) and the KPI definitions
(:mod:`healthscore.kpis.summary`) each column's formula, as fields of declarations, not as
``_()`` calls a source extractor could find. :func:`extract_declared` is a Babel extraction
method (named in ``babel.cfg``) that reads them from the modules themselves.

The same keywords serve ``pybabel extract`` (``make locale``) and the test that checks every
message id has a Japanese translation: :data:`KEYWORDS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from healthscore.features.catalogue import CATALOGUE
from healthscore.kpis import KPI_DEFINITIONS

#: Python call names whose string arguments are message ids (Babel keyword specs), added to
#: Babel's defaults (``_``, ``gettext``, ``ngettext``, ``pgettext``...).
KEYWORDS: dict[str, Any] = {
    "t": None,
    "nt": (1, 2),
    "tc": ((1, "c"), 2),
    "N_": None,
    "NC_": ((1, "c"), 2),
    "Message": None,
}


def declared_messages(path: str) -> list[str]:
    """The message ids declared as data in the module at ``path``."""
    name = Path(path).as_posix()
    if name.endswith("features/catalogue.py"):
        messages = []
        for spec in CATALOGUE:
            messages.append(spec.text)
            if spec.change_text:
                messages.append(spec.change_text)
        return messages
    if name.endswith("kpis/summary.py"):
        return [d.formula for d in KPI_DEFINITIONS]
    return []


def extract_declared(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extraction method: ``(line, funcname, message, comments)`` of each declared text."""
    source = fileobj.read().decode("utf-8")
    lines = source.splitlines()
    for message in dict.fromkeys(declared_messages(getattr(fileobj, "name", ""))):
        first = message.split("{", 1)[0][:30] or message[:30]
        line = next((i for i, text in enumerate(lines, start=1) if first in text), 0)
        yield line, None, message, ["brace-format: keep the {placeholders} and their formats"]
