"""What a blob store holds on disk, for the storage tests."""

from __future__ import annotations

from pathlib import Path

from server.storage import EncryptedFileStore


def blob_files(store: EncryptedFileStore) -> list[Path]:
    """Every file under the store's fan-out directories (blobs and their temporaries);
    not the store's own files in its root."""
    return [p for p in store.root.rglob("*") if p.is_file() and p.parent != store.root]
