"""Blob storage: the protocol, and the encrypted filesystem backend."""

from server.storage.base import BlobNotFound, BlobRef, BlobStore
from server.storage.encrypted_fs import EncryptedFileStore, create_key, load_key

__all__ = ["BlobNotFound", "BlobRef", "BlobStore", "EncryptedFileStore", "create_key", "load_key"]
