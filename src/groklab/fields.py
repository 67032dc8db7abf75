"""Config fields: a docstring, a default and declarative bounds on every field, one checker.

Every family's config is a frozen dataclass whose fields are made with :func:`param`.  The field
carries what the CLI and the checker need: its help text, its allowed values (``choices``) or
range (``low`` / ``high``, open or closed), whether it defines the data set (``data=True``: runs
that agree on every data field share X, y, ...) and whether it enters the run id.  The CLI turns
fields into kebab-case flags (``init_scale`` -> ``--init-scale``); :func:`check_fields` turns a
value outside its bounds into a :class:`ConfigError` naming the option, the value and what is
allowed, which the CLI prints as one line (exit status 2).  Rules that tie several fields together
(sparsity <= dim, the step-size bound) stay explicit in each family's ``validate``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import field
from typing import Any

from . import datafiles
from .errors import ConfigError

__all__ = ["ConfigError", "ConfigBase", "Checked", "param", "check_fields", "config_dict",
           "fields_dict", "run_id"]


def param(default, help: str, *, data: bool = False, choices: tuple | None = None,
          low=None, high=None, low_open: bool = False, high_open: bool = False,
          allow_inf: bool = False, run_id: bool = True, added: bool = False, file: bool = False):
    """A config field with its documentation and its bounds.

    ``low`` / ``high``: the allowed range of a number (``None``: unbounded on that side; open
    ends with ``low_open`` / ``high_open``); ``allow_inf``: a float may be +inf (e.g. a noiseless
    SNR).  ``choices``: the allowed values of a string.  ``data``: the field defines the data set.
    ``run_id=False``: the field does not change the numbers (it stays out of the run id).
    ``added=True`` marks an option introduced after results may already be stored: it enters the
    run id only when set to a non-default value, so adding it keeps every earlier run id (and so
    every stored result) valid.  ``file=True``: the field is the path of a data file ("" = none);
    the file's content hash, not its path, enters the run id (:mod:`groklab.datafiles`)."""
    meta = {"help": help, "data": data, "choices": choices, "low": low, "high": high,
            "low_open": low_open, "high_open": high_open, "allow_inf": allow_inf,
            "run_id": run_id and not file, "added": added, "file": file}
    return field(default=default, metadata=meta)


def fields_dict(cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


def is_int_field(f: dataclasses.Field) -> bool:
    return f.type in ("int", int)


def is_float_field(f: dataclasses.Field) -> bool:
    return f.type in ("float", float)


# ---- the checker -------------------------------------------------------------------------------
def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(name, f"{value!r} is not one of {', '.join(map(str, choices))}")


def check_int(name: str, value, low=None, high=None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, f"{value!r} is not an integer")
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    if not (lo <= value <= hi):
        rng = f">= {lo}" if hi == math.inf else f"<= {hi}" if lo == -math.inf else f"in [{lo}, {hi}]"
        raise ConfigError(name, f"{value} is out of range: must be an integer {rng}")


def check_float(name: str, value, low=None, high=None, *, low_open=False, high_open=False,
                allow_inf=False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(name, f"{value!r} is not a number")
    if math.isinf(value) and not allow_inf:
        raise ConfigError(name, f"{value} is not finite")
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    ok_lo = value > lo if low_open else value >= lo
    ok_hi = value < hi if high_open else value <= hi
    if not (ok_lo and ok_hi):
        left = "(" if low_open or lo == -math.inf else "["
        right = ")" if high_open or hi == math.inf else "]"
        raise ConfigError(name, f"{value} is out of range: must be in {left}{lo}, {hi}{right}")


def check_field(f: dataclasses.Field, value) -> None:
    """The declared bounds of one field (its type, choices and range)."""
    m = f.metadata
    if m.get("choices") is not None:
        check_choice(f.name, value, m["choices"])
    elif is_int_field(f):
        check_int(f.name, value, m.get("low"), m.get("high"))
    elif is_float_field(f):
        check_float(f.name, value, m.get("low"), m.get("high"), low_open=m.get("low_open", False),
                    high_open=m.get("high_open", False), allow_inf=m.get("allow_inf", False))


def check_fields(obj) -> None:
    """Check every field of a dataclass instance against its declaration, in field order."""
    for f in dataclasses.fields(obj):
        check_field(f, getattr(obj, f.name))


class Checked:
    """A dataclass that checks its fields on creation, then its cross-field rules."""

    def __post_init__(self):
        check_fields(self)
        self.validate()

    def validate(self) -> None:
        """Rules that tie several fields together; raise ConfigError."""


# ---- experiment configs ----------------------------------------------------------------------------
class ConfigBase(Checked):
    """What every experiment config has besides its fields: the keys sweeps batch and store by.

    Subclasses set ``problem`` (a ClassVar: the family name on the CLI) and ``batch_key``: runs
    with equal batch keys can share one tensor program.  Data-file fields (``file=True``) are
    hashed when the config is made, before ``validate`` (which may read the file)."""

    problem = ""
    #: the version of the family's numerics.  A family bumps it whenever a change to its data,
    #: engine or measurements changes any number; it enters the run id (above 1), so a rerun
    #: never reuses results an older engine computed.  It is also a column of the runs table.
    engine_version = 1

    def __post_init__(self):
        self.__dict__["_digests"] = {  # not fields: equality and the dataclass hash ignore them
            f.name: datafiles.digest(f.name, getattr(self, f.name))
            for f in dataclasses.fields(self) if f.metadata.get("file") and getattr(self, f.name)}
        super().__post_init__()  # the fields' bounds, then validate (which may read the files)

    def file_digests(self) -> dict[str, str]:
        """{field: SHA-256} of the data files this config names."""
        return dict(self.__dict__["_digests"])

    def file_digest(self, name: str) -> str | None:
        """SHA-256 of the data file named by field ``name`` (None when it names none)."""
        return self.__dict__["_digests"].get(name)

    def data_files(self) -> dict[str, tuple[str, str]]:
        """{SHA-256: (field, path)} of every data file this config reads."""
        return {h: (name, getattr(self, name)) for name, h in self.file_digests().items()}

    def adopt_from_file(self, file_field: str, values: dict, unused: tuple[str, ...],
                        describe: str) -> None:
        """Make the fields in ``values`` the file's (a value given on the command line must be
        the field's default or equal the file's), and refuse a non-default value for the fields
        in ``unused`` (they describe a generator the file replaces).  ``describe``: what the file
        holds, for the messages.  Called from ``validate``; the config is frozen, so the values
        are set in place once, before the run id exists."""
        fields = fields_dict(type(self))
        path = getattr(self, file_field)
        for name in unused:
            if getattr(self, name) != fields[name].default:
                raise ConfigError(name, f"{getattr(self, name)!r} is not used with "
                                  f"--{file_field.replace('_', '-')} (the file holds the data)")
        for name, value in values.items():
            given = getattr(self, name)
            if given not in (fields[name].default, value):
                raise ConfigError(name, f"{given} does not match --{file_field.replace('_', '-')} "
                                  f"{path!r} ({describe})")
            object.__setattr__(self, name, value)
            check_field(fields[name], value)

    def data_key(self) -> tuple:
        """Runs with equal data keys share their data (X, y, a*; A*, Omega; the pairs split).
        A data file counts by its content, not its path."""
        digests = self.file_digests()
        return tuple(digests.get(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)
                     if f.metadata["data"])

    def batch_key(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__}.batch_key")

    def run_id(self) -> str:
        return run_id(self)


def config_dict(cfg) -> dict[str, Any]:
    """The config's fields, with numbers cast to each field's declared type, so that l1=0 and
    l1=0.0 are the same run (same id, same column dtype)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if is_float_field(f) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[f.name] = v
    return out


def run_id(cfg) -> str:
    """Stable hash of the problem and every config field that changes the numbers (cached on the
    frozen config: sweeps ask for it several times per run)."""
    cached = cfg.__dict__.get("_run_id")
    if cached is not None:
        return cached
    payload = {"problem": cfg.problem}
    if cfg.engine_version != 1:  # version 1 adds nothing: ids made before versioning stay valid
        payload["engine_version"] = cfg.engine_version
    values = config_dict(cfg)
    for name, sha in cfg.file_digests().items():
        payload[f"{name}_sha256"] = sha  # the content, wherever the file lies
    for f in dataclasses.fields(cfg):
        if f.metadata.get("run_id", True):
            v = values[f.name]
            if f.metadata.get("added") and v == f.default:
                continue  # a later option at its default: the id of the run it always was
            payload[f.name] = repr(v) if isinstance(v, float) else v
    blob = json.dumps(payload, sort_keys=True, default=str)
    rid = hashlib.sha1(blob.encode()).hexdigest()[:16]
    cfg.__dict__["_run_id"] = rid  # not a field: equality, asdict and the hash ignore it
    return rid
