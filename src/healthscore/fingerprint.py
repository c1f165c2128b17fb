"""Which data a model belongs to: the project, its tables and columns, the catalogue version.

A model trained on one data set must not silently score another: the tiers, the playbooks
and the champion gate would all be wrong without a word. Every bundle records a *schema
fingerprint* of the data it was trained on:

* the **project** name (``[project] name`` in the config; by default the data folder's name,
  the DuckDB file's name or the database name), which also names the model folder
  ``models/<project>/``, the MLflow experiment and the registered model;
* the **tables and columns** of the input contract that the data supplied;
* the **feature catalogue version** (:data:`~healthscore.features.catalogue.CATALOGUE_VERSION`),
  bumped whenever a feature's meaning changes.

Scoring a data set checks its fingerprint against the bundle's: another project, another
catalogue version, or a table or column the model was trained with and the data lacks, is a
:class:`~healthscore.errors.ModelError` with one clear message. ``--force`` overrides it, and
the output says so. The fingerprint is about the data's shape, not its content: next week's
export of the same project matches (the content hash of a training set is
:func:`healthscore.dataset.data_fingerprint`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from healthscore.config import Config
from healthscore.errors import ModelError
from healthscore.features.catalogue import CATALOGUE_VERSION
from healthscore.schema import TABLES
from healthscore.storage import DataSource

FINGERPRINT_FILE = "fingerprint.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def project_name(data: str | Path, config: Config) -> str:
    """The project of a data set: ``[project] name``, else derived from where the data is.

    A folder gives its own name, a ``.duckdb`` file its stem, a database URL its database
    name. Characters other than letters, digits, ``_ . -`` become ``-``.

    Examples
    --------
    >>> project_name("data/demo", Config())
    'demo'
    >>> project_name("postgresql://cs@db.internal:5432/crm", Config())
    'crm'
    """
    if config.project.name:
        return _safe(config.project.name)
    text = str(data)
    if "://" in text:
        try:
            database = make_url(text).database or ""
        except Exception:
            database = text.rsplit("/", 1)[-1]
        return _safe(Path(database).stem or "default")
    path = Path(text)
    name = path.stem if path.suffix.lower() in (".duckdb", ".db") else path.resolve().name
    return _safe(name or "default")


def _safe(name: str) -> str:
    return _UNSAFE.sub("-", name.strip()).strip("-") or "default"


@dataclass(frozen=True)
class SchemaFingerprint:
    """The project, the contract columns supplied per table, the catalogue version."""

    project: str
    tables: dict[str, tuple[str, ...]] = field(default_factory=dict)
    catalogue_version: int = CATALOGUE_VERSION

    def to_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "tables": {name: list(cols) for name, cols in sorted(self.tables.items())},
            "catalogue_version": self.catalogue_version,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> SchemaFingerprint:
        tables = raw.get("tables", {})
        if not isinstance(raw.get("project"), str) or not isinstance(tables, dict):
            raise ModelError("the bundle's fingerprint.json is malformed")
        return cls(
            project=str(raw["project"]),
            tables={str(k): tuple(str(c) for c in v) for k, v in tables.items()},
            catalogue_version=int(str(raw.get("catalogue_version", 0))),
        )

    def mismatches(self, data: SchemaFingerprint) -> list[str]:
        """Why a model with this fingerprint cannot score ``data`` (empty when it can)."""
        reasons = []
        if data.project != self.project:
            reasons.append(
                f"it was trained on project {self.project!r}, the data is {data.project!r}"
            )
        if data.catalogue_version != self.catalogue_version:
            reasons.append(
                f"it was trained with feature catalogue version {self.catalogue_version}, "
                f"this healthscore computes version {data.catalogue_version}"
            )
        for table, columns in self.tables.items():
            have = set(data.tables.get(table, ()))
            if table not in data.tables:
                reasons.append(f"the data has no {table} table")
            elif lacking := [c for c in columns if c not in have]:
                reasons.append(f"the data's {table} lacks {', '.join(lacking)}")
        return reasons


def schema_fingerprint(source: DataSource, project: str) -> SchemaFingerprint:
    """The fingerprint of an opened data set under ``project``."""
    tables = {}
    for name in sorted(source.present):
        if not TABLES[name].model_input:
            continue
        contract = [c.name for c in TABLES[name].columns]
        tables[name] = tuple(c for c in contract if source.has_column(name, c))
    return SchemaFingerprint(project, tables)


def write_fingerprint(fingerprint: SchemaFingerprint, directory: str | Path) -> Path:
    """Write ``fingerprint.json`` into a bundle folder being assembled."""
    path = Path(directory) / FINGERPRINT_FILE
    path.write_text(json.dumps(fingerprint.to_dict(), indent=2, sort_keys=True))
    return path


def read_fingerprint(bundle: str | Path) -> SchemaFingerprint | None:
    """The fingerprint of a bundle, or None for a bundle written before fingerprints."""
    path = Path(bundle) / FINGERPRINT_FILE
    if not path.is_file():
        return None
    try:
        return SchemaFingerprint.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path} is not a valid fingerprint: {exc}") from None


def check_model_matches(
    model_fingerprint: SchemaFingerprint | None,
    data_fingerprint: SchemaFingerprint,
    *,
    model: str,
    force: bool = False,
) -> str:
    """``"ok"`` when the model may score the data; otherwise a ModelError, or with ``force``
    a ``"forced: ..."`` note that the output records."""
    if model_fingerprint is None:
        reasons = ["the bundle has no fingerprint (it was written by an older healthscore)"]
    else:
        reasons = model_fingerprint.mismatches(data_fingerprint)
    if not reasons:
        return "ok"
    why = "; ".join(reasons)
    if force:
        return f"forced: {why}"
    raise ModelError(
        f"the model {model} does not match this data: {why}. Score with the model trained on "
        f"this project (models/{data_fingerprint.project}/latest), train one with "
        "`healthscore train`, set the same [project] name in both configs if they are the "
        "same data set, or pass --force to score anyway (the output records it)."
    )
