"""One logging setup for every long-running mechbus process: text or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import runpy
import sys
import traceback
from datetime import UTC, datetime
from enum import StrEnum
from types import TracebackType
from typing import IO

# What a log line may say of a message on the bus, passed with ``extra=``: never its body.
MESSAGE_FIELDS = ("message_id", "type", "sender", "stream_seq", "reason")
# uvicorn installs handlers of its own unless told otherwise; these then go through ours.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def error_text(exc_info: ExcInfo) -> str:
    """The traceback and the error's first line only: later lines of a database error quote
    the statement's parameters, which may be personal data."""
    kind, exc, tb = exc_info
    first = str(exc).partition("\n")[0]
    return "".join(traceback.format_tb(tb)) + f"{kind.__name__}: {first}"


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT)

    def formatException(self, ei: ExcInfo | tuple[None, None, None]) -> str:
        return error_text(ei) if ei[0] is not None else ""


class JsonLines(logging.Formatter):
    """One JSON object a line: time (RFC 3339, UTC), level, logger, message, and the fields
    of ``MESSAGE_FIELDS`` a record carries."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, object] = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in MESSAGE_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = error_text(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup(
    form: LogFormat | str = LogFormat.TEXT,
    level: LogLevel | str = LogLevel.INFO,
    stream: IO[str] | None = None,
) -> None:
    """Send every logger's records, uvicorn's included, to one handler on ``stream`` (stderr:
    a command's own output on stdout stays apart from its log stream)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if LogFormat(form) is LogFormat.JSON else TextLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LogLevel(level).upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def run_module(argv: list[str]) -> None:
    """``python -m adapters.observability.logs FORMAT LEVEL MODULE ARGS...``: run ``MODULE``
    as a program with this logging set up (how ``mechbus agency run`` starts a stub agency,
    a program that cannot import adapters/)."""
    form, level, module, *args = argv
    setup(form, level)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_module(sys.argv[1:])
