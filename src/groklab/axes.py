"""Grid axes: the values of one option in a sweep, given as items and ranges (docs/grids.md).

An axis is a comma list of *items*; an item is a number (or a word, for a text option) or a range:

    linspace(a,b,n)     n evenly spaced values from a to b, both included (numpy.linspace)
    logspace(a,b,n)     n values from a to b, both included, evenly spaced in log10
                        (numpy.logspace(log10 a, log10 b, n); a, b > 0; the ends are a and b exactly)
    range(a,b)          the integers a, a+1, ..., b-1 (Python's range: b left out)
    range(a,b,step)     a, a+step, ... up to b left out (step may be negative, not 0)

``--l1 0,logspace(1e-6,1e-2,4096)`` is 4097 values.  For an integer option, linspace / logspace
values are rounded to the nearest integer (duplicates removed): ``--steps logspace(1e3,1e6,4)``.
Numbers are ASCII only (Python's float() also reads other scripts' digits).

A whole sweep can be a TOML file (:func:`read_grid_file`): ``problem = "..."`` (optional) and one
key per option; a scalar is fixed, an array is an axis (its items as above), a string for a
numeric option is parsed like the command line (``l1 = "logspace(1e-6,1e-2,64)"``).

This module is torch-free and names no family: the caller says which options are numbers.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError

#: the most values one axis may have (a typo such as range(0,1e12) is refused, not allocated)
MAX_AXIS = 10 ** 7
#: an ASCII number: digits with an optional point and exponent, or inf / nan
NUMBER = re.compile(r"[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
_RANGE = re.compile(r"^(linspace|logspace|range)\((.*)\)$", re.DOTALL)


def parse_number(name: str, text: str, kind: str):
    """``text`` as an int (kind "int", integer-valued: "3e5" is accepted) or a float; ASCII only.
    ConfigError naming ``name`` otherwise."""
    t = text.strip()
    if not (t.isascii() and NUMBER.fullmatch(t)):
        what = "an integer" if kind == "int" else "a number"
        raise ConfigError(name, f"{text!r} is not {what} (ASCII digits, e.g. 1e-3)")
    v = float(t)
    if kind == "int":
        if not math.isfinite(v) or v != int(v):
            raise ConfigError(name, f"{text!r} is not an integer")
        # digits only: exact for any size (float() would round 2**63 - 1)
        return int(t) if re.fullmatch(r"[+-]?\d+", t) else int(v)
    return v


@dataclass(frozen=True)
class Span:
    """A range item: ``kind`` is linspace, logspace or range; ``args`` its numbers.  ``str()``
    gives the syntax back; :meth:`values` the numbers (ints for an integer option)."""

    kind: str
    args: tuple
    text: str = field(default="", compare=False)  # as the user wrote it, for messages

    def __str__(self) -> str:
        if self.text:
            return self.text
        return f"{self.kind}({','.join(repr(a) if isinstance(a, float) else str(a) for a in self.args)})"

    def __len__(self) -> int:
        if self.kind == "range":
            return len(range(*self.args))
        return int(self.args[2])

    def values(self, name: str = "value", kind: str = "float") -> list:
        """The values of this range for an option of ``kind`` ("int" or "float")."""
        text = str(self)
        if self.kind == "range":
            if any(isinstance(a, float) and a != int(a) for a in self.args):
                raise ConfigError(name, f"{text}: range takes integers (use linspace for others)")
            a = [int(x) for x in self.args]
            if len(a) == 3 and a[2] == 0:
                raise ConfigError(name, f"{text}: the step must not be 0")
            r = range(*a)
            if not len(r):
                raise ConfigError(name, f"{text} gives no values (range(a,b) stops before b)")
            if len(r) > MAX_AXIS:
                raise ConfigError(name, f"{text} has {len(r)} values; at most {MAX_AXIS} per axis")
            return list(r) if kind == "int" else [float(v) for v in r]
        a, b, n = self.args
        if n != int(n) or n < 1:
            raise ConfigError(name, f"{text}: the count must be an integer >= 1")
        n = int(n)
        if n > MAX_AXIS:
            raise ConfigError(name, f"{text} has {n} values; at most {MAX_AXIS} per axis")
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ConfigError(name, f"{text}: the ends must be finite")
        if self.kind == "linspace":
            vals = np.linspace(a, b, n)
        else:
            if a <= 0 or b <= 0:
                raise ConfigError(name, f"{text}: logspace needs ends > 0")
            vals = np.logspace(math.log10(a), math.log10(b), n)
            vals[0] = a  # 10 ** log10(a) may be a rounding away from the a that was asked for
            if n > 1:
                vals[-1] = b
        if kind == "int":
            return list(dict.fromkeys(int(round(v)) for v in vals.tolist()))
        return vals.tolist()


def linspace(a: float, b: float, n: int) -> Span:
    """n values from a to b, both included (an axis for ``groklab.sweep``)."""
    return Span("linspace", (a, b, n))


def logspace(a: float, b: float, n: int) -> Span:
    """n values from a to b (> 0), both included, evenly spaced in log10."""
    return Span("logspace", (a, b, n))


def irange(a: int, b: int, step: int = 1) -> Span:
    """a, a + step, ... up to b left out (Python's range, as an axis for ``groklab.sweep``)."""
    return Span("range", (a, b, step) if step != 1 else (a, b))


def split_items(text: str) -> list[str]:
    """Split an axis at its top-level commas (not those inside a range's parentheses)."""
    items, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    return items


def parse_span(name: str, text: str) -> Span | None:
    """A range item, or None when ``text`` is not one."""
    m = _RANGE.match(text.strip())
    if m is None:
        return None
    kind, inner = m.group(1), m.group(2)
    parts = inner.split(",")
    want = (2, 3) if kind == "range" else (3,)
    if len(parts) not in want:
        form = "range(a,b) or range(a,b,step)" if kind == "range" else f"{kind}(a,b,n)"
        raise ConfigError(name, f"{text.strip()!r} is not of the form {form}")
    nums = tuple(parse_number(name, p, "float") for p in parts)
    if any(math.isnan(v) for v in nums):
        raise ConfigError(name, f"{text.strip()!r}: nan is not allowed in a range")
    return Span(kind, nums, text.strip())


def parse_axis(name: str, text: str, kind: str):
    """A command-line value: one value, or a list (a sweep axis) for a comma list or a range.
    ``kind``: "int", "float" or "str" (a text option: items are words, no ranges)."""
    items = split_items(text)
    if any(p.strip() == "" for p in items):
        raise ConfigError(name, f"{text!r} has an empty item")
    if kind == "str":
        vals = [p.strip() for p in items]
        return vals if len(vals) > 1 else vals[0]
    vals, ranged = [], False
    for item in items:
        span = parse_span(name, item)
        if span is None:
            if "(" in item or ")" in item:
                raise ConfigError(name, f"{item.strip()!r} is not a number or a range: use "
                                  "linspace(a,b,n), logspace(a,b,n), range(a,b) or range(a,b,step)")
            vals.append(parse_number(name, item, kind))
        else:
            ranged = True
            vals.extend(span.values(name, kind))
        if len(vals) > MAX_AXIS:
            raise ConfigError(name, f"{len(vals)} values; at most {MAX_AXIS} per axis")
    return vals if len(vals) > 1 or ranged else vals[0]


def axis_values(name: str, value, kind: str):
    """A Python API value for one option: a scalar (fixed), or a list for a list, tuple, range,
    numpy array, :class:`Span`, or a string of a numeric option (parsed as on the command line).
    Numpy scalars become Python numbers."""
    if isinstance(value, Span):
        return value.values(name, kind if kind != "str" else "float")
    if isinstance(value, str):
        return parse_axis(name, value, kind) if kind != "str" else value
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, range)):
        out = []
        for v in value:
            item = axis_values(name, v, kind)
            out.extend(item if isinstance(item, list) else [item])
        if len(out) > MAX_AXIS:
            raise ConfigError(name, f"{len(out)} values; at most {MAX_AXIS} per axis")
        return out
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_grid_file(path) -> tuple[str | None, dict]:
    """(problem or None, {option: value}) of a TOML grid file; values as written (scalars, arrays,
    strings), to be read by :func:`axis_values`.  One-line ConfigError naming ``--grid`` for a
    missing or malformed file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("grid", f"{str(path)!r}: no such file") from None
    except IsADirectoryError:
        raise ConfigError("grid", f"{str(path)!r} is a directory, not a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError("grid", f"{str(path)!r} is not valid TOML: {e}") from None
    problem = doc.pop("problem", None)
    if problem is not None and not isinstance(problem, str):
        raise ConfigError("grid", f"{str(path)!r}: problem must be a string")
    for key, value in doc.items():
        if isinstance(value, dict):
            raise ConfigError("grid", f"{str(path)!r}: [{key}] is a table; options are top-level "
                              "keys (docs/grids.md)")
    return problem, {k.replace("-", "_"): v for k, v in doc.items()}
