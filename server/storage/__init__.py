"""Blob storage: the protocol, and the encrypted filesystem backend."""

from server.storage.base import BlobNotFound, BlobRef, BlobStore, WriteBatch
from server.storage.encrypted_fs import EncryptedFileStore, create_key, load_key

__all__ = [
    "BlobNotFound",
    "BlobRef",
    "BlobStore",
    "EncryptedFileStore",
    "WriteBatch",
    "create_key",
    "load_key",
]
