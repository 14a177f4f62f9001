"""Progress of a long command: shown on a terminal, never in CI logs, pipes or files.

``check-server``, ``check-client`` and the benchmark run for minutes. On a terminal a
person wants to see that they are alive and how far they got; a log wants only what
the run found. ``wanted`` makes that choice once for all of them.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TextIO

DUMB_TERMINAL = "dumb"
"""``TERM`` of a terminal that cannot redraw a line (Emacs shells, some IDE consoles)."""
REDRAW_SECONDS = 0.1
CLEAR_LINE = "\r\x1b[K"


def wanted(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether progress belongs on ``stream``: only a terminal that can redraw a line."""
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):  # not a file, or a closed one
        return False
    environ = os.environ if environ is None else environ
    return terminal and environ.get("TERM") != DUMB_TERMINAL


class Progress:
    """A status line, ``label m:ss text``, for a command that takes a while.

    Call it with what the command is doing now. ``in_place`` redraws one line (at
    most every ``interval`` seconds); otherwise each change is a line of its own, for
    a terminal another program writes to as well. Where progress is not ``wanted``
    (or ``enabled`` is False) it writes nothing at all.
    """

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        enabled: bool | None = None,
        in_place: bool = True,
        interval: float = REDRAW_SECONDS,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self.in_place = in_place
        self.interval = interval
        self._started = time.monotonic()
        self._shown_at = -interval
        self._text = ""
        self._shown = ""
        self._on_screen = False

    def __call__(self, text: str) -> None:
        if not self.enabled:
            return
        self._text = text
        now = time.monotonic()
        if now - self._shown_at >= self.interval and (self.in_place or text != self._shown):
            self._shown_at = now
            self._show()

    def print(self, text: str, file: TextIO | None = None) -> None:
        """Print a line of output, above the status line when there is one."""
        self.clear()
        print(text, file=file if file is not None else sys.stdout, flush=True)
        if self._text and self.enabled:
            self._show()

    def clear(self) -> None:
        """Take the status line off the screen (the command's own output comes next)."""
        if self._on_screen:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
            self._on_screen = False

    def _show(self) -> None:
        seconds = int(time.monotonic() - self._started)
        line = f"{self.label} {seconds // 60}:{seconds % 60:02d}  {self._text}"
        self._shown = self._text
        if not self.in_place:
            self.stream.write(line + "\n")
        else:
            width = shutil.get_terminal_size().columns - 1
            self.stream.write(CLEAR_LINE + line[:width])
            self._on_screen = True
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.clear()
