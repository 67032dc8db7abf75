"""The generic ensemble engine (groklab.families.nets.ensemble) against one model at a time.

    PYTHONPATH=src python benchmarks/bench_generic.py [--members 18] [--steps 40] [--threads 1,2]

For the MNIST MLP (y = B relu(A x), 784 -> 200 -> 10, mini-batches of 200, MSE, AdamW, an l1
penalty on A and B) and the sparse-parity MLP (20 -> 256 -> 2 with biases, 500 examples full
batch, cross-entropy, AdamW, l1), R members with different lr / l1 train

  * ensemble (autograd):  Ensemble, one vmapped forward + one backward over the summed losses;
  * ensemble (vmap-grad): Ensemble with vmap(grad(loss)) per member;
  * ensemble (loop):      Ensemble, gradients member by member (plain GEMMs), stacked step;
  * bmm:                  the same MLP written by hand on stacked (R, in, out) weights with
                          torch.bmm, autograd backward, the same optimizer step (the "grouped
                          matmul" alternative to torch.func);
  * one at a time:        R plain nn.Modules, each with torch.optim.AdamW, the penalty through
                          autograd, one after the other.

Prints model-steps/s (optimizer steps of one model per second) and the ratio of each contender
to one-at-a-time, at each thread count, and the CPU other processes used meanwhile (busy, in
cores: the machine may be shared).  Training only (no evaluation).

Measured (2026-12-02, the shared 2-core dev box, torch 2.13 CPU, quiet: busy <= 0.06 cores;
18 members, 30 steps, model-steps/s; runs repeated minutes apart differ by 10-20 %):

  MNIST MLP    1 thread:  autograd 434, vmap-grad 488, loop 453, bmm 379, one at a time 459
               2 threads: autograd 786, vmap-grad 882, loop 833, bmm 467, one at a time 747
  parity MLP   1 thread:  autograd 1663, vmap-grad 1572, loop 2245, bmm 1735, one at a time 1707
               2 threads: autograd 2517, vmap-grad 1849, loop 1761, bmm 3111, one at a time 1841

So on a CPU the stacked ensemble runs at 0.95-1.18x (MNIST) and 0.92-1.37x (parity) of one model
at a time.  What limits it: the MNIST member's products (200 x 784 x 200) are already full-size
GEMMs running near one core's peak (~90 GFLOP/s at 459 model-steps/s), so stacking has nothing to
amortize; batched GEMM (bmm) is slower than one large GEMM for these shapes.  The parity MLP is
small enough for dispatch overhead to matter, but vmap's own overhead takes most of the gain.
Before the optimizer step went chunk by chunk of members (ensemble.CHUNK_ELEMS), the stacked
AdamW update over an 11 MB (18, 200, 784) tensor was memory-bound and the MNIST ensemble ran at
0.5-0.8x.  The engine's point on a CPU is generality and exactness, not speed; on a GPU the
stacked program is one launch per op for all members (benchmarks/cuda_check.py has both families).
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of  # noqa: E402

from groklab.families.mnist.config import MnistConfig  # noqa: E402
from groklab.families.mnist.model import build as build_mnist  # noqa: E402
from groklab.families.nets.ensemble import Ensemble, MemberSpec  # noqa: E402
from groklab.families.nets.optim import update_  # noqa: E402
from groklab.families.nets.penalty import add_penalty_grad_  # noqa: E402
from groklab.families.nets.trainer import member_loss  # noqa: E402
from groklab.families.sparse_parity.config import SparseParityConfig  # noqa: E402
from groklab.families.sparse_parity.model import build as build_parity  # noqa: E402


def cases(R: int):
    g = torch.Generator().manual_seed(0)
    mn = [MnistConfig(seed=r, lr=1e-3 * (1 + r % 3), l1=1e-5 * (1 + r // 3)) for r in range(R)]
    x = torch.rand(1000, 784, generator=g)
    y = torch.randint(0, 10, (1000,), generator=g)
    sp = [SparseParityConfig(seed=r, lr=1e-3 * (1 + r % 3), l1=1e-4 * (1 + r // 3))
          for r in range(R)]
    xs = torch.randint(0, 2, (500, 20), generator=g).float() * 2 - 1
    ys = (xs[:, :3].prod(1) < 0).long()
    return {"mnist MLP 784-200-10, batch 200, mse": ([build_mnist(c) for c in mn], mn, x, y, 200,
                                                    "mse"),
            "sparse-parity MLP 20-256-2, full batch 500, ce": ([build_parity(c) for c in sp], sp,
                                                                xs, ys, 0, "cross-entropy")}


def batches(n, mb, steps, R):
    g = torch.Generator().manual_seed(1)
    if mb == 0:
        return [None] * steps
    return [torch.stack([torch.randperm(n, generator=g)[:mb] for _ in range(R)])
            for _ in range(steps)]


def run_ensemble(mods, cfgs, x, y, idx, loss, mode):
    ens = Ensemble([copy.deepcopy(m) for m in mods],
                   [MemberSpec(lr=c.lr, l1=c.l1) for c in cfgs], member_loss(loss),
                   optimizer="adamw", grad_mode=mode)
    for i in idx:
        if i is None:
            ens.step(x, y)
        else:
            ens.step(x[i], y[i], shared=False)


def run_bmm(mods, cfgs, x, y, idx, loss):
    """Hand-stacked weights (R, out, in) + torch.bmm + autograd (biases as (R, 1, out))."""
    R = len(mods)
    layers = [m for m in mods[0] if isinstance(m, torch.nn.Linear)]
    Ws = [torch.stack([[l for l in m if isinstance(l, torch.nn.Linear)][k].weight.detach()
                       for m in mods]).clone() for k in range(len(layers))]
    bs = [torch.stack([[l for l in m if isinstance(l, torch.nn.Linear)][k].bias.detach()
                       for m in mods]).unsqueeze(1).clone() if layers[k].bias is not None
          else None for k in range(len(layers))]
    params = Ws + [b for b in bs if b is not None]
    ms, vs = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    lr = torch.tensor([c.lr for c in cfgs]).view(R, 1, 1)
    l1 = torch.tensor([c.l1 for c in cfgs]).view(R, 1, 1)
    zero = torch.zeros(R, 1, 1)
    f = member_loss(loss)
    for t, i in enumerate(idx, 1):
        xb, yb = (x.expand(R, -1, -1), y.expand(R, -1)) if i is None else (x[i], y[i])
        for p in params:
            p.requires_grad_(True)
        h = xb
        for k, (W, b) in enumerate(zip(Ws, bs)):
            h = torch.bmm(h, W.transpose(1, 2)) if b is None else torch.baddbmm(b, h, W.transpose(1, 2))
            if k < len(Ws) - 1:
                h = torch.relu(h)
        total = sum(f(h[r], yb[r]) for r in range(R))
        grads = torch.autograd.grad(total, params)
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, ms, vs):
                p.requires_grad_(False)
                if p.shape[1] != 1:
                    add_penalty_grad_(g, p, l1, zero, zero, "norm", (True, False, False))
                update_(p, g, m, v, opt="adamw", lr=lr, t=t)


def run_one_at_a_time(mods, cfgs, x, y, idx, loss):
    f = member_loss(loss)
    for r, (m, c) in enumerate(zip(mods, cfgs)):
        m = copy.deepcopy(m)
        opt = torch.optim.AdamW(m.parameters(), lr=c.lr, weight_decay=0.0)
        for i in idx:
            xb, yb = (x, y) if i is None else (x[i[r]], y[i[r]])
            opt.zero_grad()
            pen = sum(p.abs().sum() for p in m.parameters() if p.dim() == 2)
            (f(m(xb), yb) + c.l1 * pen).backward()
            opt.step()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=18)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=2, help=">= 1 timed runs (best kept)")
    a = ap.parse_args()
    R, S = a.members, a.steps
    a.repeat = max(1, a.repeat)
    for name, (mods, cfgs, x, y, mb, loss) in cases(R).items():
        idx = batches(x.shape[0], mb, S, R)
        for th in (int(t) for t in a.threads.split(",")):
            torch.set_num_threads(th)
            contenders = {
                "ensemble (autograd)": lambda: run_ensemble(mods, cfgs, x, y, idx, loss, "autograd"),
                "ensemble (vmap-grad)": lambda: run_ensemble(mods, cfgs, x, y, idx, loss,
                                                             "vmap-grad"),
                "ensemble (loop)": lambda: run_ensemble(mods, cfgs, x, y, idx, loss, "loop"),
                "bmm + autograd": lambda: run_bmm(mods, cfgs, x, y, idx, loss),
                "one at a time": lambda: run_one_at_a_time(mods, cfgs, x, y, idx, loss),
            }
            speed = {}
            print(f"{name}: {R} members, {S} steps, {th} thread(s)")
            for k, fn in contenders.items():
                fn()  # warm-up
                _, wall, busy = best_of(a.repeat, fn)
                speed[k] = R * S / wall
                print(f"  {k:22s} {speed[k]:8.1f} model-steps/s   (busy {busy:.2f} cores)")
            for k in list(contenders)[:4]:
                print(f"  ratio {k} / one at a time: {speed[k] / speed['one at a time']:.2f}x")


if __name__ == "__main__":
    main()
