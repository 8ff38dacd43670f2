"""Architecture rules that keep the project easy to change (DESIGN.md section 3)."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ["explorer", "explorer.sbm", "explorer.ntk", "explorer.iqp", "explorer.sweep",
            "explorer._common"]
UI_MODULES = ("ipywidgets", "matplotlib", "IPython", "ipympl", "tqdm")


def test_backends_import_without_ui_libraries():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in BACKENDS)
        + f"print([m for m in {UI_MODULES!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


BACKEND_FILES = sorted(p for p in (ROOT / "explorer").rglob("*.py") if "apps" not in p.parts)
#: Command-line entry points: the only backend modules that may print.
CLI_FILES = {Path("__main__.py")}
#: Glue to a peer library that draws from numpy's global state and takes no generator: it may
#: seed that state, saving and restoring it around the peer's call (and nothing else may).
PEER_GLUE = {Path("reproduce/sbm.py"): "_sparsebm_fit"}


@pytest.mark.parametrize("path", BACKEND_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_backends_do_not_print_or_touch_global_rng(path):
    tree = ast.parse(path.read_text())
    glue = PEER_GLUE.get(path.relative_to(ROOT / "explorer"))
    if glue is not None:
        fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == glue)
        source = ast.get_source_segment(path.read_text(), fn)
        assert "get_state()" in source and "set_state(state)" in source and "finally" in source
        tree.body = [n for n in tree.body if n is not fn]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "print" and path.relative_to(ROOT / "explorer") not in CLI_FILES:
                pytest.fail(f"{path.name}:{node.lineno} prints")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute):
            if (node.value.attr == "random" and isinstance(node.value.value, ast.Name)
                    and node.value.value.id in ("np", "numpy")
                    and node.attr in ("seed", "rand", "randn", "random", "randint", "choice",
                                      "normal", "uniform")):
                pytest.fail(f"{path.name}:{node.lineno} uses numpy's global RNG")


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_have_no_outputs_and_no_logic(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert not cell.get("outputs"), f"{path.name} has outputs (run nbstripout)"
        assert cell.get("execution_count") is None, f"{path.name} has execution counts"
        src = "".join(cell["source"])
        tree = ast.parse(src)
        logic = [n for n in ast.walk(tree)
                 if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.For | ast.While | ast.If)]
        assert not logic, f"{path.name}: notebooks hold no logic; move it into the package"


def test_landing_page_links_every_app_notebook():
    from explorer.apps.landing import CARDS

    index = json.loads((ROOT / "notebooks" / "index.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in index["cells"])
    assert "landing_page()" in text                      # the cards are the links
    apps = {nb.name for nb in NOTEBOOKS if nb.name != "index.ipynb"}
    assert {card.notebook for card in CARDS} == apps


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Every import between package modules outside explorer/apps, at module level or inside
    functions (a lazy import is still a cycle, only a hidden one)."""
    modules = {_module_name(p): p for p in BACKEND_FILES}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(base + ([node.module] if node.module else []))
                else:
                    base = node.module
                # "from pkg import sub" imports the submodule pkg.sub when there is one
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets = subs if len(subs) == len(node.names) else [base, *subs]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}          # 1 = on the current path, 2 = done

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_package_import_graph_is_acyclic():
    graph = _import_graph()
    # the parser sees relative, absolute and function-level imports
    assert "explorer._common" in graph["explorer.iqp._circuit"]
    assert "explorer.iqp._circuit" in graph["explorer.iqp._phases"]
    assert "explorer.iqp._phases" in graph["explorer.iqp"]       # a package's __init__
    assert "explorer.ntk.lm" not in graph["explorer.ntk"]        # torch stays optional
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_check_reports_a_planted_back_import():
    graph = _import_graph()
    graph["explorer.iqp._circuit"].add("explorer.iqp._phases")
    cycle = _find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert {"explorer.iqp._circuit", "explorer.iqp._phases"} <= set(cycle)


def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = sorted(_module_name(p) for p in BACKEND_FILES)
    procs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name in names}
    failed = {}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=120)
        if proc.returncode:
            failed[name] = err.strip().splitlines()[-1:]
    assert not failed, failed
