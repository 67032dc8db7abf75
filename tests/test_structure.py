"""The package's shape: families are plug-ins, the core names none of them, the call graph is
readable from the imports, and commands that need no tensors do not import torch."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from groklab import family as registry

from conftest import REPO

PKG = REPO / "src" / "groklab"


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
        out[".".join(parts)] = p
    return out


def _targets(name: str, node, is_pkg: bool, mods) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = name.split(".") if is_pkg else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            t = ".".join(base + ([node.module] if node.module else []))
        else:
            t = node.module or ""
        outs = [t] + [f"{t}.{a.name}" for a in node.names]
    else:
        outs = [a.name for a in node.names]
    return [o for o in outs if o in mods]


def _graph():
    mods = _modules()
    graph, inside = {}, []
    for name, p in mods.items():
        tree = ast.parse(p.read_text())
        is_pkg = p.name == "__init__.py"
        graph[name] = {t for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                       for t in _targets(name, n, is_pkg, mods)
                       if t != name and not t.startswith(name + ".") and not name.startswith(t + ".")}
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{p.relative_to(REPO)}:{n.lineno}" for n in ast.walk(fn)
                           if isinstance(n, (ast.Import, ast.ImportFrom))
                           and _targets(name, n, is_pkg, mods)]
    return graph, inside


def test_no_import_cycles_and_no_groklab_imports_inside_functions():
    graph, inside = _graph()
    assert inside == [], f"groklab imports inside functions: {inside}"
    # any cycle shows up as a node reachable from itself
    cycles = []
    for start in graph:
        seen, stack = set(), list(graph[start])
        while stack:
            v = stack.pop()
            if v == start:
                cycles.append(start)
                break
            if v not in seen:
                seen.add(v)
                stack.extend(graph.get(v, ()))
    assert cycles == [], f"modules on an import cycle: {sorted(cycles)}"


#: run columns and names the core once hard-wired (they belong to families now)
FAMILY_COLUMNS = {"final_a", "final_A", "a_star", "coherence", "pred_t1", "pred_delta_t",
                  "ls_test_error", "KEY_COLS", "BETA_FIELDS", "nuclear_norm", "fro_norm"}


def _code_tokens(path: Path) -> set[str]:
    """Identifiers and string constants of a module's code (docstrings and comments excluded)."""
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)}
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs:
            out.add(n.value)
    return out


def test_the_core_names_no_family():
    names = set(registry.names())
    core = [p for p in PKG.rglob("*.py") if "families" not in p.relative_to(PKG).parts]
    assert len(core) > 10
    for p in core:
        tokens = _code_tokens(p)
        hits = (names | FAMILY_COLUMNS) & tokens
        assert not hits, f"{p.relative_to(REPO)} names {sorted(hits)}"


def test_every_builtin_family_is_a_folder_with_a_record():
    fams = {f.name: f for f in registry.all_families()}
    assert {"sparse-recovery", "matrix-completion", "matrix-sensing", "modular",
            "teacher-student"} <= set(fams)
    for fam in fams.values():
        if not fam.runtime.startswith("groklab."):
            continue  # a plug-in registered by another test module
        folder = fam.runtime.split(".")[2]
        assert (PKG / "families" / folder / "__init__.py").exists()
        assert fam.config.__module__.startswith(f"groklab.families.{folder}.")


NO_TORCH = [
    ["--help"],
    ["run", "sparse-recovery", "--help"],
    ["reproduce", "list"],
    ["report", "{out}"],
    ["report", "{out}", "--fit", "delta_t"],
    ["plot", "{out}"],
    ["status", "{out}"],
    ["status", "{out}", "--repair"],
]


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    import groklab
    out = tmp_path_factory.mktemp("r")
    groklab.sweep({"dim": 20, "sparsity": 2, "measurements": 10, "lr": [0.05, 0.1, 0.2],
                   "l1": [1e-3, 3e-3], "steps": 3000}, out=out)
    return out


def test_commands_without_tensors_do_not_import_torch(small_results):
    """All of them in one fresh interpreter (one start-up instead of six), checked one by one."""
    code = ("import sys, json\nfrom groklab.cli import main\n"
            "for argv in json.loads(sys.argv[1]):\n"
            "    try:\n        rc = main(argv)\n    except SystemExit as e:\n        rc = e.code\n"
            "    assert not rc, f'{argv}: exit status {rc}'\n"
            "    assert 'torch' not in sys.modules, f'{argv} imported torch'\n")
    argv = [[a.format(out=small_results) for a in args] for args in NO_TORCH]
    p = subprocess.run([sys.executable, "-c", code, json.dumps(argv)], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]


def test_help_imports_neither_pandas_nor_matplotlib():
    """--help is the first thing a user runs: it needs the families' fields, not the table or
    plotting stack (the start-up benchmark, benchmarks/bench_startup.py, measures the time)."""
    code = ("import sys\nfrom groklab.cli import main\n"
            "for argv in (['--help'], ['run', 'sparse-recovery', '--help'], ['report', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "heavy = [m for m in ('torch', 'pandas', 'matplotlib', 'pyarrow') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]


def test_importing_groklab_does_not_import_torch():
    p = subprocess.run([sys.executable, "-c", "import sys, groklab; groklab.load; "
                        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
