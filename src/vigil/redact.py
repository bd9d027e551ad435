"""Secrets out of everything a person can read: logs, status, errors and the API.

Camera URLs carry credentials in three places: the userinfo (`rtsp://admin:pw@host/`), the
query (`?user=admin&password=pw`) and, on some cheap recorders, the path
(`/user=admin&password=pw&channel=1`). FFmpeg and PyAV echo whole URLs back in their error
messages, so free text is redacted as well as the URLs Vigil formats itself. This module is
the lowest layer: every other one may use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
# Whole words of a field or parameter name that mark its value secret. Words, not substrings:
# `keyframes_only` is not a key.
_SECRET_WORDS = frozenset(
    {
        "auth",
        "credential",
        "credentials",
        "key",
        "apikey",
        "pass",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "sig",
        "signature",
        "token",
    }
)
_USER_NAMES = frozenset({"user", "username", "login", "usr"})
_PARAMETER = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]*)=([^&;#?/\s'\"]*)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>\\]+")


def is_secret_name(name: str) -> bool:
    """Whether a field or parameter called `name` holds a credential."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    return name.lower() in _USER_NAMES or any(w in _SECRET_WORDS for w in words)


def _parameters(text: str) -> str:
    def hide(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name}={HIDDEN}" if is_secret_name(name) and match.group(2) else match.group(0)

    return _PARAMETER.sub(hide, text)


def redact_url(url: str) -> str:
    """The URL with its user name, password and credential parameters replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all (a bad IPv6 host, say): hide what looks secret
        return _parameters(re.sub(r"//[^/@\s]*@", f"//{HIDDEN}@", url))
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    return urlunsplit(
        (parts.scheme, netloc, _parameters(parts.path), _parameters(parts.query), parts.fragment)
    )


def redact_text(text: str) -> str:
    """Free text (an FFmpeg error, a log line) with every URL in it redacted."""
    return _URL.sub(lambda match: redact_url(match.group(0)), text)


def redact_document(value: Any) -> Any:
    """A JSON-like document with secret-named fields hidden and every URL redacted."""
    if isinstance(value, Mapping):
        return {
            key: HIDDEN if is_secret_name(str(key)) and item else redact_document(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_document(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
