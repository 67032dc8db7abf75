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
import operator
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


#: the fields of each config class (``dataclasses.fields`` rebuilds its tuple on every call, and a
#: sweep of 1e6 configs asks for it several times per config)
_FIELDS: dict[type, tuple] = {}


def fields_of(cls) -> tuple:
    """``dataclasses.fields(cls)``, computed once per class."""
    out = _FIELDS.get(cls)
    if out is None:
        out = _FIELDS[cls] = dataclasses.fields(cls)
    return out


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


#: (class -> {(field, type, value)}) values that passed their field's checks: a grid repeats each
#: axis value in many configs, and a field's check depends on its value alone
_PASSED: dict[type, set] = {}
_PASSED_MAX = 1 << 20


def check_fields(obj) -> None:
    """Check every field of a dataclass instance against its declaration, in field order."""
    cls = type(obj)
    passed = _PASSED.setdefault(cls, set())
    for f in fields_of(cls):
        v = getattr(obj, f.name)
        key = (f.name, type(v), v)  # the type too: True == 1 but a bool is not an int
        try:
            if key in passed:
                continue
        except TypeError:  # an unhashable value: check it every time
            check_field(f, v)
            continue
        check_field(f, v)
        if len(passed) >= _PASSED_MAX:
            passed.clear()
        passed.add(key)


_FILE_FIELDS: dict[type, tuple] = {}


def _file_fields(cls) -> tuple:
    out = _FILE_FIELDS.get(cls)
    if out is None:
        out = _FILE_FIELDS[cls] = tuple(f for f in fields_of(cls) if f.metadata.get("file"))
    return out


_DATA_GETTERS: dict[type, object] = {}


def _data_getter(cls):
    """A function returning the tuple of ``cls``'s data fields of a config."""
    get = _DATA_GETTERS.get(cls)
    if get is None:
        names = [f.name for f in fields_of(cls) if f.metadata["data"]]
        if len(names) == 1:
            one = operator.attrgetter(names[0])
            get = lambda cfg: (one(cfg),)  # noqa: E731 -- attrgetter of one name gives no tuple
        elif names:
            get = operator.attrgetter(*names)
        else:
            get = lambda cfg: ()  # noqa: E731
        _DATA_GETTERS[cls] = get
    return get


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
    #: the version of the family's numerics, bumped whenever a change alters any number; it
    #: enters the run id (above 1) so a rerun never reuses an older engine's results
    engine_version = 1

    def __post_init__(self):
        self.__dict__["_digests"] = {  # not fields: equality and the dataclass hash ignore them
            f.name: datafiles.digest(f.name, getattr(self, f.name))
            for f in _file_fields(type(self)) if getattr(self, f.name)}
        super().__post_init__()  # the fields' bounds, then validate (which may read the files)

    def iterates_unavailable(self) -> str | None:
        """Why --save-iterates cannot be honoured (None: it can); asked before anything runs."""
        return None

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
        digests = self.__dict__["_digests"]
        if not digests:  # the common case, at C speed (plan_batches asks once per run)
            return _data_getter(type(self))(self)
        return tuple(digests.get(f.name, getattr(self, f.name)) for f in fields_of(type(self))
                     if f.metadata["data"])

    def batch_key(self) -> tuple:
        raise NotImplementedError(f"{type(self).__name__}.batch_key")

    def run_id(self) -> str:
        return run_id(self)


def config_dict(cfg) -> dict[str, Any]:
    """The config's fields, with numbers cast to each field's declared type, so that l1=0 and
    l1=0.0 are the same run (same id, same column dtype)."""
    out = {}
    for f in fields_of(type(cfg)):
        v = getattr(cfg, f.name)
        if is_float_field(f) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[f.name] = v
    return out


def _id_entries(cls) -> list[tuple]:
    """The run id's keys of class ``cls`` in JSON's sorted order: (key, field or None, is a
    float field, is an 'added' field); None marks the ``problem`` key."""
    memo = (cls, getattr(cls, "engine_version", 1))  # the keys depend on the version
    out = _ID_ENTRIES.get(memo)
    if out is None:
        keyed = [(key, None, False, False) for key in _class_entries(cls)]
        keyed += [(f.name, f, is_float_field(f), bool(f.metadata.get("added")))
                  for f in fields_of(cls) if f.metadata.get("run_id", True)]
        out = _ID_ENTRIES[memo] = sorted(keyed, key=lambda e: e[0])
    return out


def _class_entries(cls) -> dict:
    """The id's entries that come from the class, not a field: the problem, and the engine
    version when above 1 (version 1 adds nothing: ids made before versioning stay valid)."""
    out = {"problem": cls.problem}
    if getattr(cls, "engine_version", 1) != 1:
        out["engine_version"] = cls.engine_version
    return out


_ID_ENTRIES: dict[tuple, list] = {}
#: (key, type, value, how the class declares it: families share key names) -> the JSON text
#: '"key": value' of one run-id entry (None: left out, an 'added' field at its default)
_FRAGMENTS: dict[tuple, str | None] = {}


def _encode(key: str, value, is_float: bool, added, default) -> str | None:
    if is_float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # l1=0 and l1=0.0 are the same run
    if added and value == default:
        return None  # a later option at its default: the id of the run it always was
    if isinstance(value, float):
        value = repr(value)
    return f"{json.dumps(key)}: {json.dumps(value, sort_keys=True, default=str)}"


def _id_payload(cfg) -> dict:
    """The run id's payload (the reference form: :func:`run_id` hashes its JSON text)."""
    payload = _class_entries(type(cfg))
    values = config_dict(cfg)
    for name, sha in cfg.file_digests().items():
        payload[f"{name}_sha256"] = sha  # the content, wherever the file lies
    for f in fields_of(type(cfg)):
        if f.metadata.get("run_id", True):
            v = values[f.name]
            if f.metadata.get("added") and v == f.default:
                continue  # a later option at its default: the id of the run it always was
            payload[f.name] = repr(v) if isinstance(v, float) else v
    return payload


def id_maker(cls, fixed: dict, axes: list[str]):
    """``make(values) -> run id`` for configs of ``cls`` whose fields are ``fixed`` (every field
    not on an axis, as stored) plus ``dict(zip(axes, values))``: the id :func:`run_id` gives such
    a config, from its text cut into constant pieces and the axes' encoded values (a grid of 1e6
    configs hashes each in about a microsecond).  None when data files are involved (their
    content hashes enter the id: use :func:`run_id`)."""
    if _file_fields(cls) and any(fixed.get(f.name) for f in _file_fields(cls)):
        return None
    if any(f.name in axes for f in _file_fields(cls)):
        return None
    order = {name: i for i, name in enumerate(axes)}
    # the id's entries in sorted order, as (constant text or None, axis index or None)
    segments: list = []
    const: list[str] = []
    memos: list = []
    for key, f, is_float, added in _id_entries(cls):
        default = f.default if f is not None else None
        if f is not None and key in order:
            segments.append(("".join(const), order[key]))
            const = []
            memos.append((key, is_float, added, default, {}))
            continue
        text = _encode(key, _class_entries(cls)[key] if f is None else fixed[key], is_float, added,
                       default)
        if text is not None:
            const.append(", " + text)
    tail = "".join(const)
    slots = [(pre, memos[j], idx) for j, (pre, idx) in enumerate(segments)]
    sha1 = hashlib.sha1

    def make(values) -> str:
        parts = []
        for pre, (key, is_float, added, default, memo), idx in slots:
            v = values[idx]
            mk = (type(v), v)
            text = memo.get(mk)
            if text is None:
                enc = _encode(key, v, is_float, added, default)
                text = memo[mk] = "" if enc is None else ", " + enc
            parts.append(pre)
            parts.append(text)
        parts.append(tail)
        return sha1(("{" + "".join(parts)[2:] + "}").encode()).hexdigest()[:16]
    return make


def run_id(cfg) -> str:
    """Stable hash of the problem and every config field that changes the numbers (cached on the
    frozen config: sweeps ask for it several times per run).  The hash is of ``json.dumps(_id_payload(cfg), sort_keys=True, default=str)``.  That text is
    assembled here from memoised '"key": value' pieces in sorted key order (a grid repeats each
    value in many configs), which is the same text, byte for byte, at a fraction of the cost
    (tests/test_axes.py checks the two against each other)."""
    cached = cfg.__dict__.get("_run_id")
    if cached is not None:
        return cached
    if cfg.__dict__.get("_digests"):  # data files add *_sha256 keys: the plain route
        blob = json.dumps(_id_payload(cfg), sort_keys=True, default=str)
    else:
        parts = []
        d = cfg.__dict__
        memo = _FRAGMENTS
        consts = _class_entries(type(cfg))
        for key, f, is_float, added in _id_entries(type(cfg)):
            v = consts[key] if f is None else d[key]
            default = f.default if f is not None else None
            mk = (key, type(v), v, is_float, added, default)
            try:
                text = memo[mk]
            except KeyError:
                text = _encode(key, v, is_float, added, default)
                if len(memo) >= _PASSED_MAX:
                    memo.clear()
                memo[mk] = text
            except TypeError:  # an unhashable value
                text = _encode(key, v, is_float, added, default)
            if text is not None:
                parts.append(text)
        blob = "{" + ", ".join(parts) + "}"
    rid = hashlib.sha1(blob.encode()).hexdigest()[:16]
    cfg.__dict__["_run_id"] = rid  # not a field: equality, asdict and the hash ignore it
    return rid
