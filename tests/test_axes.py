"""Range axes, grid files and the fast grid expansion (groklab.axes, groklab.grid)."""
from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest

from groklab import family as registry
from groklab.axes import Span, irange, linspace, logspace, parse_axis, read_grid_file, split_items
from groklab.errors import ConfigError
from groklab.fields import _id_payload
from groklab.grid import MAX_RUNS, expand_grid, grid_axes, plan_batches

from groklab.cli.options import build_parser, sweep_values

from conftest import cli

SMALL = {"dim": 20, "sparsity": 2, "measurements": 10, "steps": 200, "log_every": 50,
         "log_dense_until": 50}


def reference_id(cfg) -> str:
    """The run id the way it was always computed: SHA-1 of the sorted JSON payload."""
    import hashlib  # noqa: PLC0415 -- the reference lives in the test

    blob = json.dumps(_id_payload(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


# ---- parsing -----------------------------------------------------------------------------------
def test_linspace_endpoints_and_count():
    vals = parse_axis("lr", "linspace(0.01,0.1,10)", "float")
    assert len(vals) == 10 and vals[0] == 0.01 and vals[-1] == 0.1
    assert vals == np.linspace(0.01, 0.1, 10).tolist()
    assert np.allclose(np.diff(vals), 0.01)


def test_logspace_matches_numpy_and_keeps_the_ends_exactly():
    a, b, n = 3e-6, 7e-2, 4096
    vals = parse_axis("l1", f"logspace({a},{b},{n})", "float")
    ref = np.logspace(math.log10(a), math.log10(b), n)
    assert len(vals) == n
    assert vals[0] == a and vals[-1] == b  # the values asked for, not 10 ** log10(a)
    assert vals[1:-1] == ref[1:-1].tolist()  # the interior is numpy's, bit for bit
    assert abs(ref[0] - a) <= 4 * np.spacing(a) and abs(ref[-1] - b) <= 4 * np.spacing(b)
    ratios = np.diff(np.log10(vals))
    assert np.allclose(ratios, ratios[0], rtol=1e-9)


def test_logspace_decades_equal_the_comma_list():
    assert parse_axis("l1", "logspace(1e-5,1e-1,5)", "float") == [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]


def test_integer_ranges_are_pythons_range():
    assert parse_axis("seed", "range(0,5)", "int") == [0, 1, 2, 3, 4]
    assert parse_axis("seed", "range(10,0,-3)", "int") == [10, 7, 4, 1]
    assert parse_axis("seed", "range(0,1e3,250)", "int") == [0, 250, 500, 750]
    big = parse_axis("seed", "range(0,32768)", "int")
    assert big == list(range(32768))


def test_integer_option_rounds_log_ranges_and_drops_duplicates():
    assert parse_axis("steps", "logspace(1e3,1e6,4)", "int") == [1000, 10000, 100000, 1000000]
    assert parse_axis("dim", "linspace(1,3,5)", "int") == [1, 2, 3]  # 1, 1.5->2, 2, 2.5->2, 3


def test_items_and_ranges_mix_in_one_axis():
    vals = parse_axis("l1", "0,logspace(1e-4,1e-2,3),0.5", "float")
    assert vals == [0.0, 1e-4, 1e-3, 1e-2, 0.5]
    assert split_items("a,f(1,2),b") == ["a", "f(1,2)", "b"]
    assert parse_axis("lr", "0.1", "float") == 0.1  # one value stays a scalar (not an axis)
    assert parse_axis("seed", "range(3,4)", "int") == [3]  # a range is an axis even of one


@pytest.mark.parametrize("text, words", [
    ("logspace(0,1,3)", "ends > 0"),
    ("logspace(1e-3,1e-1)", "logspace(a,b,n)"),
    ("linspace(0,1,0)", "count"),
    ("linspace(0,1,2.5)", "count"),
    ("range(0,5,0)", "step"),
    ("range(5,5)", "no values"),
    ("range(0,1.5)", "integers"),
    ("range(0,1e12)", "at most"),
    ("linspace(0,inf,3)", "finite"),
    ("geomspace(1,2,3)", "not a number or a range"),
    ("1e-3,,1e-2", "empty item"),
    ("٠.١", "ASCII"),
])
def test_bad_ranges_are_one_line_errors_naming_the_option(text, words):
    with pytest.raises(ConfigError) as e:
        parse_axis("l1", text, "float")
    msg = str(e.value)
    assert msg.startswith("--l1: ") and words in msg and "\n" not in msg


def test_span_objects_give_the_same_values_as_strings():
    assert logspace(1e-6, 1e-2, 9).values("l1") == parse_axis("l1", "logspace(1e-6,1e-2,9)", "float")
    assert linspace(0, 1, 5).values("lr") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert irange(0, 6, 2).values("seed", "int") == [0, 2, 4] and len(irange(0, 6, 2)) == 3
    assert str(logspace(1e-6, 1e-2, 9)) == "logspace(1e-06,0.01,9)"
    assert Span("range", (0, 3)) == irange(0, 3)


# ---- grids -------------------------------------------------------------------------------------
def test_api_grid_accepts_ranges_numpy_and_strings():
    a = expand_grid("sparse-recovery", {**SMALL, "l1": "logspace(1e-4,1e-2,3)", "seed": range(1, 3)})
    b = expand_grid("sparse-recovery", {**SMALL, "l1": [1e-4, 1e-3, 1e-2], "seed": np.arange(1, 3)})
    c = expand_grid("sparse-recovery", {**SMALL, "l1": logspace(1e-4, 1e-2, 3),
                                        "seed": irange(1, 3)})
    ids = [cfg.run_id() for cfg in a]
    assert len(ids) == 6 and ids == [cfg.run_id() for cfg in b] == [cfg.run_id() for cfg in c]
    assert all(type(cfg.seed) is int for cfg in b)  # numpy integers became Python ints


def test_empty_axis_and_too_many_runs_are_refused():
    with pytest.raises(ConfigError, match="--l1: an empty list"):
        expand_grid("sparse-recovery", {"l1": []})
    with pytest.raises(ConfigError, match=r"--seed: the grid has .* at most"):
        grid_axes("sparse-recovery", {"seed": "range(0,4000)", "l1": "linspace(0,1,4000)"})
    assert MAX_RUNS >= 10 ** 6


def test_fast_expansion_gives_the_reference_ids_and_configs():
    """The grid route fills configs in from a checked first one and assembles their ids from
    pieces; both must equal configs built one by one and ids hashed from the whole payload."""
    rng = random.Random(0)
    cases = [
        ("sparse-recovery", {**SMALL, "lr": [0.01, 0.02], "l1": [0, 1e-3, 1], "seed": [1, 2],
                             "depth": [1, 2], "init": ["constant", "random"], "snr": [math.inf, 1e8]}),
        ("matrix-completion", {"nuclear": [0, 1e-3], "rows": [9, 10], "l2": [0, 1], "width": [0, 3]}),
        ("matrix-sensing", {"measurements": [20, 30], "depth": [1, 2], "init": ["identity", "random"]}),
        ("modular", {"modulus": [7, 11], "l1": [0, 1e-4], "seed": [0, 3], "operation": ["add", "mul"]}),
        ("teacher-student", {"hidden": [4, 8], "sobolev": [0, 1e-3], "steps": [10, 20]}),
    ]
    for problem, grid in cases:
        cls = registry.get(problem).config
        fast = expand_grid(problem, grid)
        keys = list(grid)
        axes = [v if isinstance(v, list) else [v] for v in grid.values()]
        combos = [dict(zip(keys, c)) for c in itertools.product(*axes)]
        plain = [cls(**c) for c in combos]
        assert fast == plain, problem  # equal fields, same order
        for f, p in zip(fast, plain):
            assert f.run_id() == reference_id(p) == reference_id(f), problem
            assert f.data_key() == p.data_key() and f.batch_key() == p.batch_key()
        # ints given to float options are the same runs as floats (l1=0 and l1=0.0)
        pick = rng.choice(fast)
        assert pick.run_id() == reference_id(pick)


def test_a_runs_id_does_not_depend_on_the_families_hashed_before_it():
    """Families share key names but not how they declare them (sparse recovery's ``depth`` was
    added later and is left out at 1; the matrix families always write it): ids memoised by
    key and value alone depended on which family a process hashed first."""
    for first, then in (("matrix-sensing", "sparse-recovery"),
                        ("sparse-recovery", "matrix-completion")):
        for problem in (first, then):  # fresh configs: no id cached on them yet
            cfg = registry.get(problem).config(**(SMALL if problem == "sparse-recovery" else {}),
                                               depth=1)
            assert cfg.run_id() == reference_id(cfg), (first, then, problem)


def test_engine_version_enters_the_fast_ids(monkeypatch):
    """A family whose engine version is above 1 gets it into every id, on both routes."""
    cls = registry.get("sparse-recovery").config
    grid = {**SMALL, "l1": [1e-3, 1e-2]}
    before = [c.run_id() for c in expand_grid("sparse-recovery", grid)]
    newer = cls.engine_version + 1
    monkeypatch.setattr(cls, "engine_version", newer, raising=False)  # after ids were made
    after = expand_grid("sparse-recovery", grid)
    assert [c.run_id() for c in after] == [reference_id(c) for c in after]
    assert set(before).isdisjoint(c.run_id() for c in after)
    assert f'"engine_version": {newer}' in json.dumps(_id_payload(after[0]), sort_keys=True)


def test_invalid_combinations_still_raise_on_the_fast_route():
    with pytest.raises(ConfigError, match="--sparsity"):
        expand_grid("sparse-recovery", {"dim": [20, 3], "sparsity": 5})
    with pytest.raises(ConfigError, match="--lr"):
        expand_grid("sparse-recovery", {"lr": [0.1, -1.0]})


def test_plan_batches_cuts_a_large_axis():
    cfgs = expand_grid("sparse-recovery", {**SMALL, "l1": "linspace(0,1e-2,5000)"})
    batches = plan_batches(cfgs, 1024)
    assert [sum(len(r) for r in b) for b in batches] == [1024] * 4 + [904]


# ---- grid files --------------------------------------------------------------------------------
GRID_TOML = """
problem = "sparse-recovery"
dim = 20
sparsity = 2
measurements = 10
steps = 300
log-every = 50
log_dense_until = 100
lr = [0.02, 0.05]
l1 = "0,logspace(1e-3,1e-2,2)"
seed = "range(1,3)"
"""


def test_grid_file_reads_fixed_list_and_range_values(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(GRID_TOML)
    problem, values = read_grid_file(path)
    assert problem == "sparse-recovery" and values["log_every"] == 50
    cfgs = expand_grid(problem, values)
    assert len(cfgs) == 2 * 3 * 2
    assert sorted({c.l1 for c in cfgs}) == [0.0, 1e-3, 1e-2]


@pytest.mark.parametrize("text, words", [
    ("lr = [0.1,", "not valid TOML"),
    ("[grid]\nlr = 0.1", "is a table"),
    ("problem = 3", "problem must be a string"),
])
def test_bad_grid_files_are_one_line_errors(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        read_grid_file(path)
    assert str(e.value).startswith("--grid: ") and words in str(e.value)
    with pytest.raises(ConfigError, match="no such file"):
        read_grid_file(tmp_path / "missing.toml")


def _cli_ids(*args) -> list[str]:
    """The run ids the CLI would run for ``groklab run ARGS`` (its parser, its grid merge)."""
    ns = build_parser().parse_args(["run", *map(str, args)])
    fam = registry.get(ns.problem)
    return [cfg.run_id() for cfg in expand_grid(ns.problem, sweep_values(ns, fam))]


def test_grid_file_equals_the_same_sweep_given_by_flags(tmp_path):
    """Round trip: the file, the flags, and the file with a flag replacing one of its axes."""
    path = tmp_path / "sweep.toml"
    path.write_text(GRID_TOML)
    flags = ["--dim", "20", "--sparsity", "2", "--measurements", "10", "--steps", "300",
             "--log-every", "50", "--log-dense-until", "100", "--lr", "0.02,0.05",
             "--l1", "0,1e-3,1e-2", "--seed", "1,2"]
    from_file = _cli_ids("sparse-recovery", "--grid", path)
    assert len(from_file) == 12
    assert sorted(from_file) == sorted(_cli_ids("sparse-recovery", *flags))  # order: key order
    assert from_file == [c.run_id() for c in expand_grid("sparse-recovery",
                                                         read_grid_file(path)[1])]
    # a flag replaces the file's value of that option (here: one seed instead of two)
    one_seed = _cli_ids("sparse-recovery", "--grid", path, "--seed", "2")
    assert len(one_seed) == 6 and set(one_seed) < set(from_file)
    # a grid file of another family is refused, in one line naming --grid
    p = cli("run", "modular", "--grid", path, "--dry-run")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--grid" in p.stderr
