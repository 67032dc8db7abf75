"""Paper figures: ``FIGURES[name].reproduce(out, full, quiet, batch_size) -> PNG path``.

``groklab reproduce list`` prints them; ``groklab reproduce fig3`` runs the quick scale (about a
minute on 2 cores), ``--full`` the paper's scale.  Each figure's sweep is resumable: a rerun into
the same ``--out`` skips finished runs and only redraws.
"""
from .common import Figure
from .sparse import FIGURES_SPARSE

#: name -> Figure, in paper order
FIGURES: dict[str, Figure] = {k: FIGURES_SPARSE[k] for k in
                              sorted(FIGURES_SPARSE, key=lambda s: int(s[3:]))}

__all__ = ["FIGURES", "Figure"]
