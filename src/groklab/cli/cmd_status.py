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
    stale = inv["stale_claims"]
    if stale:
        pids = sorted({str(c.get("pid", "?")) for c in stale})
        print(f"stale claims: {len(stale)} batch claim(s) whose process is gone (pid "
              f"{', '.join(pids)}): not in flight; the next command or --repair removes them")
    cmds = inv["commands"]
    if cmds:
        last = cmds[-1]
        print(f"commands: {len(cmds)}; last {last.get('started')} {last['state']}: "
              f"{' '.join(map(str, last.get('argv', [])))}")
        for c in cmds[:-1]:
            if c.get("status") == "running":  # an earlier command that never recorded its end
                print(f"command {c.get('started')} {c['state']}: "
                      f"{' '.join(map(str, c.get('argv', [])))}")
    problems = []
    if inv["damaged"]:
        problems.append(summary(inv["damaged"], root, "run `groklab status --repair`"))
    dups = inv["duplicates"]
    if dups:
        extra = sum(len(v) - 1 for v in dups.values())
        parts = sorted({p for v in dups.values() for p in v})
        problems.append(f"{len(dups)} run(s) stored more than once ({extra} extra row(s) in "
                        f"runs/ across {len(parts)} parts: DuckDB, polars and pyarrow count "
                        "them twice; `groklab status --repair` keeps the newest copy)")
    if inv["orphans"] or inv["staged"]:
        problems.append(f"{inv['orphans'] + inv['staged']} uncommitted file(s) (a batch in "
                        "flight, or left by a killed command: --repair removes those)")
    if inv["set_aside"]:
        problems.append(f"{inv['set_aside']} file(s) set aside in damaged/")
    print("damage: " + ("; ".join(problems) if problems else "none"))
    return 0
