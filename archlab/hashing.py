"""The one way archlab names content by a short hash: cache keys, spec hashes, settings fingerprints.

``digest(data)`` is the first 16 hex digits of SHA-256 over ``data`` as sorted-key JSON (values
JSON cannot hold are written with ``str``); ``text_digest(text)`` the same over a string that is
already canonical. 16 hex digits = 64 bits: collisions among the few thousand keys a project
holds are practically impossible, and the keys stay readable in CSV files.
"""
from __future__ import annotations

import hashlib
import json

LENGTH = 16


def text_digest(text: str, length: int = LENGTH) -> str:
    """SHA-256 of ``text`` (UTF-8), first ``length`` hex digits."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def digest(data, length: int = LENGTH) -> str:
    """SHA-256 of ``data`` as sorted-key JSON (``str`` for anything JSON cannot hold), first ``length`` hex digits."""
    return text_digest(json.dumps(data, sort_keys=True, default=str), length)
