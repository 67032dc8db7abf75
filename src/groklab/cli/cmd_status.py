"""``groklab status OUT [--repair]``: what a results directory holds and what is wrong with it."""
from __future__ import annotations

from pathlib import Path

from ..damage import summary
from ..inventory import inventory, repair
from ..results import is_results_dir


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MiB" if n >= 2 ** 20 else f"{n / 1024:.1f} KiB"


def main(ns) -> int:
    root = Path(ns.results)
    if not is_results_dir(root):
        raise FileNotFoundError(f"{root}: not a groklab results directory (no runs/ folder)")
    if ns.repair:
        for line in repair(root) or ["nothing to repair"]:
            print(f"repair: {line}")
    inv = inventory(root)
    st = inv["statuses"]
    other = {k: v for k, v in st.items() if k not in ("done", "diverged")}
    print(f"{root}: {inv['runs']} runs committed: {st.get('done', 0)} done, "
          f"{st.get('diverged', 0)} diverged" + "".join(f", {v} {k}" for k, v in other.items()))
    print(f"pending: {inv['pending']} planned run(s) not committed yet"
          + (" (rerun the command to finish them)" if inv["pending"] else ""))
    parts = inv["parts"]
    print(f"parts: {parts['runs']} runs, {parts['curves']} curves, {parts['iterates']} iterates "
          f"files; {_mb(inv['bytes'])} on disk")
    if inv["engines"]:
        print("engines: " + ", ".join(f"{p} v{v} ({n} runs)"
                                      for (p, v), n in sorted(inv["engines"].items())))
    for c in inv["in_flight"]:
        print(f"in flight: batch {c['key']} claimed by pid {c.get('pid')} on "
              f"{c.get('hostname', '?')}")
    if inv["commands"]:
        last = inv["commands"][-1]
        print(f"commands: {len(inv['commands'])}; last {last.get('started')} "
              f"{last.get('status', '?')}: {' '.join(map(str, last.get('argv', [])))}")
    problems = []
    if inv["damaged"]:
        problems.append(summary(inv["damaged"], root, "run `groklab status --repair`"))
    if inv["orphans"] or inv["staged"]:
        problems.append(f"{inv['orphans'] + inv['staged']} uncommitted file(s) (a batch in "
                        "flight, or left by a killed command: --repair removes those)")
    if inv["set_aside"]:
        problems.append(f"{inv['set_aside']} file(s) set aside in damaged/")
    print("damage: " + ("; ".join(problems) if problems else "none"))
    return 0
