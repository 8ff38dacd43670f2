"""Root of the test run: which package modules pytest's doctest collection skips.

``make test`` collects the ``>>>`` examples in ``explorer/`` (``--doctest-modules``). Those of
the app layer and the command line run in tests/test_app_doctests.py instead, so that their
imports (ipywidgets, matplotlib) stay out of the backends' doctest run.
"""

collect_ignore_glob = ["explorer/apps/*", "explorer/__main__.py"]
