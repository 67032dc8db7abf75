"""Expanding a grid (``{option: value or axis}``) into configs, fast enough for 1e6 runs.

A grid's values are read by :mod:`groklab.axes` (lists, tuples, ranges, numpy arrays, range
strings such as ``"logspace(1e-6,1e-2,4096)"``, :class:`groklab.axes.Span` objects).  The
Cartesian product runs first key slowest; duplicate configs collapse to one.

Speed.  Building a config the plain way checks each of its ~20 fields and hashes its JSON text:
~35 us a config, a minute for 1e6.  A grid repeats each axis value in many configs, so here the
first config is built the plain way (every check), each axis value is checked once, and the other
configs are filled in from the first one's fields (validate() -- the cross-field rules -- still
runs on every config), their run ids made by :func:`groklab.fields.id_maker` from the constant
pieces of the id's text (the same ids: tests/test_axes.py).  Configs that name data files, and
families whose config defines its own ``__init__`` / ``__post_init__``, take the plain route.
"""
from __future__ import annotations

import gc
import itertools
import math
from collections import defaultdict

from . import family as registry
from .axes import axis_values
from .errors import ConfigError
from .fields import ConfigBase, check_field, fields_dict, fields_of, id_maker, is_float_field, \
    is_int_field

#: runs per tensor program: 1024 measured best on 2 cores (README, "Speed": 128 -> 11x,
#: 512 -> 19.6x, 1024 -> 20.6x, 2048 -> 21.5x vs numpy, at twice the memory per batch)
DEFAULT_BATCH_SIZE = 1024
#: the most runs one command expands (each config costs ~1 KB of memory)
MAX_RUNS = 10 ** 7


def kind_of(f) -> str:
    """How an option's values are read: "int", "float" or "str"."""
    return "int" if is_int_field(f) else "float" if is_float_field(f) else "str"


def grid_axes(problem: str, values: dict) -> tuple[list[str], list[list]]:
    """(options, their value lists) of a grid; ConfigError for an unknown option, an empty axis
    or too many runs."""
    fields = fields_dict(registry.get(problem).config)
    keys, axes = [], []
    for k, v in values.items():
        if k not in fields:
            raise ConfigError(k, f"unknown option for {problem}")
        vals = axis_values(k, v, kind_of(fields[k]))
        vals = vals if isinstance(vals, list) else [vals]
        if not vals:
            raise ConfigError(k, "an empty list: give at least one value")
        keys.append(k)
        axes.append(vals)
    n = math.prod(len(a) for a in axes)
    if n > MAX_RUNS:
        big = max(range(len(axes)), key=lambda i: len(axes[i]))
        shape = " x ".join(f"{k} {len(a)}" for k, a in zip(keys, axes) if len(a) > 1)
        raise ConfigError(keys[big], f"the grid has {n:,} runs ({shape}); at most {MAX_RUNS:,} "
                          "per command: split it (--shard I/K, or several commands)")
    return keys, axes


def count_runs(problem: str, values: dict) -> int:
    """The size of the Cartesian product, before duplicates collapse (no config is built)."""
    return math.prod(len(a) for a in grid_axes(problem, values)[1])


def _fast_route(cls) -> bool:
    """Whether configs of ``cls`` may be filled in from a checked first one: a dataclass whose
    ``__init__`` is the generated one and whose post-init is ConfigBase's (the checks, validate)."""
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    return (issubclass(cls, ConfigBase) and cls.__post_init__ is ConfigBase.__post_init__
            and cls.__new__ is object.__new__ and code is not None
            and code.co_filename == "<string>")


def expand_grid(problem: str, values: dict) -> list:
    """Cartesian product over every value that is an axis (a list, range, ... or a range string of
    a numeric option); scalars are fixed.  Order: first key varies slowest.  Duplicate configs
    collapse to one."""
    cls = registry.get(problem).config
    keys, axes = grid_axes(problem, values)
    var = [i for i, a in enumerate(axes) if len(a) > 1]
    first = cls(**{k: a[0] for k, a in zip(keys, axes)})  # every check, every rule
    if not var:
        return [first]
    names = [keys[i] for i in var]
    fixed = {f.name: first.__dict__[f.name] for f in fields_of(cls) if f.name not in names}
    make_id = id_maker(cls, fixed, names) if _fast_route(cls) else None
    if make_id is None or first.__dict__.get("_digests"):
        return _plain(problem, keys, axes)
    fields = fields_dict(cls)
    for i in var:  # each axis value checked once (its field's declared bounds)
        for v in axes[i]:
            check_field(fields[keys[i]], v)
    # copied from the first config's own instance dict (its fields, then its empty, never
    # mutated file digests): the keys stay in the plain route's order and the instance dicts
    # keep sharing their keys -- 250 bytes a config instead of 830 for a fresh dict's copy
    proto = first.__dict__
    validate, new = cls.validate, object.__new__
    out: dict = {}
    # a million new objects would trigger the cyclic garbage collector thousands of times, each
    # pass scanning every config made so far (they hold no cycles): pause it for the loop
    paused = gc.isenabled()
    gc.disable()
    try:
        for combo in itertools.product(*(axes[i] for i in var)):
            obj = new(cls)
            d = obj.__dict__
            d.update(proto)
            d.update(zip(names, combo))
            validate(obj)
            rid = d["_run_id"] = make_id(combo)
            out.setdefault(rid, obj)
    finally:
        if paused:
            gc.enable()
    return list(out.values())


def _plain(problem: str, keys: list[str], axes: list[list]) -> list:
    cls = registry.get(problem).config
    out: dict = {}
    for combo in itertools.product(*axes):
        cfg = cls(**dict(zip(keys, combo)))
        out.setdefault(cfg.run_id(), cfg)
    return list(out.values())


def plan_batches(configs: list, batch_size: int = DEFAULT_BATCH_SIZE) -> list[list[list]]:
    """Return batches, each a D x B nested list (D data sets, B runs on each)."""
    groups: dict = defaultdict(lambda: defaultdict(list))
    for cfg in configs:
        groups[(cfg.problem, *cfg.batch_key())][cfg.data_key()].append(cfg)
    batches = []
    for by_data in groups.values():
        by_count: dict = defaultdict(list)
        for runs in by_data.values():
            by_count[len(runs)].append(runs)
        for B, rows in by_count.items():
            if B >= batch_size:
                for runs in rows:
                    for i in range(0, B, batch_size):
                        batches.append([runs[i:i + batch_size]])
            else:
                per = max(1, batch_size // B)
                for i in range(0, len(rows), per):
                    batches.append(rows[i:i + per])
    return batches
