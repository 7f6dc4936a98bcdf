"""Blob storage: the protocol, and the encrypted filesystem backend."""

from server.storage.base import BlobNotFound, BlobRef, BlobStore
from server.storage.encrypted_fs import EncryptedFileStore, load_key

__all__ = ["BlobNotFound", "BlobRef", "BlobStore", "EncryptedFileStore", "load_key"]
