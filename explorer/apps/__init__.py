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


def cache_dir(name: str):
    """A folder for results that are costly to compute and the same on every run, shared by
    the kernels of one machine: ``$XDG_CACHE_HOME/<name>``, else ``<tmp>/explorer-<uid>/<name>``
    (created)."""
    import os
    import tempfile
    from pathlib import Path

    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        tempfile.gettempdir(), f"explorer-{os.getuid()}" if hasattr(os, "getuid") else "explorer")
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_key(*parts) -> str:
    """A short hash of modules' source files (and strings, e.g. versions): part of a cache
    file's name, so that a change of the code that made a cached result retires it."""
    import hashlib
    from pathlib import Path

    from .. import __version__

    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        digest.update(part.encode() if isinstance(part, str)
                      else Path(part.__file__).read_bytes())
    return digest.hexdigest()[:16]
