"""Readroom workstation: templates."""
