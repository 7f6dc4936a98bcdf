"""Append-only, hash-chained audit events: record, verify, export."""
