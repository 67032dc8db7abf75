"""A generic ensemble engine: R copies of any ``torch.nn.Module`` trained together.

A family builds one module per member (its own init seed), and :class:`Ensemble` stacks their
parameters over a leading member axis -- every parameter becomes one (R, ...) tensor
(``torch.func.stack_module_state``) -- and evaluates all members at once with
``torch.func.functional_call`` under ``torch.func.vmap``.  Each member has its own learning rate,
weight decay, penalty strengths (l1 / l2 / nuclear, on every weight matrix or per parameter
group) and init scale, all held as (R, 1, ..., 1) columns, so one call updates every member with
its own numbers and the members never mix: member r gives the numbers of config r trained alone
(tests/test_ensemble.py; float rounding only, because a batched product sums in another order
than the single one).

Gradients.  The loss of the ensemble is sum_r L_r(theta_r); since member r's loss depends on
theta_r only, its gradient with respect to the stacked parameters *is* the stack of the members'
gradients.  Two ways to get it, same numbers (tested):

* ``"autograd"`` (default): one vmapped forward pass and one reverse pass over the sum;
* ``"vmap-grad"``: ``vmap(grad(L))``, the per-member gradient function vectorized;
* ``"loop"``: member by member, autograd of each member's loss on views of the stacked
  parameters (no vmap: each member's products are plain GEMMs, which on a CPU beat batched
  ones once a member's products are large -- the MNIST MLP; benchmarks/bench_generic.py).

The optimizer step and the penalties are stacked in every mode.

benchmarks/bench_generic.py measures both against a one-model-at-a-time nn.Module +
torch.optim loop.

Penalties.  beta * h(W) for every *penalized* parameter -- by default every weight matrix (a
parameter with two dims, as ``nn.Linear.weight``; biases and other vectors are not penalized, as
the hand-written network engines) -- with h from :mod:`groklab.families.nets.penalty` (the shared
:mod:`groklab.penalties` objects): l1 entrywise, l2 as the unsquared Frobenius norm (``norm``) or
its square (``squared``), the nuclear norm.  Their gradients are added in closed form after the
backward pass.  A strength may be one number (every penalized matrix) or a mapping from a
parameter-name prefix to a number (per parameter group; matrices that match no prefix get 0).

Optimizers: :func:`groklab.families.nets.optim.update_` -- PyTorch's Adam / AdamW / SGD rules.

Divergence: :meth:`Ensemble.mark_diverged` (called by the family at its logs, or every step
when a nuclear SVD is due) marks members with a non-finite loss or parameter as dead: their
state is zeroed, their learning rate set to 0, and the family writes NaN for their metrics; the
others go on.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, stack_module_state, vmap

from .optim import update_
from .penalty import add_penalty_grad_, penalty_value

GRAD_MODES = ("autograd", "vmap-grad", "loop")
#: elements per chunk of the optimizer step (256 KB of float32: stays in L2)
CHUNK_ELEMS = 2 ** 16


@dataclass(frozen=True)
class MemberSpec:
    """One member's hyperparameters.  ``l1`` / ``l2`` / ``nuclear``: a number for every
    penalized matrix, or {parameter-name prefix: number} per parameter group.  ``init_scale``
    multiplies every parameter of the member's freshly built module (the large-init lever)."""

    lr: float
    weight_decay: float = 0.0
    l1: float | Mapping[str, float] = 0.0
    l2: float | Mapping[str, float] = 0.0
    nuclear: float | Mapping[str, float] = 0.0
    init_scale: float = 1.0


def is_weight_matrix(name: str, p: Tensor) -> bool:
    """The default penalized set: every parameter with two dims (a member's weight matrix)."""
    return p.dim() == 2


def strength(value, name: str) -> float:
    """A member's strength for parameter ``name``: the number, or the longest matching prefix."""
    if not isinstance(value, Mapping):
        return float(value)
    hits = [k for k in value if name.startswith(k)]
    return float(value[max(hits, key=len)]) if hits else 0.0


class Ensemble:
    """R members of one architecture (``modules``: one built module per member) trained together.

    ``loss``: ``loss(output, target) -> scalar`` for one member's batch (written for a single
    member; it is vmapped).  ``penalized(name, param) -> bool`` picks the penalized parameters
    (default: weight matrices).  ``optimizer``: adam | adamw | sgd (shared: one program).
    """

    def __init__(self, modules: list[nn.Module], members: list[MemberSpec], loss: Callable,
                 *, optimizer: str = "adam", penalty_form: str = "norm",
                 penalized: Callable[[str, Tensor], bool] = is_weight_matrix,
                 grad_mode: str = "autograd", device="cpu"):
        if len(modules) != len(members) or not modules:
            raise ValueError("Ensemble: one module per member, at least one")
        if grad_mode not in GRAD_MODES:
            raise ValueError(f"grad_mode {grad_mode!r} is not one of {GRAD_MODES}")
        self.R = R = len(modules)
        self.dev = torch.device(device)
        self.loss, self.opt, self.form, self.grad_mode = loss, optimizer, penalty_form, grad_mode
        # the stateless skeleton the stacked parameters are called through
        self.base = copy.deepcopy(modules[0]).to("meta")
        params, buffers = stack_module_state(modules)  # name -> (R, ...)
        self.names = list(params)
        self.params = [params[n].detach().to(self.dev).clone() for n in self.names]
        self.buffers = {k: v.detach().to(self.dev) for k, v in buffers.items()}
        self.dtype = self.params[0].dtype
        with torch.no_grad():
            for p in self.params:
                p.mul_(self._col([m.init_scale for m in members], p))
        self.lr = [self._col([m.lr for m in members], p) for p in self.params]
        wd = [m.weight_decay for m in members]
        self.wd = [self._col(wd, p) for p in self.params] if any(w > 0 for w in wd) else None
        # penalty columns (R, 1, 1) per penalized matrix; use[k]: does any member use penalty k
        self.pen = {}
        for i, (n, p) in enumerate(zip(self.names, self.params)):
            if not penalized(n, p[0]):
                continue
            if p.dim() != 3:
                raise ValueError(f"Ensemble: penalized parameter {n!r} is not a matrix")
            cols = [[strength(getattr(m, k), n) for m in members] for k in ("l1", "l2", "nuclear")]
            use = tuple(any(c > 0 for c in col) for col in cols)
            self.pen[i] = ([self._col(c, p) for c in cols], use)
        self._nuclear = any(use[2] for _, use in self.pen.values())
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0
        self.alive = torch.ones(R, dtype=torch.bool)
        self._vgrad = vmap(grad(self._member_loss), in_dims=(0, 0, None, None))
        self._vgrad_b = vmap(grad(self._member_loss), in_dims=(0, 0, 0, 0))

    def _col(self, values, like: Tensor) -> Tensor:
        """(R, 1, ..., 1) column of per-member values, broadcastable against ``like``."""
        return torch.tensor(values, dtype=like.dtype, device=self.dev).view(
            -1, *([1] * (like.dim() - 1)))

    # ---- forward ------------------------------------------------------------------------------
    def _call(self, params: tuple, buffers: dict, x):
        return functional_call(self.base, ({**dict(zip(self.names, params)), **buffers}), (x,))

    def _member_loss(self, params: tuple, buffers: dict, x, y):
        return self.loss(self._call(params, buffers, x), y)

    def forward(self, x: Tensor, shared: bool = True, params=None) -> Tensor:
        """Every member's output on ``x``: the same batch (n, ...) when ``shared``, else one
        batch per member (R, n, ...).  Returns (R, n, ...)."""
        prm = tuple(self.params if params is None else params)
        return vmap(self._call, in_dims=(0, 0, None if shared else 0))(prm, self.buffers, x)

    def losses(self, x: Tensor, y: Tensor, shared: bool = True) -> Tensor:
        """(R,) data loss (no penalty) of every member."""
        f = vmap(self._member_loss, in_dims=(0, 0, None if shared else 0, None if shared else 0))
        return f(tuple(self.params), self.buffers, x, y)

    # ---- gradients ----------------------------------------------------------------------------
    def data_grads(self, x: Tensor, y: Tensor, shared: bool = True) -> list[Tensor]:
        """Gradients (R, ...) of every member's data loss with respect to its own parameters."""
        if self.grad_mode == "vmap-grad":
            f = self._vgrad if shared else self._vgrad_b
            return list(f(tuple(self.params), self.buffers, x, y))
        if self.grad_mode == "loop":
            out = [torch.empty_like(p) for p in self.params]
            for r in range(self.R):
                prm = tuple(p[r].detach().requires_grad_(True) for p in self.params)
                buf = {k: v[r] for k, v in self.buffers.items()}
                loss = self._member_loss(prm, buf, x if shared else x[r], y if shared else y[r])
                for o, g in zip(out, torch.autograd.grad(loss, prm)):
                    o[r] = g
            return out
        prm = [p.detach().requires_grad_(True) for p in self.params]
        f = vmap(self._member_loss, in_dims=(0, 0, None if shared else 0, None if shared else 0))
        total = f(tuple(prm), self.buffers, x, y).sum()  # sum_r L_r: grads do not mix
        return list(torch.autograd.grad(total, prm))

    def add_penalty_grads_(self, grads: list[Tensor]) -> None:
        for i, (cols, use) in self.pen.items():
            if any(use):
                add_penalty_grad_(grads[i], self.params[i], *cols, self.form, use)

    def penalty(self) -> Tensor:
        """(R,) beta-weighted penalty of every member."""
        out = torch.zeros(self.R, dtype=self.dtype, device=self.dev)
        for i, (cols, use) in self.pen.items():
            if any(use):
                out += penalty_value(self.params[i], *(c.view(-1) for c in cols), self.form)
        return out

    def grads(self, x: Tensor, y: Tensor, shared: bool = True) -> list[Tensor]:
        """Data-loss gradients plus the penalty gradients (every member's full objective)."""
        g = self.data_grads(x, y, shared)
        if self._nuclear:
            self.mark_diverged()  # an SVD of a non-finite member would raise
        self.add_penalty_grads_(g)
        return g

    # ---- one step -----------------------------------------------------------------------------
    @torch.no_grad()
    def apply_(self, grads: list[Tensor], penalties: bool = False) -> None:
        """One optimizer step of every member with the given gradients (``penalties``: add the
        penalty gradients first, chunk by chunk).

        The step runs over chunks of members of at most CHUNK_ELEMS elements: the update is ~10
        elementwise passes, memory-bound on a stacked (R, 200, 784) tensor (11 MB at R = 18)
        but in cache chunk by chunk (1.3x on the MNIST ensemble, benchmarks/bench_generic.py).
        Members never mix, so chunking changes no number."""
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, grads)):
            per = max(1, CHUNK_ELEMS // max(1, p[0].numel()))
            pen = self.pen.get(i) if penalties else None
            for lo in range(0, self.R, per):
                sl = slice(lo, lo + per)
                if pen is not None and any(pen[1]):
                    add_penalty_grad_(g[sl], p[sl], *(c[sl] for c in pen[0]), self.form, pen[1])
                update_(p[sl], g[sl], self.m[i][sl], self.v[i][sl], opt=self.opt,
                        lr=self.lr[i][sl], t=self.t,
                        wd=None if self.wd is None else self.wd[i][sl])

    def step(self, x: Tensor, y: Tensor, shared: bool = True) -> None:
        g = self.data_grads(x, y, shared)
        if self._nuclear:
            self.mark_diverged()  # an SVD of a non-finite member would raise
        self.apply_(g, penalties=True)

    # ---- divergence ---------------------------------------------------------------------------
    @torch.no_grad()
    def finite(self) -> Tensor:
        """(R,) bool: every parameter of the member is finite."""
        ok = torch.ones(self.R, dtype=torch.bool, device=self.dev)
        for p in self.params:
            ok &= torch.isfinite(p.reshape(self.R, -1)).all(1)
        return ok.cpu()

    @torch.no_grad()
    def mark_diverged(self, loss: Tensor | None = None) -> Tensor:
        """Kill members whose parameters (or ``loss``, (R,)) are non-finite: zero their state,
        set their lr to 0 (they stay put).  Returns the alive mask (R,)."""
        bad = ~self.finite()
        if loss is not None:
            bad |= ~torch.isfinite(loss).cpu()
        bad &= self.alive
        if bool(bad.any()):
            self.alive &= ~bad
            for ts in (self.params, self.m, self.v):
                for t in ts:
                    t[bad.to(self.dev)] = 0.0
            for lr in self.lr:
                lr[bad.to(self.dev)] = 0.0
        return self.alive

    # ---- reading the members back -----------------------------------------------------------
    def state_dict(self, r: int) -> dict[str, Tensor]:
        """Member r's parameters, as its module's state dict (load_state_dict-able)."""
        return {n: p[r].detach().clone() for n, p in zip(self.names, self.params)}

    def tensor_shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """((name, one member's shape), ...) of every parameter, in ``named_parameters`` order:
        the tensors a :meth:`checkpoint` row is the concatenation of."""
        return tuple((n, tuple(p.shape[1:])) for n, p in zip(self.names, self.params))

    @torch.no_grad()
    def checkpoint(self) -> np.ndarray:
        """(R, n) float32: every member's parameters flattened row-major and concatenated in
        :meth:`tensor_shapes` order (a checkpoint, docs/checkpoints.md); NaN for a dead member
        (its state was zeroed, not its history)."""
        flat = torch.cat([p.detach().reshape(self.R, -1) for p in self.params], 1)
        out = flat.to("cpu", torch.float32).numpy().copy()
        out[~self.alive.numpy()] = np.nan
        return out

    def matrices(self) -> list[tuple[str, Tensor]]:
        """The penalized (R, a, b) matrices with their names."""
        return [(self.names[i], self.params[i]) for i in self.pen]
