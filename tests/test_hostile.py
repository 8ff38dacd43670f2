"""A hostile client: values a browser could send over the comm channel, set on the widget
models directly (``set_state``, as the comm handler does), for every control of every app.

Whatever arrives, the app keeps a valid state (every value passes its control's validation),
shows at most a message naming the control in its status line, never a traceback or a server
path, and still answers the next good change.
"""

import importlib
import math

import pytest
from traitlets import TraitError

from explorer.apps import APPS as REGISTERED

HOSTILE = [math.nan, math.inf, -math.inf, 1e308, -1e308, 10**30, -(10**30), "abc",
           "__import__('os').system('true')", None, [1, 2], {"a": 1}, True, "", "1e5", 2**63]
#: Every registered app (a new one is covered without editing this file).
APPS = {name: importlib.import_module(path) for name, path in REGISTERED.items()}


@pytest.fixture(scope="module", params=list(APPS))
def app(request):
    return APPS[request.param].make_app(query_string="")


@pytest.fixture(autouse=True)
def no_eval_of_client_text(monkeypatch):
    """Libraries may eval their own code (namedtuple does); never anything a client sent."""
    import builtins

    original = builtins.eval

    def guarded(source, *args, **kwargs):
        if isinstance(source, str) and any(isinstance(h, str) and len(h) > 5 and h in source
                                           for h in HOSTILE):
            pytest.fail(f"client text evaluated: {source!r:.80}")
        return original(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", guarded)


def test_hostile_values_on_every_control_keep_a_valid_state(app):
    names = [p.name for p in app.params]
    for name in names:
        widget = app.controls[name]
        for value in HOSTILE:
            try:
                widget.set_state({"value": value})
            except (TraitError, TypeError, ValueError):
                pass                               # refused by the widget model itself
            for p in app.params:                   # the state behind the screen stays valid
                p.validate(app.state[p.name])
            status = app.status.value
            assert "Traceback" not in status and "/work/" not in status and "File " not in status
            if app.last_error:
                assert name in app.last_error or "Internal error" not in app.last_error, \
                    (name, value, app.last_error)
        # and the control still works with its default
        widget.set_state({"value": next(p.default for p in app.params if p.name == name)})
    assert app.last_error is None, app.last_error


def test_hostile_preset_names_and_buttons(app):
    for value in ["nope", "", None, 3, "<script>"]:
        try:
            app.controls["preset"].set_state({"value": value})
        except (TraitError, TypeError, ValueError):
            pass
        assert "<script>" not in app.status.value
    app.controls["preset"].set_state({"value": "(custom)"})
    for fmt, button in app.export_buttons.items():
        button.click()
        assert 'download="' in app.download.value, fmt
