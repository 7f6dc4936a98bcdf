"""Readroom workstation: widgets."""
