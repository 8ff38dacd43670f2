"""The ``>>>`` examples of the app layer and the command line.

The package-wide doctest collection skips these modules (./conftest.py keeps ipywidgets and
matplotlib out of the backends' run); here they run with matplotlib's Agg backend.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

matplotlib.use("Agg")

import explorer.apps  # noqa: E402

NAMES = ["explorer.__main__", *(f"explorer.apps.{m.name}"
                                for m in pkgutil.iter_modules(explorer.apps.__path__))]


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module) if t.examples]


WITH_EXAMPLES = [name for name in NAMES if _examples(name)]


def test_the_app_layer_has_examples_to_run():
    assert {"explorer.__main__", "explorer.apps._graph", "explorer.apps._shell"} <= set(
        WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in _examples(name):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} example(s) of {name} failed (output above)"
