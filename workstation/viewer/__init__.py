"""Readroom workstation: viewer."""
