"""Passwords never leave the process: a URI's password (`user:password@host`, or a
`password=` query parameter) is replaced by `***` in whatever the sweep records, prints or
raises. Storage and tracking URIs are config values like any other, so without this they
would land in every run's params, its config.yaml and every error line about them."""

from __future__ import annotations

import io
import logging
import re
import sys
from pathlib import Path
from typing import Any

_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:)[^\s@/]+@")
_QUERY = re.compile(r"(?P<head>[?&;]password=)[^&\s;]+", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with every URI password replaced by `***`."""
    return _QUERY.sub(r"\g<head>***", _USERINFO.sub(r"\g<head>***@", text))


class _Redacting(io.TextIOBase):
    """A text stream that redacts each write before passing it on (the libraries a sweep
    uses print URLs in their own log lines and errors)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_streams() -> None:
    """Redact everything this process writes to stdout and stderr from now on."""
    if not isinstance(sys.stdout, _Redacting):
        sys.stdout, sys.stderr = _Redacting(sys.stdout), _Redacting(sys.stderr)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), ()
        return True


def guard_job(output_dir: Path, subdir: str | None) -> None:
    """Inside a Hydra job: log lines (also those Hydra writes to the job's log file) and the
    configs Hydra saved under `output_dir/subdir` (`.hydra/`) carry no password."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_RedactingFilter())
    for path in (output_dir / subdir).glob("*.yaml") if subdir else ():
        text = path.read_text()
        if redact(text) != text:
            path.write_text(redact(text))
