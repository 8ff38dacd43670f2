"""The ipywidgets layer: one module per model, each with ``make_app(**overrides) -> App``.

Nothing outside this sub-package imports it, so the backends stay importable
without any Jupyter package installed.
"""

#: App name -> module path; the CLI and the landing page iterate over it.
APPS = {
    "sbm": "explorer.apps.sbm_app",
    "iqp": "explorer.apps.iqp_app",
    "ntk": "explorer.apps.ntk_app",
    "lens": "explorer.apps.lens_app",
}
