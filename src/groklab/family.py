"""The family contract and the registry: how an experiment family plugs into groklab.

A *family* is one kind of experiment (sparse recovery, matrix completion, a modular-arithmetic
MLP, ...).  It lives in one folder (or one file) and tells the core everything the core needs
through one :class:`Family` record: its config dataclass (whose fields become CLI flags), its
detection defaults, which curve columns become ``final_*`` run columns, how its columns are
labelled in plots and reports, and -- by module path, imported on first use -- its *runtime*
(the tensor side: data, engine, theory columns) and its paper *figures*.  The core (cli, sweep,
store, detect, plotting, backends, api) talks to families only through this record and the
neutral :class:`groklab.result.BatchResult`; it names no family and no family column.

The runtime module provides (functions at module level; only ``make_data`` and ``run_batch``
are required)::

    make_data(cfg) -> data                              # deterministic in the config's fields
    reference(data) -> dict                             # data-only quantities, once per data set
    check(cfg, data) -> None                            # raise ConfigError (e.g. lr too large)
    run_batch(datas, cfgs, *, device, save_iterates, progress) -> BatchResult   # D x B runs
    run_columns(cfg, data, ref, final, col) -> dict     # family columns of the runs table
    provenance() -> dict                                # how it ran, for OUT/manifest.json

Registration.  Built-in families are the packages under ``groklab/families/`` (found by listing
that folder, so adding one touches no core file); others are named by the ``groklab.families``
entry-point group of an installed package, or by the ``GROKLAB_FAMILIES`` environment variable
(comma-separated module names), or registered from Python with :func:`register`.  A family
module registers itself when imported, so a Ray worker that unpickles one of its configs has it.
docs/adding-a-family.md walks through a complete example.
"""
from __future__ import annotations

import os
import pkgutil
from dataclasses import dataclass, field, fields as dataclass_fields
from importlib import metadata
from types import ModuleType
from typing import Callable, Mapping

import numpy as np

from . import families as _builtin
from .detect import Detection
from .fields import ConfigError
from .lazy import load

ENV_VAR = "GROKLAB_FAMILIES"
ENTRY_POINTS = "groklab.families"


def _ratio_curves(curves, ratios: Mapping[str, tuple[str, str]]) -> None:
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (num, den) in ratios.items():
            curves[name] = curves[num] / curves[den]


@dataclass(frozen=True, eq=False)
class Family:
    """Everything the core knows about one family (see the module docstring)."""

    #: the problem name: ``groklab run NAME``, the ``problem`` column, the run id's prefix
    name: str
    #: the config dataclass (a :class:`groklab.fields.ConfigBase` with ``problem = name``)
    config: type
    #: dotted path of the runtime module (the tensor side), imported on first use
    runtime: str
    #: dotted path of a module with ``FIGURES: dict[str, groklab.figures.Figure]``, or None
    figures: str | None = None
    #: one line for ``groklab run --help`` (default: the config's docstring, first line)
    summary: str = ""
    #: detection settings when none are given
    detection: Detection = field(default_factory=Detection)
    #: curve columns whose last value becomes a ``final_<name>`` column of the runs table
    final_metrics: tuple[str, ...] = ()
    #: curve column -> dtype (counts as "int32"/"int64": NaN of a diverged run -> -1; "bool")
    curve_dtypes: Mapping[str, str] = field(default_factory=dict)
    #: run column -> dtype, for family columns that may be None in every row (e.g. predictions)
    run_dtypes: Mapping[str, str] = field(default_factory=dict)
    #: derived curve columns: name -> (numerator column, denominator column)
    ratios: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: prefix of the iterate columns in the iterates table (a_0, a_1, ...)
    iterate_prefix: str = "x"
    #: config fields ``report`` shows even when they do not vary (the knobs of the delay law)
    key_fields: tuple[str, ...] = ()
    #: config field -> short label in plots (``dim`` -> ``n``)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: norm curves drawn on a run's twin axis, in order of preference: column -> label
    norms: Mapping[str, str] = field(default_factory=dict)
    #: penalty strengths beta of the Delta t ~ (lr beta)^k law, in order of preference:
    #: field -> label of the family's Delta t predictor ("" when it has none)
    penalties: Mapping[str, str] = field(default_factory=dict)
    #: the family's predicted times as run columns: {"t1": column, "delta_t": column}
    predictions: Mapping[str, str] = field(default_factory=dict)
    #: run column with the test error of a model that memorizes only (drawn as a reference)
    memorized_error: str | None = None
    #: plot axes in order of preference when a sweep varies several fields
    axis_priority: tuple[str, ...] = ()
    #: (train, test) curve columns of accuracies, for a family whose errors are 1 - accuracy:
    #: the generic plots draw these on a linear [0, 1] axis instead of the errors on a log one
    accuracy: tuple[str, str] | None = None
    #: config field -> (other field, its values where the first applies), e.g. a transformer's
    #: heads only with architecture transformer: plot titles leave out what does not apply
    applies: Mapping[str, tuple[str, tuple]] = field(default_factory=dict)
    #: the registry's default family for ``groklab.run(...)`` without ``problem``
    default: bool = False
    #: a torch-free check of the environment variables the family reads (raise
    #: ``ConfigError.environment``), called before a sweep creates or touches anything
    check_environment: Callable[[], object] | None = None

    def __post_init__(self):
        if getattr(self.config, "problem", None) != self.name:
            raise ValueError(f"family {self.name!r}: its config {self.config.__name__} has "
                             f"problem = {getattr(self.config, 'problem', None)!r}")
        if not self.summary:
            doc = (self.config.__doc__ or self.name).strip().splitlines()[0]
            object.__setattr__(self, "summary", doc)

    # ---- the runtime (imported on first use) -------------------------------------------------
    def runtime_module(self) -> ModuleType:
        return load(self.runtime)

    def _hook(self, name: str) -> Callable | None:
        return getattr(self.runtime_module(), name, None)

    def make_data(self, cfg):
        return self._hook("make_data")(cfg)

    def reference(self, data) -> dict:
        hook = self._hook("reference")
        return hook(data) if hook else {}

    def check(self, cfg, data) -> None:
        hook = self._hook("check")
        if hook:
            hook(cfg, data)

    def run_batch(self, datas, cfgs, *, device, save_iterates, progress=None):
        return self._hook("run_batch")(datas, cfgs, device=device, save_iterates=save_iterates,
                                       progress=progress)

    def run_columns(self, cfg, data, ref, final, col) -> dict:
        hook = self._hook("run_columns")
        return hook(cfg, data, ref, final, col) if hook else {}

    def runtime_info(self) -> dict:
        """What the runtime says about how it ran (its optional ``provenance()``), for the
        manifest -- e.g. which compiled kernel the batches used."""
        hook = self._hook("provenance")
        return hook() if hook else {}

    def derive_curves(self, curves) -> None:
        """Add the derived curve columns in place."""
        if self.ratios:
            _ratio_curves(curves, self.ratios)

    def figures_module(self) -> ModuleType | None:
        return load(self.figures) if self.figures else None


# ---- the registry --------------------------------------------------------------------------------
_FAMILIES: dict[str, Family] = {}
_discovered = False


def register(*families: Family) -> None:
    """Make families known by name (a family module calls this when imported)."""
    for fam in families:
        old = _FAMILIES.get(fam.name)
        if old is not None and old.config is not fam.config and \
                old.config.__qualname__ != fam.config.__qualname__:
            raise ValueError(f"two families are named {fam.name!r}")
        _FAMILIES[fam.name] = fam


def _plugin_modules() -> list[tuple[str, str]]:
    """(module, where it is named) of every plug-in family: GROKLAB_FAMILIES, then entry points."""
    mods = [(m.strip(), ENV_VAR) for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]
    try:
        mods += [(ep.value, f"the entry point {ep.name!r} ({ENTRY_POINTS})")
                 for ep in metadata.entry_points(group=ENTRY_POINTS)]
    except Exception:  # noqa: BLE001 -- a broken installed distribution must not stop groklab
        pass
    return mods


def discover() -> None:
    """Import every built-in family package and every plug-in module (once per process).  A
    plug-in that cannot be imported is a one-line ConfigError naming where it was named (the
    environment variable or the entry point), raised again on every later call until fixed."""
    global _discovered
    if _discovered:
        return
    for info in pkgutil.iter_modules(_builtin.__path__):
        if info.ispkg:
            load(f"{_builtin.__name__}.{info.name}")
    for mod, where in _plugin_modules():
        try:
            load(mod)
        except Exception as e:  # noqa: BLE001 -- any failure of the user's module: one line
            why = f"cannot import the family module {mod!r}: {type(e).__name__}: " \
                  f"{' '.join(str(e).split())[:300]}"
            if where == ENV_VAR:
                raise ConfigError.environment(ENV_VAR, why) from None
            raise ConfigError("problem", f"{where} names a module that fails: {why}") from None
    _discovered = True


def all_families() -> list[Family]:
    """Every registered family: the default one first, then in the order they were found."""
    discover()
    fams = list(_FAMILIES.values())
    return sorted(fams, key=lambda f: not f.default)


def names() -> list[str]:
    return [f.name for f in all_families()]


def get(name: str) -> Family:
    """The family called ``name``; a one-line ConfigError naming ``--problem`` otherwise."""
    if name not in _FAMILIES:
        discover()
    if name not in _FAMILIES:
        raise ConfigError("problem", f"{name!r} is not one of {', '.join(names())}")
    return _FAMILIES[name]


def of(cfg) -> Family:
    """The family of a config."""
    return get(cfg.problem)


def make_config(problem: str, **values):
    """Build and validate a config of family ``problem``; unknown fields raise ConfigError."""
    cls = get(problem).config
    known = {f.name for f in dataclass_fields(cls)}
    for k in values:
        if k not in known:
            raise ConfigError(k, f"unknown option for {problem}")
    return cls(**values)


def default() -> Family:
    discover()
    marked = [f for f in _FAMILIES.values() if f.default]
    return marked[0] if marked else next(iter(_FAMILIES.values()))


def families_of(runs) -> list[Family]:
    """The families of a runs table's ``problem`` column, in registry order."""
    if runs is None or "problem" not in getattr(runs, "columns", ()) or not len(runs):
        return []
    present = {str(p) for p in runs["problem"].unique()}
    return [f for f in all_families() if f.name in present]


def config_fields(runs) -> list[str]:
    """The config fields (in dataclass order) of the families of ``runs`` that are columns of it."""
    out: list[str] = []
    for fam in families_of(runs):
        out += [f.name for f in dataclass_fields(fam.config) if f.name in runs and f.name not in out]
    return out


def of_runs(runs) -> Family | None:
    """The family of a runs table when all its rows have one known problem, else None."""
    if runs is None or "problem" not in getattr(runs, "columns", ()) or not len(runs):
        return None
    problems = runs["problem"].unique()
    if len(problems) != 1:
        return None
    discover()
    return _FAMILIES.get(str(problems[0]))
