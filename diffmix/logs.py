"""Logging for the command line: readable lines by default, one JSON object per line with ``--log-json``
(or DIFFMIX_LOG_JSON=1) for log collectors. Library modules only call ``logging.getLogger(__name__)``."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

# attributes every LogRecord has; anything else on a record came from `extra=` and is written out as a field
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, any `extra=` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        out |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(json_lines: bool = False, level: str = "INFO", prefix: str = "") -> None:
    """Send every logger's records to stderr, as JSON lines or as 'time [prefix] message' lines."""
    handler = logging.StreamHandler(sys.stderr)
    # readable lines carry their time (UTC, to the millisecond), so an operator can tell what happened when
    readable = logging.Formatter(f"%(asctime)s.%(msecs)03dZ {prefix}%(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    readable.converter = time.gmtime
    handler.setFormatter(JsonFormatter() if json_lines else readable)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for chatty in ("httpx", "httpcore"):  # a line per HTTP request the agent makes: only their warnings
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
