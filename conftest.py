"""Root of the test run: which package modules pytest's doctest collection skips.

``make test`` collects the ``>>>`` examples in ``explorer/`` (``--doctest-modules``). The app
layer and the command line are tested headlessly under ``tests/``, not by doctests, and their
imports (ipywidgets, matplotlib) stay out of the backends' doctest run.
"""

collect_ignore_glob = ["explorer/apps/*", "explorer/__main__.py"]
