"""Readroom workstation: the radiologist's terminal reading and dictation tool."""
