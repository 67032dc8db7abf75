"""groklab.lazy.load: what a deferred import creates is frozen out of the cyclic collector, and
the collector is left as it was found.  Each case runs in a fresh interpreter, so that freezing
objects does not reach into the test process (and an import is really a first import)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# A module whose import leaves a reference cycle behind that lives as long as the module does,
# and a piece of cyclic garbage made before the import, watched through a weak reference.
SCRIPT = textwrap.dedent("""
    import gc, sys, weakref
    sys.path[:0] = [{src!r}, {mods!r}]
    from groklab.lazy import load

    class Node:
        pass

    def garbage():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    {setup}
    before = garbage()
    frozen = gc.get_freeze_count()
    mod = load("cyclic_module")
    assert load("cyclic_module") is mod  # later calls: the same module, nothing more frozen
    print(before() is None, gc.get_freeze_count() - frozen, gc.isenabled())
""")


def run(tmp_path, setup=""):
    (tmp_path / "cyclic_module.py").write_text(
        "class Holder:\n    pass\nh = Holder()\nh.me = h\n")
    code = SCRIPT.format(src=str(SRC), mods=str(tmp_path), setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    collected, n_frozen, enabled = out.stdout.split()
    return collected == "True", int(n_frozen), enabled == "True"


def test_load_collects_first_then_freezes_what_the_import_made(tmp_path):
    collected, n_frozen, enabled = run(tmp_path)
    assert collected  # garbage from before the import is not frozen with the module
    assert n_frozen > 0  # the module and its objects are out of later collections
    assert enabled


def test_load_leaves_a_disabled_collector_alone(tmp_path):
    collected, n_frozen, enabled = run(tmp_path, setup="gc.disable()")
    assert not collected and n_frozen == 0 and not enabled
