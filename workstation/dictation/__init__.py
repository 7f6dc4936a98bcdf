"""Readroom workstation: dictation (headless — no Textual here).

``audio`` (microphone and WAV sources, level meter) → ``engine`` (the Vosk
recogniser thread) → ``session`` (commands from ``commands``, spoken → written
``formatting``, partial ``diff``s) → a ``sink.ReportSink``; ``models`` finds and
installs Vosk models, ``model_cli`` is ``readroom model``.
"""
