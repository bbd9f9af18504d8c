"""The one progress bar of archlab's long commands: a rich bar on stderr, or plain lines in a log.

Where stderr is a terminal the bar redraws in place; where it is not (CI logs, ``nohup``), the
bar stays silent and the caller's :meth:`ProgressBar.line` calls print one line each, so a log
shows progress without escape codes. A disabled bar (``enabled=False``: another rank, a quiet
run) does nothing. Lifecycle: create, enter (``with``), :meth:`update` any number of times, exit.
"""
from __future__ import annotations

import sys


class ProgressBar:
    """A bar for ``total`` units of work, ``done`` of them already finished.

    ``fields`` names extra columns shown after the count (``{"loss": "-"}`` adds "loss -"); ``eta``
    adds the estimated time remaining."""

    def __init__(self, enabled: bool, description: str, total: int, *, done: int = 0, fields: dict | None = None,
                 eta: bool = False):
        self.bar, self.plain, self.description = None, False, description
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        console = Console(stderr=True)
        self.plain = not console.is_terminal
        fields = dict(fields or {})
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   *(TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields), TimeElapsedColumn()]
        if eta:
            columns.append(TimeRemainingColumn())
        self.bar = Progress(*columns, console=console, transient=False, disable=self.plain)
        self.task = self.bar.add_task(description, total=total, completed=done, **fields)

    @property
    def enabled(self) -> bool:
        return self.bar is not None

    def update(self, **changes) -> None:
        """Change the bar: ``completed=``, ``advance=``, ``description=`` or a field given at creation."""
        if self.bar is not None:
            self.bar.update(self.task, **changes)

    def line(self, text: str) -> None:
        """Print ``text`` as one line where there is no live bar (a log file); nothing on a terminal."""
        if self.bar is not None and self.plain:
            print(text, file=sys.stderr, flush=True)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
