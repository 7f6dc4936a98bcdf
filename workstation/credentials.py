"""Where a remembered sign-in token is kept: the OS keyring, else a 0600 file.

The token is stored per server URL. When no usable keyring backend exists
(headless Linux without a Secret Service, for instance) the token goes to
``token.json`` in the user data directory, readable by its owner only. No
Textual here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Protocol

__all__ = ["FileTokenStore", "KeyringTokenStore", "MemoryTokenStore", "TokenStore", "default_store"]

SERVICE = "readroom"
log = logging.getLogger(__name__)


class TokenStore(Protocol):
    """Keeps one bearer token per server URL."""

    def load(self, server_url: str) -> str | None: ...
    def save(self, server_url: str, token: str) -> None: ...
    def clear(self, server_url: str) -> None: ...


class MemoryTokenStore:
    """Tokens in a dict (tests; or when the user does not want to be remembered)."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def load(self, server_url: str) -> str | None:
        return self.tokens.get(server_url)

    def save(self, server_url: str, token: str) -> None:
        self.tokens[server_url] = token

    def clear(self, server_url: str) -> None:
        self.tokens.pop(server_url, None)


class FileTokenStore:
    """Tokens in a JSON file created with mode 0600 (the keyring fallback)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.chmod(self.path, 0o600)  # an older file may have had wider permissions

    def load(self, server_url: str) -> str | None:
        return self._read().get(server_url)

    def save(self, server_url: str, token: str) -> None:
        data = self._read()
        data[server_url] = token
        self._write(data)

    def clear(self, server_url: str) -> None:
        data = self._read()
        if data.pop(server_url, None) is not None:
            self._write(data)


class KeyringTokenStore:
    """Tokens in the OS keyring (service ``readroom``, user = server URL)."""

    def load(self, server_url: str) -> str | None:
        import keyring

        return keyring.get_password(SERVICE, server_url)

    def save(self, server_url: str, token: str) -> None:
        import keyring

        keyring.set_password(SERVICE, server_url, token)

    def clear(self, server_url: str) -> None:
        import keyring
        from keyring.errors import PasswordDeleteError

        with contextlib.suppress(PasswordDeleteError):
            keyring.delete_password(SERVICE, server_url)


def _keyring_usable() -> bool:
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
    except Exception:  # any import or backend discovery failure means: no keyring
        return False
    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0


def default_store(data_dir: Path) -> TokenStore:
    """The keyring when a real backend exists, else ``data_dir/token.json``."""
    if _keyring_usable():
        return KeyringTokenStore()
    log.info("no keyring backend; remembered tokens go to a 0600 file")
    return FileTokenStore(data_dir / "token.json")
