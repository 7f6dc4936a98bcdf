"""Readroom workstation: screens."""
