"""Training a family's D x B batch of network configs with the generic ensemble engine
(:mod:`.ensemble`): what a classification family built on it supplies, and the loop that turns
it into a :class:`groklab.result.BatchResult`.

A family describes itself by a :class:`NetProgram` -- how to build one member's module (its
init seed), its :class:`MemberSpec` (lr, penalties, init scale), the loss, the name of the
members' mini-batch streams and any extra curve columns -- and its data objects have
``x_train`` (n, ...), ``y_train`` (n,), ``x_test``, ``y_test``.  Members that share a data set
share its tensors (one batch for all, ``shared``); members on different data sets get their own
stacked copies (R, n, ...).

Logged on the config's schedule (whole splits): train / test accuracy, error = 1 - accuracy
(what the shared detector reads), the data loss, and the l1 / l2 / nuclear norms of the
penalized matrices (l1, l2 of them all concatenated; nuclear: the sum over matrices), plus the
family's extra columns.  A member whose train loss or parameters go non-finite is marked
diverged: NaN from then on (status ``diverged``), the others go on.

Checkpoints (``save_iterates = K``, docs/checkpoints.md): every parameter of every member at
every K-th log point and the last, as the module's ``named_parameters`` (name and shape, so
``module.load_state_dict`` takes them back), float32; a dead member's are NaN.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ...result import BatchResult, iterate_log_indices
from .batches import MemberBatches
from .ensemble import Ensemble, MemberSpec, is_weight_matrix
from .members import members_of

LOSSES = ("cross-entropy", "mse")
#: members per tensor program
MAX_MEMBERS = 64
#: examples per evaluation chunk
EVAL_ROWS = 4096
BASE_METRICS = ("train_error", "test_error", "train_accuracy", "test_accuracy", "train_loss",
                "test_loss", "l1_norm", "l2_norm", "nuclear_norm")


def member_loss(kind: str) -> Callable[[Tensor, Tensor], Tensor]:
    """One member's loss on its batch: mean cross-entropy of the logits, or (``mse``) the mean
    over examples of the squared distance to the one-hot target (Omnigrok's MNIST loss)."""
    if kind == "cross-entropy":
        return lambda out, y: F.cross_entropy(out, y)
    if kind == "mse":  # one-hot by comparison: F.one_hot reads y's values (no vmap(grad))
        return lambda out, y: ((out - (y.unsqueeze(-1) == torch.arange(
            out.shape[-1], device=out.device)).to(out.dtype)) ** 2).sum(-1).mean()
    raise ValueError(f"loss {kind!r} is not one of {LOSSES}")


@dataclass(frozen=True)
class NetProgram:
    build: Callable  # cfg -> torch.nn.Module (one member, initialized from its seed)
    spec: Callable[[object], MemberSpec]  # cfg -> the member's hyperparameters
    loss: str  # one of LOSSES
    stream: str  # names the members' mini-batch streams: derive_seed(cfg.seed, stream)
    #: (ensemble, per-member data list) -> {name: (R,) tensor} extra curve columns
    extra: Callable | None = None
    extra_names: tuple[str, ...] = ()
    penalized: Callable = is_weight_matrix


def _stack(datas, members, name, dev):
    return torch.stack([getattr(datas[i], name) for i, _ in members]).to(dev)


@torch.no_grad()
def evaluate(ens: Ensemble, x: Tensor, y: Tensor, shared: bool) -> tuple[Tensor, Tensor]:
    """(accuracy (R,), mean loss (R,)) over all of (x, y), EVAL_ROWS examples at a time."""
    n = x.shape[0 if shared else 1]
    correct = torch.zeros(ens.R, dtype=torch.float64, device=ens.dev)
    loss = torch.zeros(ens.R, dtype=torch.float64, device=ens.dev)
    for lo in range(0, n, EVAL_ROWS):
        xb = x[lo:lo + EVAL_ROWS] if shared else x[:, lo:lo + EVAL_ROWS]
        yb = y[lo:lo + EVAL_ROWS] if shared else y[:, lo:lo + EVAL_ROWS]
        out = ens.forward(xb, shared)  # (R, b, classes)
        yy = yb.expand(ens.R, -1) if shared else yb
        correct += (out.argmax(-1) == yy).sum(1)
        m = yy.shape[1]
        loss += ens.losses(xb, yb, shared).to(torch.float64) * m  # the loss is a batch mean
    return correct / n, loss / n


def _norms(ens: Ensemble) -> dict[str, Tensor]:
    mats = [W for _, W in ens.matrices()]
    if not mats:
        nan = torch.full((ens.R,), float("nan"), dtype=torch.float64)
        return {"l1_norm": nan, "l2_norm": nan, "nuclear_norm": nan}
    flat = torch.cat([W.flatten(1) for W in mats], 1)
    finite = torch.isfinite(flat).all(1)
    nuc = sum(torch.linalg.svdvals(torch.where(finite.view(-1, 1, 1), W, torch.zeros_like(W)))
              .sum(-1) for W in mats)
    return {"l1_norm": flat.abs().sum(1), "l2_norm": flat.norm(dim=1), "nuclear_norm": nuc}


def run_net_batch(datas: list, cfgs: list[list], prog: NetProgram, *, device="cpu",
                  progress=None, engine: str = "run_net_batch",
                  max_members: int = MAX_MEMBERS, save_iterates: int = 0) -> BatchResult:
    """Train D x B runs (``cfgs[d][b]`` on ``datas[d]``) in ensembles of at most
    ``max_members``.  ``save_iterates = K > 0`` keeps every parameter at every K-th log point
    and the last (``groklab.result.iterate_log_indices``)."""
    t0 = time.perf_counter()
    members, first, steps = members_of(cfgs, engine)
    keep = iterate_log_indices(len(steps), int(save_iterates)) if save_iterates else ()
    names = BASE_METRICS + tuple(prog.extra_names)
    metrics = {k: np.full((len(steps), len(members)), np.nan) for k in names}
    finals, saved, tensors = [], [], None
    dev = torch.device(device)
    for lo in range(0, len(members), max_members):
        chunk = members[lo:lo + max_members]
        logs, final, ckpt, tensors = _train_chunk(datas, chunk, prog, steps, dev, progress,
                                                  set(int(i) for i in keep))
        for k in names:
            metrics[k][:, lo:lo + len(chunk)] = np.stack([row[k] for row in logs])
        finals.append(final)
        if ckpt:
            saved.append(np.stack(ckpt))  # (len(keep), R_chunk, n)
    ok = len(keep) > 0
    return BatchResult(steps=steps, metrics=metrics, final=np.concatenate(finals),
                       iterates=np.concatenate(saved, axis=1) if ok else None,
                       wall_time_s=time.perf_counter() - t0,
                       iterate_steps=steps[keep] if ok else None,
                       iterate_tensors=tensors if ok else None)


def _train_chunk(datas, members, prog: NetProgram, steps, dev, progress, keep=frozenset()):
    cfgs = [c for _, c in members]
    first = cfgs[0]
    ens = Ensemble([prog.build(c) for c in cfgs], [prog.spec(c) for c in cfgs],
                   member_loss(prog.loss), optimizer=first.optimizer,
                   penalty_form=first.penalty_form, penalized=prog.penalized, device=dev)
    shared = len({i for i, _ in members}) == 1
    if shared:
        d0 = datas[members[0][0]]
        xtr, ytr, xte, yte = (getattr(d0, k).to(dev) for k in ("x_train", "y_train", "x_test",
                                                                 "y_test"))
    else:
        xtr, ytr, xte, yte = (_stack(datas, members, k, dev) for k in ("x_train", "y_train",
                                                                       "x_test", "y_test"))
    n_train = xtr.shape[0 if shared else 1]
    order = MemberBatches([c.seed for c in cfgs], n_train, first.batch_size, prog.stream, dev)
    rows = torch.arange(ens.R, device=dev).unsqueeze(1)  # (R, 1)
    per_member = [datas[i] for i, _ in members]
    logs, done, ckpt = [], 0, []
    for t in range(first.steps + 1):
        if t > 0:
            idx = order.next()  # (R, mb) or None
            if idx is None:
                ens.step(xtr, ytr, shared)
            elif shared:
                ens.step(xtr[idx], ytr[idx], shared=False)
            else:
                ens.step(xtr[rows, idx], ytr[rows, idx], shared=False)
        if t == steps[len(logs)]:
            logs.append(_log(ens, xtr, ytr, xte, yte, shared, prog, per_member))
            if len(logs) - 1 in keep:  # after _log: a member found dead there is NaN
                ckpt.append(ens.checkpoint())
            if progress is not None:
                progress(ens.R * (t - done))
                done = t
            if len(logs) == len(steps):
                break
    flat = torch.cat([W.detach().flatten(1) for _, W in ens.matrices()], 1)
    final = flat.cpu().numpy().astype(np.float64)
    final[~ens.alive.numpy()] = np.nan
    return logs, final, ckpt, ens.tensor_shapes()


def _log(ens, xtr, ytr, xte, yte, shared, prog, per_member) -> dict[str, np.ndarray]:
    out = {}
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        acc, loss = evaluate(ens, x, y, shared)
        out[f"{split}_accuracy"], out[f"{split}_error"], out[f"{split}_loss"] = acc, 1 - acc, loss
    ens.mark_diverged(out["train_loss"])
    with torch.no_grad():
        out.update(_norms(ens))
        if prog.extra is not None:
            out.update(prog.extra(ens, per_member))
    dead = ~ens.alive.numpy()
    res = {}
    for k, v in out.items():
        a = v.detach().cpu().numpy().astype(np.float64)
        a[dead] = np.nan
        res[k] = a
    return res
