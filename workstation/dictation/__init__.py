"""Readroom workstation: dictation."""
