"""The status line of an app, the one handler every callback goes through, and a thread-safe
way to collect the backends' warnings for the user.

``warnings.catch_warnings`` swaps process-wide state (the filters and ``showwarning``), so two
threads using it at once corrupt each other. Instead, one hook is installed once per process
and routes a warning to the collector of the thread that raised it, if that thread has one.
"""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import os
import re
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence

import ipywidgets as W

from ._params import TRUE

__all__ = ["DEBUG_ENV", "StatusLine", "collect_warnings"]

log = logging.getLogger("explorer.apps")
DEBUG_ENV = "EXPLORER_DEBUG"

_local = threading.local()
_install_lock = threading.Lock()
_chained: list = [None]        # the showwarning our hook replaced
_MODULES = r"explorer(\.|$)"


def _hook(message, category, filename, lineno, file=None, line=None):
    sink = getattr(_local, "sink", None)
    if sink is None:
        return _chained[0](message, category, filename, lineno, file, line)
    text = str(message)
    if text not in sink:
        sink.append(text)
    return None


def _install_hook() -> None:
    """Route warnings through :func:`_hook` (again, if a ``catch_warnings`` block elsewhere
    restored the previous hook on exit); idempotent."""
    with _install_lock:
        if warnings.showwarning is not _hook:
            _chained[0] = warnings.showwarning
            warnings.showwarning = _hook
        # The backends' warnings are for the user each time, not once per code location.
        if not any(f[0] == "always" and f[3] is not None and f[3].pattern == _MODULES
                   for f in warnings.filters):
            warnings.filterwarnings("always", module=_MODULES)


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect the warnings raised by this thread (other threads are unaffected).

    Yields the list that receives each distinct message.
    """
    _install_hook()
    previous = getattr(_local, "sink", None)
    sink: list[str] = []
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous


class StatusLine:
    """Status and warning lines, the debug pane, and the safe-callback wrapper.

    ``ValueError`` is a user mistake: its message goes to the status line and the caller's
    last good result stays. Anything else is a bug: a short message on screen, the traceback
    in the log, and on screen only in debug mode (``$EXPLORER_DEBUG`` or ``?debug=1``).
    """

    def __init__(self, debug: bool | None = None) -> None:
        self.status = W.HTML(value="").add_class("explorer-status")
        self.warnings = W.HTML(value="").add_class("explorer-warnings")
        self.debug_out = W.HTML(value="").add_class("explorer-debug")
        self.debug = (os.environ.get(DEBUG_ENV, "").strip().lower() in TRUE
                      if debug is None else bool(debug))
        self.last_error: str | None = None

    def set(self, message: str, level: str = "ok") -> None:
        self.status.value = f'<span class="explorer-status-{level}">{html.escape(message)}</span>'
        if level != "error":
            self.last_error = None

    def error(self, exc: BaseException) -> None:
        """Show an exception the way the module docstring says."""
        if isinstance(exc, ValueError):
            msg = str(exc)
        else:
            log.error("callback failed", exc_info=exc)
            msg = f"Internal error ({type(exc).__name__}); the last good result is kept."
            if self.debug:
                tb = "".join(traceback.format_exception(exc))
                self.debug_out.value = f"<pre>{html.escape(tb)}</pre>"
        self.set(msg, "error")
        self.last_error = msg

    def show_warnings(self, messages: Sequence[str], prefix: str = "") -> None:
        text = "; ".join(messages)
        self.warnings.value = (
            f'<span class="explorer-status-warning">{html.escape(prefix + text)}</span>'
            if messages else ""
        )

    def safe(self, fn: Callable) -> Callable:
        """Wrap a callback so that no exception escapes (in Voila an unhandled one vanishes)."""

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the whole point is to catch everything
                self.error(exc)
            return None

        return wrapper

    @property
    def text(self) -> str:
        return _plain(self.status.value)

    @property
    def warning_text(self) -> str:
        return _plain(self.warnings.value)


def _plain(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", markup))
