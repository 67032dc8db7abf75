"""Paper figures: ``FIGURES[name].reproduce(out, full, quiet, batch_size) -> PNG path``.

``groklab reproduce list`` prints them; ``groklab reproduce fig3`` runs the quick scale (about a
minute on 2 cores), ``--full`` the paper's scale.  Each figure's sweep is resumable: a rerun into
the same ``--out`` skips finished runs and only redraws.
"""
from .common import Figure
from .matrix import MATRIX_FIGURES
from .modular import MODULAR_FIGURES
from .sparse import FIGURES_SPARSE
from .teacher_student import TEACHER_STUDENT_FIGURES

_ALL = {**FIGURES_SPARSE, **MATRIX_FIGURES, **MODULAR_FIGURES, **TEACHER_STUDENT_FIGURES}
#: name -> Figure, in paper order
FIGURES: dict[str, Figure] = {k: _ALL[k] for k in sorted(
    _ALL, key=lambda s: (int(s[3:].rstrip("abcdefgh")), s))}  # fig19a after fig19

__all__ = ["FIGURES", "Figure"]
