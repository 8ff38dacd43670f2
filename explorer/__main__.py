"""Command line: ``python -m explorer serve`` (what ``make app`` runs), ``figures``,
``reproduce`` (what ``make reproduce`` runs), ``tour check``, ``handout`` and ``ntk-lm``."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

DEFAULT_PORT = 8866


def find_notebooks(explicit: str | None = None) -> Path:
    """The notebooks folder: given, in the current directory, or beside the package source."""
    candidates = [Path(explicit)] if explicit else [
        Path.cwd() / "notebooks",
        Path(__file__).resolve().parents[1] / "notebooks",
    ]
    for path in candidates:
        if (path / "index.ipynb").is_file():
            return path.resolve()
    raise SystemExit(
        "explorer: no notebooks folder with index.ipynb found (tried "
        + ", ".join(str(c) for c in candidates) + "); pass --notebooks DIR"
    )


#: The production Voila configuration, the one source for `make app`, `make serve-class` and
#: Binder (binder/postBuild installs it): tracebacks off, a per-cell timeout, idle kernels
#: culled, and a pool of preheated kernels per notebook (each has run its notebook before
#: anyone asks for it; the app restores a permalink's state when the request arrives).
CONFIG = Path(__file__).with_name("voila.json")
#: The notebooks a class opens; their pools grow with the class (the others keep one).
APP_NOTEBOOKS = ("01_sbm_mean_field.ipynb", "02_iqp_born_machine.ipynb",
                 "03_ntk_early_stopping.ipynb", "04_initialization_lens.ipynb")
#: Resident memory of one idle app kernel (measured by benchmarks/load_voila.py: numpy, scipy,
#: matplotlib, ipywidgets, ipympl and one app's figures and caches).
KERNEL_MB = 210


def server_config(*, debug: bool = False, pool: int = 0, cull_idle: float | None = None) -> dict:
    """The Voila configuration with the tracebacks and pool size of this run.

    ``pool = 0`` (the default, ``make app``) serves every visitor a fresh kernel: nothing runs
    before anyone asks. ``pool > 0`` (``make serve-class``) preheats that many kernels per app,
    warmed a few at a time by :class:`explorer._pool.PacedKernelManager`; measured on the
    2-core test machine with warm pools, one visitor's first canvas came after 1.2 s (light
    client; 4.4 s in a browser on the same cores) against 2-4 s cold. ``cull_idle`` shortens
    the idle-kernel cull (seconds, in [1, 86400]).
    """
    if cull_idle is not None and not 1 <= cull_idle <= 86400:
        raise ValueError(f"cull_idle must be in [1, 86400] seconds, got {cull_idle!r}")
    config = json.loads(CONFIG.read_text())
    config["VoilaConfiguration"]["show_tracebacks"] = bool(debug)
    if cull_idle is not None:
        # Look for idle kernels a few times per timeout, at most once a minute.
        config["MappingKernelManager"]["cull_idle_timeout"] = cull_idle
        config["MappingKernelManager"]["cull_interval"] = max(1, min(60, int(cull_idle // 3)))
    config["VoilaConfiguration"]["preheat_kernel"] = pool > 0
    pools = config["VoilaKernelManager"]["kernel_pools_config"]
    for nb in APP_NOTEBOOKS:
        pools[nb] = {"pool_size": pool}
    return config


def pooled_kernels(notebooks: Path, pool: int) -> int:
    """How many kernels the preheated pools hold for this notebooks folder."""
    names = [p.name for p in notebooks.glob("*.ipynb")]
    return sum(pool if n in APP_NOTEBOOKS else 1 for n in names)


def voila_command(notebooks: Path, port: int, ip: str, *, debug: bool = False,
                  pool: int = 0, cull_idle: float | None = None,
                  config_dir: Path | None = None) -> list[str]:
    """The Voila invocation shared by ``serve``, ``make app`` and the browser tests.

    The configuration (:data:`CONFIG` with this run's pool size and tracebacks) is written
    as ``voila.json`` into ``config_dir`` (default: a folder per port under the temporary
    directory), where Voila reads it.
    """
    if config_dir is None:
        config_dir = Path(tempfile.gettempdir()) / f"explorer-voila-{port}"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "voila.json").write_text(json.dumps(server_config(debug=debug, pool=pool,
                                                                    cull_idle=cull_idle),
                                                      indent=1))
    return [
        sys.executable, "-m", "voila", str(notebooks),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        "--Voila.port_retries=0",
        f"--Voila.config_file_paths={config_dir}",
    ]


#: BLAS thread settings a class server gives its kernels (see :func:`kernel_environment`).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_environment(env: dict[str, str], pool: int) -> dict[str, str]:
    """The environment Voila and its kernels run in.

    A server with preheated pools runs a kernel per student on a few cores: BLAS threads in
    every kernel would compete for those cores, and OpenBLAS's idle threads spin while they
    wait. So with ``pool > 0`` each kernel does its linear algebra on one thread, unless
    the variable is set already. Measured with 30 light clients on 2 cores: p95 interaction
    2.5 s with OpenBLAS's default threads, 0.7 s with one (benchmarks/load_voila.py).
    A single visitor (``pool == 0``, ``make app``) keeps every core for its own kernel.

    >>> kernel_environment({"OMP_NUM_THREADS": "2"}, pool=10)["OPENBLAS_NUM_THREADS"]
    '1'
    >>> kernel_environment({"OMP_NUM_THREADS": "2"}, pool=10)["OMP_NUM_THREADS"]
    '2'
    >>> "OPENBLAS_NUM_THREADS" in kernel_environment({}, pool=0)
    False
    """
    env = dict(env)
    if pool > 0:
        for name in BLAS_THREAD_VARIABLES:
            env.setdefault(name, "1")
    return env


def serve(args: argparse.Namespace) -> int:
    notebooks = find_notebooks(args.notebooks)
    pool = args.pool if args.pool is not None else (
        max(1, math.ceil(args.students / len(APP_NOTEBOOKS))) if args.students else 0)
    kernels = pooled_kernels(notebooks, pool) if pool > 0 else 0
    url = f"http://{args.ip}:{args.port}/voila/render/index.ipynb"
    print(f"explorer: serving {notebooks} with Voila", flush=True)
    print(f"explorer: {pool} preheated kernel(s) per app, {kernels} in all: about "
          f"{kernels * KERNEL_MB / 1024:.1f} GiB held while idle (~{KERNEL_MB} MB each); "
          f"each further visitor adds one kernel", flush=True)
    if pool > 0:
        print("explorer: one BLAS thread per kernel (a kernel per student shares the cores)",
              flush=True)
    print(f"explorer: open {url}", flush=True)
    env = kernel_environment(dict(os.environ), pool)
    if args.debug:
        env["EXPLORER_DEBUG"] = "1"
    try:
        cmd = voila_command(notebooks, args.port, args.ip, debug=args.debug, pool=pool,
                            cull_idle=args.cull_idle)
    except ValueError as exc:
        print(f"explorer serve: {exc}", file=sys.stderr)
        return 2
    # Become Voila (no wrapper process): a SIGTERM or Ctrl-C reaches it directly, and it
    # stops its kernels and exits.
    sys.stdout.flush()
    os.execve(cmd[0], cmd, env)
    return 0  # pragma: no cover - execve does not return


def figures(args: argparse.Namespace) -> int:
    """Render every preset of every app to PNG without a browser (for slides)."""
    from .apps import APPS

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = args.app or list(APPS)
    for name in names:
        if name not in APPS:
            raise SystemExit(f"explorer: unknown app {name!r}; known: {', '.join(APPS)}")
        module = importlib.import_module(APPS[name])
        app = module.make_app(query_string="")
        for preset in app.presets:
            app.apply_preset(preset)
            if app.last_error:
                raise SystemExit(f"explorer: preset {preset!r} of {name} failed: {app.last_error}")
            slug = re.sub(r"[^a-z0-9]+", "_", preset.lower()).strip("_")
            for view in app.figures:
                suffix = f"_{view}" if len(app.figures) > 1 else ""
                path = out / f"{name}_{slug}{suffix}.png"
                path.write_bytes(app.export_figure("png", view))
            print(f"{out / f'{name}_{slug}'}*.png: {app.status_text}")
    return 0


def ntk_lm(args: argparse.Namespace) -> int:
    """The real language model's eNTK (optional extra 'lm'; see explorer/ntk/lm.py)."""
    from .ntk import lm

    try:
        print(lm.write(args.out))
    except ImportError as exc:
        raise SystemExit(str(exc)) from None
    return 0


def reproduce(args: argparse.Namespace) -> int:
    """Regenerate the papers' key results into ``--out`` (see explorer/reproduce/)."""
    import time

    from .reproduce import reproduce as run

    t0 = time.perf_counter()

    def progress(message: str) -> None:
        elapsed = time.perf_counter() - t0
        print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {message}", flush=True)

    options = {}
    if args.hapt:
        options["hapt"] = args.hapt
    if args.runs is not None:
        options["runs"] = args.runs
    try:
        pages = run(args.which, args.out, quick=args.quick, progress=progress, **options)
    except ValueError as exc:
        raise SystemExit(f"explorer: {exc}") from None
    for page in pages:
        print(f"wrote {page}")
    return 0


def tour(args: argparse.Namespace) -> int:
    """Check tour files: their shape, then against their app's controls, presets and views."""
    from .tours import check_tour, load_tour

    failed = 0
    for path in args.files:
        try:
            t = check_tour(load_tour(path))
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
        else:
            print(f"ok: {path}: {t.title!r}, app {t.app}, {len(t)} steps")
    return 1 if failed else 0


def handout(args: argparse.Namespace) -> int:
    """One self-contained HTML page of a preset or a tour (figures embedded)."""
    from .apps.handout import handout as write

    try:
        page = write(args.app, preset=args.preset, tour=args.tour, base_url=args.url)
    except ValueError as exc:
        raise SystemExit(f"explorer: {exc}") from None
    out = Path(args.out or f"handout_{args.app}_{args.tour or args.preset or 'defaults'}.html"
               .replace(" ", "_"))
    out.write_text(page, encoding="utf-8")
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m explorer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve the notebooks as Voila apps")
    p_serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    p_serve.add_argument("--ip", default="127.0.0.1")
    p_serve.add_argument("--notebooks", default=None, help="folder holding index.ipynb")
    p_serve.add_argument("--debug", action="store_true", help="show tracebacks in the apps")
    p_serve.add_argument("--pool", type=int, default=None,
                         help="preheated kernels per app (default 0: a fresh kernel per visitor)")
    p_serve.add_argument("--students", type=int, default=None,
                         help="size the pools for a class of this many (spread over the apps)")
    p_serve.add_argument("--cull-idle", type=float, default=None, metavar="SECONDS",
                         help="stop a kernel no page is connected to after it has been idle "
                              "this long (default 900)")
    p_serve.set_defaults(func=serve)
    p_fig = sub.add_parser("figures", help="render every preset of every app to PNG")
    p_fig.add_argument("--out", required=True, help="output folder")
    p_fig.add_argument("--app", action="append", help="only this app (repeatable)")
    p_fig.set_defaults(func=figures)
    p_lm = sub.add_parser("ntk-lm", help="recompute the eNTK of all-MiniLM-L6-v2 (extra 'lm')")
    p_lm.add_argument("--out", default=None, help="where to write the .npz")
    p_lm.set_defaults(func=ntk_lm)
    p_hand = sub.add_parser("handout", help="one HTML page of a preset or a tour")
    p_hand.add_argument("app", help="sbm, iqp, ntk (or lens)")
    which = p_hand.add_mutually_exclusive_group()
    which.add_argument("--preset", default=None, help="a preset's name")
    which.add_argument("--tour", default=None, help="a tour's name")
    p_hand.add_argument("--out", default=None, help="the HTML file to write")
    p_hand.add_argument("--url", default=None,
                        help="where the app is served, for the permalinks")
    p_hand.set_defaults(func=handout)
    p_tour = sub.add_parser("tour", help="guided tours: check tour files")
    tour_sub = p_tour.add_subparsers(dest="tour_command", required=True)
    p_check = tour_sub.add_parser("check", help="validate tour files (TOML)")
    p_check.add_argument("files", nargs="+", help="tour files")
    p_check.set_defaults(func=tour)
    p_rep = sub.add_parser("reproduce", help="regenerate each paper's key results as pages")
    p_rep.add_argument("which", nargs="?", default="all", choices=["sbm", "iqp", "ntk", "all"])
    p_rep.add_argument("--out", default="docs/reproductions", help="output folder")
    p_rep.add_argument("--quick", action="store_true", help="toy sizes (a smoke test)")
    p_rep.add_argument("--hapt", default=None,
                       help="the 805-SNP .hapt panel for the IQP training (default: "
                            "$EXPLORER_HAPT, then ../shared/data beside the repository)")
    p_rep.add_argument("--runs", type=int, default=None,
                       help="IQP training runs per strategy (sqrt normalisation)")
    p_rep.set_defaults(func=reproduce)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is ntk_lm and args.out is None:
        from .ntk.lm import OUTPUT

        args.out = str(OUTPUT)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
