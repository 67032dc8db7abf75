"""The generic ensemble engine (groklab.families.nets.ensemble) against independent references:
autograd of the summed member losses, one module at a time trained by torch.optim, torch.optim's
own steps, and divergence isolation."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from groklab.families.nets.batches import MemberBatches
from groklab.families.nets.ensemble import Ensemble, MemberSpec
from groklab.families.nets.trainer import member_loss

N_IN, WIDTH, N_OUT = 6, 8, 3


def mlp(seed: int, dtype=torch.float64) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_IN, WIDTH), nn.ReLU(), nn.Linear(WIDTH, N_OUT)).to(dtype)


def ce(out, y):
    return F.cross_entropy(out, y)


def data(n=40, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, N_IN, generator=g, dtype=dtype), torch.randint(0, N_OUT, (n,), generator=g)


def penalty_autograd(model: nn.Module, spec: MemberSpec, form="norm"):
    """sum over weight matrices of beta h(W), written with autograd-able torch functions."""
    out = 0.0
    for W in (p for p in model.parameters() if p.dim() == 2):
        fro = torch.linalg.matrix_norm(W)
        out = out + spec.l1 * W.abs().sum() + spec.l2 * (fro if form == "norm" else fro ** 2) \
            + spec.nuclear * torch.linalg.svdvals(W).sum()
    return out


SPECS = [MemberSpec(lr=1e-2, l1=1e-3), MemberSpec(lr=3e-3, l2=1e-2, weight_decay=0.1),
         MemberSpec(lr=5e-3, nuclear=2e-3, init_scale=2.0)]


@pytest.mark.parametrize("mode", ["autograd", "vmap-grad", "loop"])
@pytest.mark.parametrize("shared", [True, False])
def test_gradients_match_autograd_of_the_summed_losses(mode, shared):
    mods = [mlp(s) for s in range(3)]
    ens = Ensemble([copy.deepcopy(m) for m in mods], SPECS, ce, grad_mode=mode)
    if shared:
        x, y = data()
        xs, ys = [x] * 3, [y] * 3
    else:
        xs, ys = zip(*(data(seed=r) for r in range(3)))
        x, y = torch.stack(xs), torch.stack(ys)
    got = ens.grads(x, y, shared=shared)
    refs = []
    for r, (m, spec) in enumerate(zip(mods, SPECS)):
        m = copy.deepcopy(m)
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(spec.init_scale)
        refs.append(m)
    total = sum(ce(m(xr), yr) + penalty_autograd(m, s) for m, s, xr, yr in zip(refs, SPECS, xs, ys))
    total.backward()  # the summed objective of all members: its gradient per member is theirs
    for i, name in enumerate(ens.names):
        want = torch.stack([dict(m.named_parameters())[name].grad for m in refs])
        torch.testing.assert_close(got[i], want, rtol=1e-10, atol=1e-12)


def _solo(model, spec, opt_name, x, y, seed, steps, batch_size, stream="test/batch-order"):
    """One module trained alone: nn.Module + torch.optim, penalty through autograd."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(spec.init_scale)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[opt_name]
    opt = cls(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    order = MemberBatches([seed], x.shape[0], batch_size, stream)
    for _ in range(steps):
        idx = order.next()
        xb, yb = (x, y) if idx is None else (x[idx[0]], y[idx[0]])
        opt.zero_grad()
        (ce(model(xb), yb) + penalty_autograd(model, spec)).backward()
        opt.step()
    return model


def _ensemble_run(mods, specs, opt_name, x, y, seeds, steps, batch_size, dtype,
                  stream="test/batch-order"):
    ens = Ensemble([copy.deepcopy(m).to(dtype) for m in mods], specs, ce, optimizer=opt_name)
    order = MemberBatches(seeds, x.shape[0], batch_size, stream)
    x = x.to(dtype)
    for _ in range(steps):
        idx = order.next()
        if idx is None:
            ens.step(x, y)
        else:
            ens.step(x[idx], y[idx], shared=False)
    return ens


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
def test_member_k_is_config_k_trained_alone_by_torch_optim(opt_name):
    """Three members (own lr, penalty, weight decay, init scale, seed, mini-batch order) of
    one ensemble vs each trained alone by torch.optim.  float64 after 60 steps: measured max
    abs difference 1.1e-16 (the summation order of batched vs single products differs)."""
    x, y = data(n=30)
    mods, seeds = [mlp(s) for s in (0, 1, 2)], [5, 6, 7]
    ens = _ensemble_run(mods, SPECS, opt_name, x, y, seeds, 60, 8, torch.float64)
    for r, (m, spec, seed) in enumerate(zip(mods, SPECS, seeds)):
        solo = _solo(m, spec, opt_name, x, y, seed, 60, 8)
        for name, p in solo.named_parameters():
            torch.testing.assert_close(ens.state_dict(r)[name], p.detach(), rtol=1e-9, atol=1e-11)


def test_member_k_alone_in_float32():
    """The same comparison in float32 over 60 Adam steps: agreement to float32 rounding
    (measured max abs difference 1.8e-7 on weights of size ~0.3; bound 1e-5)."""
    x, y = data(n=30, dtype=torch.float32)
    mods = [mlp(s, torch.float32) for s in (0, 1, 2)]
    ens = _ensemble_run(mods, SPECS, "adam", x, y, [5, 6, 7], 60, 8, torch.float32)
    for r, (m, spec) in enumerate(zip(mods, SPECS)):
        solo = _solo(m, spec, "adam", x, y, 5 + r, 60, 8)
        for name, p in solo.named_parameters():
            torch.testing.assert_close(ens.state_dict(r)[name], p.detach(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("opt_name", ["adam", "adamw", "sgd"])
def test_one_step_equals_torch_optim(opt_name):
    m = mlp(0)
    spec = MemberSpec(lr=0.05, weight_decay=0.3)
    ens = Ensemble([copy.deepcopy(m)], [spec], ce, optimizer=opt_name)
    g = [torch.randn_like(p) for p in ens.params]
    for _ in range(3):  # three steps: bias correction and moments engaged
        ens.apply_(g)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[opt_name]
    opt = cls(m.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    for _ in range(3):
        for p, gi in zip(m.parameters(), g):
            p.grad = gi[0].clone()
        opt.step()
    for (name, p), e in zip(m.named_parameters(), ens.params):
        torch.testing.assert_close(e[0], p.detach(), rtol=1e-12, atol=1e-14)


def test_per_group_penalty_hits_only_its_group():
    """l1 = {'0.': beta}: the first layer's matrix gets beta sign(W), the second none."""
    m = mlp(0)
    x, y = data()
    plain = Ensemble([copy.deepcopy(m)], [MemberSpec(lr=1.0)], ce)
    grouped = Ensemble([copy.deepcopy(m)], [MemberSpec(lr=1.0, l1={"0.": 0.5})], ce)
    g0, g1 = plain.grads(x, y), grouped.grads(x, y)
    for i, name in enumerate(plain.names):
        extra = g1[i] - g0[i]
        want = 0.5 * torch.sign(plain.params[i]) if name == "0.weight" else torch.zeros_like(extra)
        torch.testing.assert_close(extra, want)


def test_diverged_member_is_marked_and_the_others_go_on():
    x, y = data(n=30)
    mods = [mlp(s) for s in (0, 1)]
    specs = [MemberSpec(lr=1e-2), MemberSpec(lr=1e-2)]
    ens = Ensemble([copy.deepcopy(m) for m in mods], specs, ce, optimizer="sgd")
    with torch.no_grad():
        ens.params[0][1, 0, 0] = float("nan")  # member 1 blows up
    for _ in range(20):
        ens.step(x, y)
        ens.mark_diverged(ens.losses(x, y))
    assert ens.alive.tolist() == [True, False]
    assert all(torch.isfinite(p).all() for p in ens.params)  # its state was zeroed
    solo = _solo(mods[0], specs[0], "sgd", x, y, 0, 20, 0)
    for name, p in solo.named_parameters():
        torch.testing.assert_close(ens.state_dict(0)[name], p.detach(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("mode", ["autograd", "vmap-grad", "loop"])
def test_mse_loss_to_one_hot_targets_in_both_grad_modes(mode):
    """The trainer's mse loss (one-hot built by comparison) under vmap and vmap(grad)."""
    x, y = data()
    m = mlp(0)
    ens = Ensemble([copy.deepcopy(m)], [MemberSpec(lr=1.0)], member_loss("mse"), grad_mode=mode)
    got = ens.grads(x, y)
    ((m(x) - F.one_hot(y, N_OUT).double()) ** 2).sum(-1).mean().backward()
    for g, p in zip(got, m.parameters()):
        torch.testing.assert_close(g[0], p.grad, rtol=1e-10, atol=1e-12)
