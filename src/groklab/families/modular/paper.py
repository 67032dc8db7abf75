"""The paper's settings for the modular-addition MLP (figures 1, 2 and 30; the authors' notebook,
docs/families/modular.md#figures), shared by the figures and the claims.

Adam with PyTorch's defaults but the learning rate, no weight decay, p = 97, 40 % of the pairs
for training, mini-batches of 2048, 20 002 steps, logged every step below 100 and every 10 after.
"""
from __future__ import annotations

PENALTIES = ("l1", "l2", "nuclear")
#: the paper's beta grids (fig. 1 at lr 1e-2; figs 2 / 30 over PAPER_LRS)
PAPER_BETAS = {"l1": [5e-9, 1e-8, 1e-7, 1e-6, 5e-6, 1e-5],
               "l2": [1e-7, 5e-7, 1e-6, 5e-6, 1e-5, 5e-5],
               "nuclear": [5e-8, 1e-7, 1e-6, 1e-5, 5e-5, 1e-4]}
PAPER_LRS = [1e-3, 1e-2, 1e-1]
#: figure 1's learning rate
FIG1_LR = 1e-2
#: the authors' setting: p = 97, 40% train, mini-batch 2048, 20 002 Adam steps
FULL_BASE = dict(modulus=97, train_fraction=0.4, batch_size=2048, width=64, steps=20_002,
                 log_every=10, log_dense_until=100, log_spacing="linear")


def no_penalty(**kw) -> dict:
    """Every penalty strength 0, then ``kw``."""
    return dict(dict.fromkeys(PENALTIES, 0.0), **kw)


def paper_grids() -> list[dict]:
    """The union of figures 1, 2 and 30 at the paper's setting: the unpenalized run and every
    beta of each penalty at lr 1e-2 (fig. 1), the nuclear (fig. 2), l1 and l2 (fig. 30) betas at
    every lr -- 55 distinct runs of 20 002 steps."""
    base = dict(FULL_BASE, **no_penalty())
    return ([dict(base, lr=FIG1_LR)]
            + [dict(base, lr=FIG1_LR, **{k: list(v)}) for k, v in PAPER_BETAS.items()]
            + [dict(base, lr=list(PAPER_LRS), **{k: list(PAPER_BETAS[k])}) for k in PENALTIES])
