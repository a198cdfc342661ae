"""Units: parse unit strings, check dimensions, convert to the network's base units.

The network generator works in **molecules, seconds and metres** (volumes in m^3, areas in
m^2); every declared quantity is converted to that base on the way in. A unit string is a
product of unit symbols with integer powers::

    "1/s"   "1/(M*s)"   "nM"   "um^3"   "um^2/(molecule*s)"   "molecule"   "1/min"

Symbols: time ``s min h hr day`` (with SI prefixes on ``s``), substance ``mol`` (prefixed),
``molecule``/``molecules``/``#``/``count``, volume ``L``/``l`` (prefixed), length ``m``
(prefixed, ``um``/``µm`` included), molarity ``M`` (prefixed: ``mM uM nM pM fM``), and the
dimensionless ``1``, ``dimensionless``, ``cell``/``cells`` (a per-cell count is a count).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UnitError

AVOGADRO = 6.02214076e23  # molecules per mol (exact, SI 2019)

_PREFIX = {"": 1.0, "k": 1e3, "c": 1e-2, "m": 1e-3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6,
           "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18}


def _merge(*term_lists) -> tuple:
    acc: dict = {}
    for terms in term_lists:
        for kind, mult, exp in terms:
            acc[(kind, mult)] = acc.get((kind, mult), 0) + exp
    return tuple(sorted((k, m, e) for (k, m), e in acc.items() if e != 0))


@dataclass(frozen=True)
class Unit:
    """A scale to base units and the exponents of (time, substance, length).

    ``terms`` keeps the unit as written, as SBML unit terms ``(kind, multiplier, exponent)``
    meaning ``(multiplier * kind) ** exponent`` with kinds ``second``, ``item``, ``mole``,
    ``litre``, ``metre``: ``nM`` is ``(1e-9 mole)^1 (litre)^-1``. Two units are equal when
    both the scale, the dimensions and the written terms agree.
    """

    scale: float
    time: int = 0
    substance: int = 0
    length: int = 0
    terms: tuple = ()

    @property
    def dims(self) -> tuple[int, int, int]:
        return (self.time, self.substance, self.length)

    def __mul__(self, other: "Unit") -> "Unit":
        return Unit(self.scale * other.scale, self.time + other.time,
                    self.substance + other.substance, self.length + other.length,
                    _merge(self.terms, other.terms))

    def __truediv__(self, other: "Unit") -> "Unit":
        return self * other ** -1

    def __pow__(self, n: int) -> "Unit":
        return Unit(self.scale ** n, self.time * n, self.substance * n, self.length * n,
                    _merge(tuple((k, m, e * n) for k, m, e in self.terms)))

    def same_dimension(self, other: "Unit") -> bool:
        return self.dims == other.dims

    def describe(self) -> str:
        names = (("s", self.time), ("molecule", self.substance), ("m", self.length))
        num = [f"{n}^{e}" if e != 1 else n for n, e in names if e > 0]
        den = [f"{n}^{-e}" if e != -1 else n for n, e in names if e < 0]
        text = "*".join(num) or "1"
        if den:
            text += "/" + ("(" + "*".join(den) + ")" if len(den) > 1 else den[0])
        return text


DIMENSIONLESS = Unit(1.0)
SECOND = Unit(1.0, time=1, terms=(("second", 1.0, 1),))
MOLECULE = Unit(1.0, substance=1, terms=(("item", 1.0, 1),))
METRE = Unit(1.0, length=1, terms=(("metre", 1.0, 1),))
LITRE = Unit(1e-3, length=3, terms=(("litre", 1.0, 1),))
MOLE = Unit(AVOGADRO, substance=1, terms=(("mole", 1.0, 1),))


def _symbol(sym: str) -> Unit | None:
    def minutes(n):
        return Unit(n, time=1, terms=(("second", n, 1),))
    fixed = {
        "1": DIMENSIONLESS, "dimensionless": DIMENSIONLESS, "cell": DIMENSIONLESS,
        "cells": DIMENSIONLESS, "molecule": MOLECULE, "molecules": MOLECULE, "#": MOLECULE,
        "count": MOLECULE, "item": MOLECULE, "items": MOLECULE,
        "min": minutes(60.0), "h": minutes(3600.0), "hr": minutes(3600.0),
        "hour": minutes(3600.0), "day": minutes(86400.0),
    }
    if sym in fixed:
        return fixed[sym]
    for base, kind, unit in (("mol", "mole", MOLE), ("s", "second", SECOND), ("L", "litre", LITRE),
                             ("l", "litre", LITRE), ("M", "mole", MOLE / LITRE), ("m", "metre", METRE)):
        prefix = sym[: -len(base)]
        if sym.endswith(base) and prefix in _PREFIX:
            p = _PREFIX[prefix]
            terms = tuple((k, p if k == kind else m, e) for k, m, e in unit.terms)
            return Unit(unit.scale * p, unit.time, unit.substance, unit.length, _merge(terms))
    return None


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<sym>[A-Za-zµμ#]+)|(?P<op>\*\*|[-*/^()]))")


def parse_unit(text: str) -> Unit:
    """Parse a unit string such as ``"1/(M*s)"`` or ``"um^2"``; raise :class:`UnitError`."""
    if not isinstance(text, str) or not text.strip():
        raise UnitError(f"empty unit {text!r}", hint="write e.g. '1/s', '1/(M*s)', 'nM', 'um^3'")
    tokens = []
    pos = 0
    src = text.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise UnitError(f"cannot read unit {text!r} at {src[pos:]!r}",
                            hint="write e.g. '1/s', '1/(M*s)', 'nM', 'um^3'")
        pos = m.end()
        if m.group("num"):
            tokens.append(("num", m.group("num")))
        elif m.group("sym"):
            tokens.append(("sym", m.group("sym")))
        else:
            tokens.append(("op", "^" if m.group("op") == "**" else m.group("op")))
    parser = _UnitParser(tokens, text)
    unit = parser.expr()
    if parser.i != len(tokens):
        raise UnitError(f"cannot read unit {text!r}: unexpected {tokens[parser.i][1]!r}")
    return unit


class _UnitParser:
    def __init__(self, tokens, text):
        self.t, self.i, self.text = tokens, 0, text

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def expr(self) -> Unit:
        unit = self.factor()
        while True:
            kind, val = self.peek()
            if kind == "op" and val in "*/":
                self.i += 1
                rhs = self.factor()
                unit = unit * rhs if val == "*" else unit / rhs
            elif kind in ("sym", "num") or (kind == "op" and val == "("):
                unit = unit * self.factor()  # juxtaposition: "M s"
            else:
                return unit

    def factor(self) -> Unit:
        kind, val = self.peek()
        if kind == "op" and val == "(":
            self.i += 1
            unit = self.expr()
            if self.peek() != ("op", ")"):
                raise UnitError(f"unbalanced parentheses in unit {self.text!r}")
            self.i += 1
        elif kind == "num":
            self.i += 1
            if val != "1":
                raise UnitError(f"unit {self.text!r}: a number other than 1 is not a unit",
                                hint="put scale factors into the value, not the unit")
            unit = DIMENSIONLESS
        elif kind == "sym":
            self.i += 1
            unit = _symbol(val)
            if unit is None:
                raise UnitError(f"unknown unit symbol {val!r} in {self.text!r}",
                                hint="known: s min h, mol molecule, L, m um nm, M mM uM nM pM")
        else:
            raise UnitError(f"cannot read unit {self.text!r}")
        kind, val = self.peek()
        if kind == "op" and val == "^":
            self.i += 1
            if self.peek() == ("op", "("):
                self.i += 1
                n = self._int()
                if self.peek() != ("op", ")"):
                    raise UnitError(f"unbalanced parentheses in unit {self.text!r}")
                self.i += 1
            else:
                n = self._int()
            unit = unit ** n
        return unit

    def _int(self) -> int:
        sign = 1
        if self.peek() == ("op", "-"):
            self.i += 1
            sign = -1
        kind, val = self.peek()
        if kind != "num":
            raise UnitError(f"bad or missing exponent in unit {self.text!r}")
        self.i += 1
        return sign * int(val)


def rate_unit_options(order: int, dimension: int | None) -> list[tuple[str, Unit]]:
    """The acceptable dimensions of a rate constant for a reaction of ``order`` reactants.

    Per-molecule rates (``molecule^(1-n)/s``) are always accepted. Concentration-based rates
    are accepted where the reaction has a compartment: volume concentrations (``M``) in 3-D,
    surface densities (``molecule/um^2``) in 2-D.
    """
    per_time = Unit(1.0, time=-1)
    options = [("per molecule", MOLECULE ** (1 - order) * per_time)]
    if order != 1:
        if dimension in (None, 3):
            options.append(("volume concentration", Unit(1.0, substance=1, length=-3) ** (1 - order) * per_time))
        if dimension in (None, 2):
            options.append(("surface density", Unit(1.0, substance=1, length=-2) ** (1 - order) * per_time))
    return options
