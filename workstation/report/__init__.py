"""Readroom workstation: report."""
