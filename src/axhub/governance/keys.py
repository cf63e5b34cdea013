"""Secret keys kept apart from the data: ``<data_dir>/keys/`` (mode 0700, files 0600).

One key per purpose of keying: ``zone`` keys the integrated zone's pseudonyms,
``project:<id>`` each research project's pseudonyms, ``audit`` the audit log head.  When
``Settings.secret_key`` is set (several machines must agree), keys are derived from it with
HMAC-SHA256 over the key name; otherwise a random 32-byte key file is created per name on
first use.  The re-identification codebook lives in the same directory
(``keys/reid.duckdb``): whoever may read keys may re-identify, nobody else.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from axhub.config import Settings
from axhub.errors import ConfigError, NotFoundError

_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def keys_dir(settings: Settings) -> Path:
    return settings.data_dir / "keys"


def codebook_path(settings: Settings) -> Path:
    return keys_dir(settings) / "reid.duckdb"


class KeyStore:
    """Per-name secret keys; never logged, never written to manifests."""

    def __init__(self, settings: Settings) -> None:
        self._dir = keys_dir(settings)
        self._master = settings.secret_key.get_secret_value().encode()

    @property
    def directory(self) -> Path:
        return self._dir

    def ensure_dir(self) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._dir, 0o700)
        return self._dir

    def key(self, name: str) -> bytes:
        """The 32-byte key called ``name`` (created on first use when no master secret)."""
        if not _NAME.match(name):
            raise ConfigError(f"invalid key name {name!r}", field="key")
        if self._master:
            return hmac.new(self._master, f"axhub-key:{name}".encode(), hashlib.sha256).digest()
        path = self.ensure_dir() / (name.replace(":", "_") + ".key")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            data = path.read_bytes()
            if len(data) != 32:
                raise ConfigError("key file is damaged (not 32 bytes)", path=str(path)) from None
            return data
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
        return path.read_bytes()

    def destroy(self, name: str) -> str:
        """Overwrite and delete the key file ``name``; returns a fingerprint for the record.

        Pseudonyms made with the key can then never be recomputed (evidence of destruction:
        the fingerprint, SHA-256 of the key, first 16 hex).
        """
        if self._master:
            raise ConfigError(
                "keys derived from AXHUB_SECRET_KEY cannot be destroyed one by one; "
                "rotate the secret instead",
                field="secret_key",
            )
        path = self._dir / (name.replace(":", "_") + ".key")
        if not _NAME.match(name) or not path.exists():
            raise NotFoundError(f"no key called {name!r}", path=str(path))
        data = path.read_bytes()
        with open(path, "r+b") as fh:
            fh.write(b"\0" * len(data))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
        return hashlib.sha256(data).hexdigest()[:16]
