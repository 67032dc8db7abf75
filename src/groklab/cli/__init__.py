"""groklab command line.

    groklab run sparse-recovery --lr 0.1 --l1 1e-5 --steps 300000 --out results/fig3
    groklab run sparse-recovery --lr 0.005,0.01,0.1 --l1 1e-6,1e-5,1e-4 --out results/grid   # a sweep
    groklab sweep ...            same as run (any option given a comma list is a grid axis)
    groklab plot results/grid    curves per run, or t1/t2/delta_t/final error over the swept axes
    groklab plot results/grid --x measurements --y sparsity --metric delta_t    a heat map
    groklab report results/grid  the tidy runs table (t1, t2, delta_t, final errors)
    groklab report results/grid --fit delta_t   fitted exponent of delta_t vs lr*beta, 95% CI
    groklab reproduce fig3       a paper figure at quick scale (--full for the paper's scale)
    groklab status results/grid  runs done / pending / diverged, parts, size, damage (--repair)

Bad input exits with status 2 and one line naming the option; nothing is written.  Ctrl-C keeps
every finished batch: rerun the same command to resume.  A results directory that cannot be
written (disk full, read-only) ends the command with status 1 and one line; committed runs stay.
Each command's code is its own module, imported only when that command runs: ``--help``,
``report``, ``plot``, ``status`` and ``reproduce list`` never import torch.
"""
from __future__ import annotations

import os
import sys
import warnings

from .. import __version__
from .. import family as registry
from ..errors import ConfigError, StoreError
from ..lazy import load
from .options import build_parser

#: command -> the module whose ``main(ns)`` runs it (imported only for that command)
COMMANDS = {"run": "groklab.cli.cmd_run", "sweep": "groklab.cli.cmd_run",
            "plot": "groklab.cli.cmd_plot", "report": "groklab.cli.cmd_report",
            "reproduce": "groklab.cli.cmd_reproduce", "status": "groklab.cli.cmd_status",
            "check": "groklab.cli.check", "export": "groklab.cli.export"}


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"groklab: warning: {message}", file=sys.stderr, flush=True)


def _command(argv) -> str:
    """The sub-command named in ``argv`` (for a message before the parser exists)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return next((a for a in args if a in COMMANDS), "")


def _fail(command: str, err: Exception, status: int) -> int:
    print(f"groklab{' ' + command if command else ''}: error: {err}", file=sys.stderr)
    return status


def main(argv=None) -> int:
    try:  # the parser lists every family: a plug-in that fails to import is one line
        parser = build_parser()
    except ConfigError as e:
        return _fail(_command(argv), e, 2)
    ns, extra = parser.parse_known_args(argv)
    if extra:  # said by the sub-command's parser, as every other argparse error is
        prog = " ".join(p for p in ("groklab", ns.command, getattr(ns, "problem", None)) if p)
        parser.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extra)}\n")
    if ns.version:
        print(__version__)
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command in ("run", "sweep") and ns.problem is None:
        parser.exit(2, f"groklab {ns.command}: error: name a problem: "
                    f"{', '.join(registry.names())}\n")
    warnings.showwarning = _one_line_warnings
    try:
        return load(COMMANDS[ns.command]).main(ns)
    except (ConfigError, FileNotFoundError) as e:
        return _fail(ns.command, e, 2)
    except StoreError as e:
        return _fail(ns.command, e, 1)
    except KeyboardInterrupt:
        print(f"\ngroklab {ns.command}: interrupted; finished batches are kept, rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`groklab check --list | head`): not an error of
        # ours; point stdout at /dev/null so that the interpreter's final flush stays quiet
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
