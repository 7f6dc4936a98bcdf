"""Keep patient data out of logs that libraries write on their own.

pydicom reports odd values with ``warn_and_log``: a log record on the ``pydicom``
logger *and* a warning, both quoting the value (a patient's name, say). The server
silences both once per process; ``warnings.catch_warnings`` around each parse is
not enough, as it is not thread-safe and leaves the log record.
"""

from __future__ import annotations

import logging
import warnings

#: Loggers of libraries that may put dataset values into their messages.
CHATTY_LOGGERS = ("pydicom",)


def silence_value_quoting_libraries() -> None:
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.disabled = True
        logger.propagate = False
        warnings.filterwarnings("ignore", module=rf"{name}(\.|$)")
