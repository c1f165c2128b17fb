"""Secrets out of every output: one function hides the passwords in URLs and configs.

Database URLs carry credentials (``postgresql://cs:pw@db/crm``, a tracking store
``postgresql+psycopg://user:pw@host/mlflow``, ``?password=...`` in a query string). Anything
healthscore prints, logs, tags in MLflow or writes into a bundle, a cache entry or a model
card goes through :func:`redact_url` (a single URL) or :func:`redact_config` (a whole
configuration), and error messages from drivers through :func:`scrub`, so no password ever
leaves the process.

URLs are rendered by SQLAlchemy with the password hidden (it parses the forms a regular
expression gets wrong, such as a ``/`` inside the password); query parameters whose name
suggests a secret (``password``, ``secret``, ``token``, ``key``, ``credential``) are hidden
too. Text that is not a URL passes through unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url

HIDDEN = "***"
#: Query parameters whose value is a secret.
SECRET_NAMES = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/]*):[^@]*@")


def is_url(text: str) -> bool:
    """Whether ``text`` looks like ``scheme://...``."""
    return bool(_URL.match(text))


def _parsed(text: str):
    """``text`` parsed by SQLAlchemy, the user info split at the *last* ``@`` before the query.

    Passwords are often written raw, ``@`` and ``/`` included; SQLAlchemy would cut such a
    password at its first ``@``. Re-encoding the user info first gives the same URL a driver
    reads when the password is encoded as it should be.
    """

    scheme, rest = text.split("://", 1)
    head, mark, tail = rest.partition("?")
    if "@" in head:
        userinfo, _, hostpart = head.rpartition("@")
        user, colon, password = userinfo.partition(":")
        userinfo = quote(user, safe="") + (colon + quote(password, safe="") if colon else "")
        rest = f"{userinfo}@{hostpart}{mark}{tail}"
    return make_url(f"{scheme}://{rest}")


def redact_url(text: str | Path) -> str:
    """``text`` with the password and secret query parameters of a URL hidden.

    Examples
    --------
    >>> redact_url("postgresql://cs:s3cr/et@db.internal:5432/crm")
    'postgresql://cs:***@db.internal:5432/crm'
    >>> redact_url("postgresql://cs:p@ss@db.internal/crm")
    'postgresql://cs:***@db.internal/crm'
    >>> redact_url("postgresql://cs@db/crm?password=pw&sslmode=require")
    'postgresql://cs@db/crm?password=***&sslmode=require'
    >>> redact_url("data/exports")
    'data/exports'
    """
    text = str(text)
    if not is_url(text):
        return text
    try:
        url = _parsed(text)
    except Exception:
        return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{HIDDEN}@", text)
    rendered = url.render_as_string(hide_password=True)
    for name, value in url.query.items():
        if SECRET_NAMES.search(name):
            for secret in [value] if isinstance(value, str) else value:
                rendered = _replace_secret(rendered, secret)
    return rendered


def _replace_secret(text: str, secret: str) -> str:
    """``text`` with ``secret`` hidden, as written and as URL-encoded."""
    for form in sorted({secret, quote(secret, safe=""), quote_plus(secret)}, key=len, reverse=True):
        if form:
            text = text.replace(form, HIDDEN)
    return text


def secrets_in(text: str) -> list[str]:
    """The secret values a URL carries (its password, secret query values), for scrubbing."""
    text = str(text)
    if not is_url(text):
        return []
    try:
        url = _parsed(text)
    except Exception:
        match = _USERINFO.search(text)
        return [text[match.end("user") + 1 : match.end() - 1]] if match else []
    found = [url.password] if url.password else []
    for name, value in url.query.items():
        if SECRET_NAMES.search(name):
            found += [value] if isinstance(value, str) else list(value)
    return [s for s in found if s]


def scrub(message: str, *urls: str) -> str:
    """``message`` with every secret of ``urls`` replaced (for driver error messages)."""
    for url in urls:
        for secret in sorted(secrets_in(url), key=len, reverse=True):
            message = _replace_secret(message, secret)
    return message


def redact_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A configuration dump (``Config.model_dump()``) with every URL in it redacted."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(walk(v) for v in value)
        if isinstance(value, str):
            return redact_url(value)
        return value

    return walk(raw)
