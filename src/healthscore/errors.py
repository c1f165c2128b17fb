"""Exceptions meant for people.

Every error a user can cause (a bad config, a malformed export, a model that does not match
the data) is raised as a :class:`HealthscoreError` subclass whose message names what is wrong
and how to fix it. The CLI prints the message and exits non-zero, without a traceback.
"""

from __future__ import annotations


class HealthscoreError(Exception):
    """Base class of every error caused by user input rather than a bug."""


class ConfigError(HealthscoreError):
    """The configuration file is missing, malformed or names unknown keys."""


class SchemaError(HealthscoreError):
    """A table does not follow the input data contract."""


class DataError(HealthscoreError):
    """The data is valid table by table but cannot serve the requested step."""


class ModelError(HealthscoreError):
    """A model bundle is missing, incomplete, or does not match the data."""


class OutputError(HealthscoreError):
    """An output cannot be written: a read-only folder, a full disk, a wrong file name."""
