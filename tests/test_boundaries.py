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


@pytest.mark.parametrize("path", BACKEND_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_backends_do_not_print_or_touch_global_rng(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "print" and path.name != "__main__.py":
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
    index = json.loads((ROOT / "notebooks" / "index.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in index["cells"])
    for nb in NOTEBOOKS:
        if nb.name != "index.ipynb":
            assert f"({nb.name})" in text, f"index.ipynb does not link {nb.name}"
