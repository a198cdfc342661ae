"""BNGL in and out: read a BioNetGen ``.bngl`` file into a :class:`~il2sbml.lang.dsl.Model`, write one back.

Reading
-------
:func:`read_bngl` takes a path or BNGL text and builds the model through the same DSL calls a
Python model file makes (``parameter``, ``compartment``, ``molecule_type``, ``seed``,
``observable``, ``function``, ``rule``, ``generate_network_options``), so every check the
DSL does applies to BNGL too, and every error names the BNGL file and line
(``model.bngl:12: rule 'R1': ...``).

**BNGL as BNG2.pl reads it.** The reference for what is legal is BNG2.pl's own parser, the
Perl modules of the ``bionetgen`` package (``bng-linux/Perl2/``): ``BNGModel.pm``
(``readFile``, ``read_block_array``, ``get_line``: blocks, comments, continuations),
``ParamList.pm`` and ``CompartmentList.pm`` (``readString``: parameter and compartment lines),
``Expression.pm`` (``readString``, ``getNumber``, ``arrayToExpression``, ``%functions``: the
expression grammar and its built-in functions; see :mod:`il2sbml.formats.bngl_expr`),
``SpeciesGraph.pm``, ``Molecule.pm`` and ``Component.pm`` (``readString``: the pattern
grammar; see :func:`il2sbml.lang.graph.parse_graph`), ``RxnRule.pm`` (``newRxnRule``: rule
lines) and ``RateLaw.pm`` (``newRateLaw``, ``validate``: ``MM`` and ``Sat``; see
:mod:`il2sbml.lang.rules`). In particular:

* The model is **dimension-free** (``Model(dialect="bngl")``): BNGL declares no units and no
  unit algebra is applied (``k3/(K4+G)`` adds a parameter and an observable count). SBML
  output declares everything ``dimensionless`` (amounts in ``item``) and passes the unit check.
* **Names** are BioNetGen's: only its built-in function names are refused for parameters and
  functions, so ``NA``, ``e``, ``pi``, ``t`` or ``lambda`` are ordinary parameters (the SBML
  writer gives a name that SBML reads as something else, such as ``pi``, a safe id and keeps
  the name). il2sbml itself cannot take ``time``, ``_pi``, ``_e``, ``_if``, ``and``, ``or``
  or ``not`` as names (they are the time, constants and operators of its expressions):
  refused by name.
* **Expressions** with BNG2.pl's precedence and left-to-right grouping (``a^b^c`` is
  ``(a^b)^c``, ``-a^2`` is ``(-a)^2``), every built-in function BNG knows except ``mratio``
  and ``TFUN`` (no exact SBML form: refused by name), and whitespace between any two tokens,
  in parameter, compartment, seed, function and rate expressions (``name dim size parent``:
  the size expression ends where BNG2.pl's does). BNGL has no ``log``/``pow``/``floor``/
  ``ceil``: refused, saying what to write. Fortran exponents (``1d3``, which BNG2.pl
  evaluates as 1) are refused.
* **Lines**: ``#`` comments; ``\\`` continuations joined as BNG2.pl joins them (a pattern may
  be split anywhere); ``begin``/``end`` in lower case (``End`` is a name, as in BNG2.pl);
  parameters ``[index] [label:] name [=] expression``, in any order (declared in dependency
  order, as BioNetGen accepts forward references), a name defined twice taking its last
  value (BNG2.pl: "Changing value of previously defined variable"); compartments (cBNGL
  ``[label:] name dim size [parent]``); molecule types (inferred as BioNetGen infers them when
  the block is absent: a molecule's sites are those of its first appearance, its states
  everything it is seen with); seed species (``$`` fixed, ``@C::A()``, ``A()@C``, ``A@C()``,
  an optional species name ``Name: A()``); ``Molecules``/``Species`` observables; global
  functions ``f() = expr``; reaction rules, named (``R1:``) or not (named ``Rule<position>``
  as BioNetGen 2.2 did; a numeric label or leading index is an index), with
  ``include_reactants``/``exclude_reactants`` (several, and several patterns each) and
  ``DeleteMolecules`` and ``TotalRate`` (which BNG2.pl's network generation ignores, so each
  reaction gets the rule's rate times its reactants, with a warning; only its effect on which
  reactions merge is kept, and ``TotalRate`` with ``MM()``/``Sat()`` is refused as BNG2.pl
  refuses it); the ``generate_network`` action's ``max_iter``, ``max_agg`` and
  ``max_stoich`` options, and BioNetGen's defaults where it sets none (``max_iter`` 100,
  ``max_agg`` 10^9, truncating; see :func:`il2sbml.generate.netgen.generate_network`).
* **Patterns**: every site and bond form of BNG2.pl's grammar (bond labels of letters or
  digits, ``!+``, ``!?``, ``~?``, labels and compartments in any order, empty sites skipped);
  those il2sbml does not model are refused by name: a site with two bonds, a site's own
  compartment, a molecule's own state or bond, ``{...}`` attributes.
* **Rate laws** ``MM(kcat,Km)`` and ``Sat(kcat,Km,...)`` with parameter names as constants
  (BNG2.pl's rule; a number is refused as it refuses it), with BioNetGen's statistical
  factors and semantics (:mod:`il2sbml.lang.rules`).
* What BNG2.pl accepts with a warning (a line that is neither a block nor an action, a
  parameter defined twice) is accepted with a warning too (``warnings.warn`` and
  ``model.bngl_warnings``).
* **Rule semantics as BNG2.pl's** where they differ from the DSL's stricter checks (the
  dialect ``"bngl"`` switches them on in :mod:`il2sbml.lang.rules` and
  :mod:`il2sbml.generate.netgen`; each checked against BNG2.pl 2.9.3's ``.net``): a reactant
  molecule maps only to a product molecule with the same sites, otherwise it is deleted and
  the product one created (which must then list every site); a bond moved to a new partner
  is broken and made in one reaction; a site ``!?`` on the left and free on the right is left
  as it is; a rule whose sides are the same makes no reaction (warned); reactions of two rules
  merge only when their rates are names (a number or an expression is the rule's own
  ``_rateLawN`` in BioNetGen).

Every other action (``simulate``, ``writeSBML``, ``setParameter``, ``parameter_scan`` ...)
is read, **not executed**, and listed on ``model.bngl_actions`` as ``(line, name, argtext)``
tuples in file order (``generate_network`` included). Note that an action such as
``setParameter`` placed *before* ``generate_network`` changes BioNetGen's network but not
ours.

Refused by name with the line (:class:`~il2sbml.lang.errors.NotSupportedError`): energy patterns,
population maps and other unknown blocks, local functions ``f(x)`` and ``%x:`` pattern
labels, ``MoveConnected``, ``priority``, ``include_products``/
``exclude_products``, the ``Hill``/``Arrhenius``/``FunctionProduct`` rate laws, ``mratio``,
``TFUN``, count constraints (``A()==2``) outside ``Species`` observables, and unknown
``generate_network`` options. ``Species`` observables with count constraints are read as
BNG2.pl reads them: a species counts once for each pattern whose number of matches satisfies
its constraint.

Writing
-------
:func:`write_bngl` writes a model as BNGL that BNG2.pl reads and that generates the network
:func:`il2sbml.generate.netgen.generate_network` generates (tested against BNG2.pl). Expressions are
written in BNGL syntax (``^``, ``if``, ``ln``); parameters keep their declared values (units
in a comment) and each rule's rate is multiplied by the constant that turns it into
BioNetGen's convention: the unit conversion to molecules and seconds and, in models with
compartments, the ratio of il2sbml's volume factor to the one BioNetGen applies (BioNetGen
multiplies zero-order rates by the product's compartment size; with two or more reactants
one of them, on a surface if any, is the anchor and the rate is divided by the sizes of the
other reactants' compartments). Unitless models follow BioNetGen, so the ratio is 1; rates
with units (per molecule, per molar, per area) generally need it. It is read off the
generated network; a rule whose reactions need different ratios cannot be written as one
BNGL rule and is refused by name. ``MM()``/``Sat()`` rates are written as they are (a rate law
cannot carry a factor: one that would need one is refused by name).
"""

from __future__ import annotations

import ast
import copy
import os
import re
import warnings
from dataclasses import replace

from ..lang.dsl import Model
from ..lang.errors import (
    Il2sbmlError,
    ModelError,
    NotSupportedError,
    Origin,
    PatternSyntaxError,
    caller_origin,
)
from ..lang.expr import Expr, ExprError, rate_law
from ..lang.graph import Graph, parse_graph, to_bngl
from .bngl_expr import BNGLExprError, bngl_expression, parse_bngl_expr

__all__ = ["read_bngl", "write_bngl", "BNGL_BLOCKS"]

# ======================================================================================
# Reading
# ======================================================================================

BNGL_BLOCKS = ("parameters", "compartments", "molecule types", "seed species", "species",
               "observables", "functions", "reaction rules", "actions", "model")
_UNSUPPORTED_BLOCKS = {
    "energy patterns": "energy patterns (energy-based BNGL)",
    "population types": "population types (hybrid particle-population models)",
    "population maps": "population maps (hybrid particle-population models)",
    "reactions": "a 'reactions' block (this is a .net network file, not a rule-based model)",
    "groups": "a 'groups' block (this is a .net network file, not a rule-based model)",
}
_UNSUPPORTED_RATE_LAWS = ("Hill", "Arrhenius", "FunctionProduct")
# a pattern's count constraint (BNG2.pl's SpeciesGraph.pm quantifier): R==2, R()>1, A(b!+)<=3
_COUNT_RE = re.compile(r"\s*(==|<=|>=|=|<|>)\s*(\d+)\s*$")
# generate_network options that only change what BioNetGen prints or where it writes
_GN_OUTPUT_OPTIONS = {"overwrite", "verbose", "print_iter", "textreaction", "textspecies", "prefix", "suffix"}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def read_bngl(source, *, name: str | None = None) -> Model:
    """Read a BNGL model (a path, or the text itself) into a :class:`Model`.

    ``name`` overrides the model name (default: the file name, made an identifier).
    Actions are listed on ``model.bngl_actions`` and not executed; ``generate_network``
    options become the model's generation limits.
    """
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                            and not source.lstrip().startswith("begin")):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise Il2sbmlError(f"{path}: no such BNGL file")
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
        file = path
        default_name = os.path.splitext(os.path.basename(path))[0]
    elif isinstance(source, str):
        text, file, default_name, path = source, "<bngl>", "bngl_model", None
    else:
        raise TypeError(f"read_bngl takes a path or BNGL text, not {type(source).__name__}")
    if name is None:
        name = re.sub(r"\W", "_", default_name)
        if not re.match(_NAME + "$", name):
            name = "m_" + name
    reader = _Reader(file, text, name)
    model = reader.build()
    model.source = path
    return model


class _Entry:
    __slots__ = ("line", "text")

    def __init__(self, line, text):
        self.line, self.text = line, text


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _depth_change(text: str) -> int:
    return text.count("(") - text.count(")") + text.count("{") - text.count("}")


def _logical_lines(text: str):
    """(first line number, text) with comments removed and ``\\`` continuations joined as
    BNG2.pl joins them (``get_line``: the backslash and what follows it go, the next line is
    appended as it is, so a pattern may be split anywhere)."""
    buf, start = [], None
    for no, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw)
        if start is None:
            if not line.strip():
                continue
            start = no
        m = re.search(r"\\\s*$", line)
        if m:
            buf.append(line[:m.start()])
            continue
        buf.append(line)
        joined = "".join(buf).strip()
        if joined:
            yield start, joined
        buf, start = [], None
    if buf:
        joined = "".join(buf).strip()
        if joined:
            yield start, joined


def _split_top(text: str, seps: str) -> list[str]:
    """Split on any character of ``seps`` outside (), {} and []; empty parts dropped."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        if depth == 0 and ch in seps and not (ch == "+" and cur and cur[-1] == "!"):
            # '!+' (a bond to anything) is part of a pattern, not a separator
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


class _Reader:
    def __init__(self, file, text, name):
        self.file = file
        self.text = text
        self.name = name
        self.blocks: dict[str, list[_Entry]] = {}
        self.block_order: list[str] = []
        self.actions: list[tuple[int, str, str]] = []
        self.warnings: list[tuple[int, str]] = []

    # ---------------------------------------------------------------- errors
    def origin(self, line) -> Origin:
        return Origin(self.file, line)

    def error(self, line, msg, *, component=None, hint=None, cls=ModelError):
        return cls(msg, origin=self.origin(line), component=component, hint=hint)

    def unsupported(self, line, what, hint=None):
        msg = f"{self.origin(line)}: {what} is not supported"
        if hint:
            msg += f" ({hint})"
        return NotSupportedError(msg)

    def declare(self, line, fn, *args, **kw):
        """Call a DSL declaration; errors and the declared object carry the BNGL line."""
        origin = self.origin(line)
        try:
            return fn(*args, **kw), origin
        except ModelError as exc:
            hint = exc.hint
            if hint and "model.molecule_type" in hint:
                hint = "declare it in the molecule types block"
            elif hint and "model.compartment" in hint:
                hint = "declare it in the compartments block"
            raise type(exc)(exc.message, origin=origin, component=exc.component, hint=hint) from None
        except NotSupportedError as exc:
            wrong = f"{caller_origin()}: "  # the DSL located the refusal at our caller
            msg = str(exc)
            if msg.startswith(wrong):
                msg = msg[len(wrong):]
            raise NotSupportedError(f"{origin}: {msg}") from None

    # ---------------------------------------------------------------- pass 1: blocks and actions
    def scan(self):
        block = None
        pending = None  # an action spanning lines: [line, text]
        for line, text in _logical_lines(self.text):
            if pending is not None:
                pending[1] += " " + text
                if _depth_change(pending[1]) <= 0:
                    self.action(*pending)
                    pending = None
                continue
            words = text.split()
            low = [w.lower() for w in words]
            if words[0] == "begin":   # BNG2.pl's keywords are lower case: 'End' is a name
                what = " ".join(low[1:])
                if what == "model":
                    continue
                if block is not None:
                    raise self.error(line, f"'begin {what}' inside the {block} block",
                                     hint=f"close it first with 'end {block}'")
                if what in _UNSUPPORTED_BLOCKS:
                    raise self.unsupported(line, _UNSUPPORTED_BLOCKS[what])
                if what not in BNGL_BLOCKS:
                    raise self.unsupported(line, f"block 'begin {' '.join(words[1:])}'",
                                           hint="known blocks: " + ", ".join(BNGL_BLOCKS))
                if what == "species":
                    what = "seed species"
                block = what  # a repeated block continues the first, as in BioNetGen
                if what not in self.blocks:
                    self.blocks[what] = []
                    self.block_order.append(what)
                continue
            if words[0] == "end":
                what = " ".join(low[1:])
                if what == "species":
                    what = "seed species"
                if what == "model" and block is None:
                    continue
                if block is not None and what != block:
                    raise self.error(line, f"'{text}' inside the {block} block",
                                     hint=f"close the block first with 'end {block}'")
                if block is None:
                    raise self.error(line, f"'{text}' without a matching 'begin {what}'")
                block = None
                continue
            if block is None or block == "actions":
                if _depth_change(text) > 0:
                    pending = [line, text]
                elif not re.match(rf"^\s*{_NAME}\s*\(", text):
                    # BNG2.pl: "Unidentified input! Will not attempt to execute as Perl." and goes on
                    self.warn(line, f"{text.strip()[:60]!r} is neither a block nor an action; ignored, as BNG2.pl "
                                    "ignores it ('Unidentified input')")
                else:
                    self.action(line, text)
                continue
            self.blocks[block].append(_Entry(line, text))
        if pending is not None:
            raise self.error(pending[0], f"unclosed parenthesis in action {pending[1]!r}")
        if block is not None:
            raise self.error(len(self.text.splitlines()), f"the {block} block has no 'end {block}'")

    def action(self, line, text):
        m = re.match(rf"^\s*({_NAME})\s*\((.*)\)\s*;?\s*$", text, re.S)
        if not m:
            raise self.error(line, f"cannot read {text.strip()!r} as an action",
                             hint="expected an action such as simulate({...}) or a 'begin ...' line")
        self.actions.append((line, m.group(1), m.group(2).strip()))

    # ---------------------------------------------------------------- pass 2: the model
    def build(self) -> Model:
        self.scan()
        try:
            model = Model(self.name, dialect="bngl")
        except ModelError as exc:
            raise Il2sbmlError(f"{self.file}: {exc.message}") from None
        self.model = model
        self.function_names = set()
        for e in self.blocks.get("functions", []):
            m = re.match(rf"^\s*(?:\d+\s+)?({_NAME})", e.text)
            if m:
                self.function_names.add(m.group(1))
        self.observable_names = set()
        for e in self.blocks.get("observables", []):
            parts = e.text.split()
            if parts and parts[0].isdigit():
                parts = parts[1:]
            if len(parts) >= 2:
                self.observable_names.add(parts[1])
        self.parameter_names = set()
        self.parameters()
        self.compartments()
        self.molecule_types()
        for block in self.block_order:
            if block == "seed species":
                self.seeds()
            elif block == "observables":
                self.observables()
        self.functions()
        self.rules()
        self.generate_network_action()
        model.bngl_actions = list(self.actions)
        model.bngl_warnings = [f"{self.origin(line)}: {msg}" for line, msg in self.warnings]
        for w in model.bngl_warnings:
            warnings.warn(w, stacklevel=3)
        return model

    def warn(self, line, msg):
        """What BNG2.pl accepts with a warning: recorded on ``model.bngl_warnings`` and warned."""
        self.warnings.append((line, msg))

    # -- expressions
    def expr(self, line, text, *, where, allow_time=False) -> Expr:
        """A BNGL expression, read as BNG2.pl reads it (:mod:`il2sbml.formats.bngl_expr`)."""
        text = text.strip()
        if not text:
            raise self.error(line, f"{where} has no value")
        for law in _UNSUPPORTED_RATE_LAWS:
            if re.match(rf"{law}\s*\(", text):
                raise self.unsupported(line, f"the {law}() rate law in {where}",
                                       hint="write the rate as a global function of observables")
        try:
            return bngl_expression(text, functions=self.function_names, observables=self.observable_names,
                                   allow_time=allow_time)
        except BNGLExprError as exc:
            if exc.refused:
                raise NotSupportedError(f"{self.origin(line)}: {where}: {exc.message}"
                                        + (f" ({exc.hint})" if exc.hint else "")) from None
            raise self.error(line, exc.message, component=where, hint=exc.hint) from None

    def rate(self, line, text, *, where) -> Expr:
        """A rule's rate: an expression, or BioNetGen's ``MM(kcat,Km)`` / ``Sat(kcat,Km...)`` whose
        constants are parameter names (BNG2.pl's ``RateLaw::newRateLaw``)."""
        text = text.strip()
        m = re.match(r"(MM|Sat)\(", text)
        if not m:
            return self.expr(line, text, where=where)
        args = re.fullmatch(r"(MM|Sat)\((\w+(?:\s*,\s*\w+)*)\s*\)", text)
        if not args:
            raise self.error(line, f"cannot read the rate law {text!r}", component=where,
                             hint=f"write {m.group(1)}(name, name{', ...' if m.group(1) == 'Sat' else ''}) with "
                                  "parameter names, as BioNetGen requires")
        names = [a.strip() for a in args.group(2).split(",")]
        for a in names:
            if a not in self.parameter_names:
                what = ("a number" if re.fullmatch(r"[\d.]+", a) else "an observable" if a in self.observable_names
                        else "a function" if a in self.function_names else "not a declared parameter")
                raise self.error(line, f"{m.group(1)}() takes parameter names; {a!r} is {what}", component=where,
                                 hint="declare it as a parameter (BNG2.pl refuses it too)")
        call = ast.Call(ast.Name(m.group(1), ast.Load()), [ast.Name(a, ast.Load()) for a in names], [])
        return Expr.from_tree(call, f"{m.group(1)}({', '.join(names)})")

    def names_in(self, line, expr, where) -> set:
        try:
            e = Expr.parse(expr)
        except ExprError as exc:
            raise self.error(line, str(exc), component=where) from None
        return set(e.names) | set(e.calls)

    @staticmethod
    def dependency_order(items):
        """items: list of (key, deps). Stable topological order of indices; returns (order, cycle)."""
        keys = {k for k, _ in items}
        done: set = set()
        order = []
        remaining = list(range(len(items)))
        while remaining:
            for pos, i in enumerate(remaining):
                k, deps = items[i]
                if (deps & keys) - {k} <= done:
                    order.append(i)
                    done.add(k)
                    remaining.pop(pos)
                    break
            else:
                return order, [items[i] for i in remaining]
        return order, []

    # -- parameters
    def parameters(self):
        """``[index] [label:] name [=] expression`` per line (BNG2.pl's ``ParamList::readString``).
        A name defined twice takes its last value, as in BNG2.pl ("Changing value of previously
        defined variable"), with a warning."""
        items, entries = [], []
        where_first: dict = {}
        for e in self.blocks.get("parameters", []):
            m = re.match(rf"^\s*(?:\d+\s+)?(?:\w+\s*:\s+)?({_NAME})\s*(?:=\s*|\s+)(.+?)\s*;?\s*$", e.text)
            if not m:
                m2 = re.match(rf"^\s*(?:\d+\s+)?(?:\w+\s*:\s+)?({_NAME})\s*=?\s*$", e.text)
                if m2:
                    raise self.error(e.line, "parameter has no value", component=f"parameter {m2.group(1)!r}")
                raise self.error(e.line, f"cannot read parameter line {e.text!r}",
                                 hint="write 'name value' or 'name expression' (a name starts with a letter or '_')")
            pname = m.group(1)
            if pname in where_first:
                self.warn(e.line, f"parameter {pname!r} is defined again (first at line {where_first[pname]}); "
                                  "the last definition is used, as in BioNetGen")
                k = [n for _, n, _ in entries].index(pname)
                del entries[k], items[k]
            where_first.setdefault(pname, e.line)
            entries.append((e.line, pname, m.group(2)))
            items.append((pname, None))
        self.parameter_names = {n for _, n, _ in entries}
        for k, (line, pname, text) in enumerate(entries):
            value = self.expr(line, text, where=f"parameter {pname!r}")
            entries[k] = (line, pname, value)
            items[k] = (pname, self.names_in(line, value, f"parameter {pname!r}"))
        order, cycle = self.dependency_order(items)
        if cycle:
            names = [k for k, _ in cycle]
            first = min(entries[[n for _, n, _ in entries].index(k)][0] for k in names)
            raise self.error(first, f"parameters {', '.join(names)} depend on each other in a cycle")
        model = self.model
        for i in order:
            line, pname, value = entries[i]
            p, origin = self.declare(line, model.parameter, pname, value)
            model.parameters[pname] = replace(p, origin=origin)

    # -- compartments
    def compartments(self):
        """``[label:] name dimension size-expression [parent]`` per line (BNG2.pl's
        ``CompartmentList::readString``: the size is an expression, which may hold spaces, and
        ends where an operator would be expected)."""
        model = self.model
        for e in self.blocks.get("compartments", []):
            text = re.sub(r"^\s*(?:\d+\s+(?=[A-Za-z_]\w*\s+\d))?(?:\w+\s*:\s+)?", "", e.text)
            m = re.match(rf"({_NAME})\s+(\d+)\s+", text)
            if not m:
                raise self.error(e.line, f"cannot read compartment line {e.text!r}",
                                 hint="write 'name dimension size [parent]'")
            cname, dim = m.group(1), m.group(2)
            if dim not in ("2", "3"):
                raise self.error(e.line, f"compartment dimension must be 2 or 3, not {dim!r}",
                                 component=f"compartment {cname!r}")
            try:
                _, stop = parse_bngl_expr(text, m.end(), functions=self.function_names,
                                          observables=self.observable_names)
            except BNGLExprError:
                stop = len(text)  # the whole rest is the size: its error is reported below
            rest = text[stop:].split()
            if len(rest) > 1:
                raise self.error(e.line, f"cannot read compartment line {e.text!r}: {' '.join(rest)!r} after the size",
                                 component=f"compartment {cname!r}", hint="write 'name dimension size [parent]'")
            parent = rest[0] if rest else None
            size = self.expr(e.line, text[m.end():stop], where=f"compartment {cname!r}")
            c, origin = self.declare(e.line, model.compartment, cname, dimension=int(dim), size=size,
                                     parent=parent)
            model.compartments[cname] = replace(c, origin=origin)

    # -- patterns
    def pattern(self, line, text, where) -> tuple[str, bool]:
        """Normalise a pattern: returns (text without '$', fixed)."""
        text = text.strip()
        if re.match(r"^%\w+\s*:", text):
            raise self.unsupported(line, f"the pattern label in {text!r} ({where}; local functions)")
        if _COUNT_RE.search(text):
            raise self.unsupported(line, f"the count constraint in {text!r} ({where})",
                                   hint="count constraints are read in Species observables only")
        fixed = False
        if text.startswith("$"):
            fixed, text = True, text[1:].strip()
        m = re.match(rf"^@{_NAME}\s*::?\s*", text)
        if m and text[m.end():].startswith("$"):
            fixed, text = True, text[:m.end()] + text[m.end() + 1:]
        return text, fixed

    def graph(self, line, text, where) -> Graph:
        try:
            return parse_graph(text)
        except PatternSyntaxError as exc:
            raise self.error(line, exc.message, component=where, hint=exc.hint,
                             cls=PatternSyntaxError) from None

    # -- molecule types
    def molecule_types(self):
        model = self.model
        if "molecule types" in self.blocks:
            for e in self.blocks["molecule types"]:
                text = re.sub(r"^\d+\s+", "", e.text.strip())
                mt, origin = self.declare(e.line, model.molecule_type, text)
                model.molecule_types[mt.name] = replace(mt, origin=origin)
            return
        self.infer_molecule_types()

    def all_patterns(self):
        """(line, pattern text, where) for every pattern, in the order BioNetGen reads them."""
        out = []
        for block in self.block_order:
            for e in self.blocks.get(block, []):
                if block == "seed species":
                    tok = self.seed_fields(e)[0]
                    out.append((e.line, self.pattern(e.line, tok, "seed species")[0], "seed species"))
                elif block == "observables":
                    _, oname, pats = self.observable_fields(e)
                    out.extend((e.line, self.pattern(e.line, p, f"observable {oname!r}")[0],
                                f"observable {oname!r}") for p in pats)
                elif block == "reaction rules":
                    r = self.rule_fields(e, 0)
                    for p in r["reactants"] + r["products"]:
                        out.append((e.line, p, f"rule {r['name']!r}"))
                    for _, pats in r["include"] + r["exclude"]:
                        out.extend((e.line, p, f"rule {r['name']!r}") for p in pats)
        return out

    def infer_molecule_types(self):
        """No molecule types block: a molecule's sites come from its first appearance with
        parentheses (BioNetGen's rule); its states are every state it is written with."""
        types: dict = {}   # name -> [line, sites list or None, {site: [states]}]
        order = []
        for line, text, where in self.all_patterns():
            if text == "0":
                continue
            g = self.graph(line, text, where)
            paren = [bool(re.search(rf"\b{re.escape(m.type)}\s*([@%]\w+\s*)*\(", text))
                     for m in g.mols]
            for mol, has_paren in zip(g.mols, paren):
                entry = types.get(mol.type)
                if entry is None:
                    entry = types[mol.type] = [line, None, {}, text]
                    order.append(mol.type)
                names = [c.name for c in mol.comps]
                if entry[1] is None and (has_paren or names):
                    entry[1] = names
                    entry[0], entry[3] = line, text
                elif entry[1] is not None:
                    for s in set(names):
                        if names.count(s) > entry[1].count(s):
                            have = entry[1].count(s)
                            has = "no site" if not have else f"{have} site{'s' if have > 1 else ''}"
                            raise self.error(
                                line, f"molecule {mol.type} has {has} {s!r} as first written (line {entry[0]}: "
                                f"{entry[3]}), but {text!r} gives it {names.count(s)}", component=where,
                                hint="without a molecule types block a molecule's sites are those of its "
                                     "first appearance; add a 'begin molecule types' block")
                for c in mol.comps:
                    if c.state is not None:
                        st = entry[2].setdefault(c.name, [])
                        if c.state not in st:
                            st.append(c.state)
        model = self.model
        for tname in order:
            line, sites, states, _ = types[tname]
            sites = sites or []
            decl = f"{tname}({','.join(s + ''.join('~' + v for v in states.get(s, ())) for s in sites)})"
            mt, origin = self.declare(line, model.molecule_type, decl)
            model.molecule_types[tname] = replace(mt, origin=origin)

    # -- seed species
    def seed_fields(self, e):
        text = re.sub(r"^\s*\d+\s+(?=[$@A-Za-z_])", "", e.text)
        text = re.sub(r"^\s*[A-Za-z_]\w*\s*::?\s*(?=[$@A-Za-z_])", "", text)  # a species name, 'CD14: CD14(...)'
        parts = _split_top(text, " \t")
        if len(parts) < 2:
            raise self.error(e.line, f"seed species line {e.text!r} needs a species and an amount")
        return parts[0], " ".join(parts[1:])

    def seeds(self):
        model = self.model
        for e in self.blocks.get("seed species", []):
            tok, amount = self.seed_fields(e)
            text, fixed = self.pattern(e.line, tok, "seed species")
            amount = self.expr(e.line, amount, where=f"seed {text!r}")
            s, origin = self.declare(e.line, model.seed, text, amount, fixed=fixed)
            model.seeds[-1] = replace(s, origin=origin)

    # -- observables
    def observable_fields(self, e):
        parts = _split_top(e.text, " \t,")
        if parts and parts[0].isdigit():
            parts = parts[1:]
        if len(parts) < 3:
            raise self.error(e.line, f"cannot read observable line {e.text!r}",
                             hint="write 'Molecules name pattern[, pattern ...]'")
        kind = parts[0].lower()
        if kind not in ("molecules", "species"):
            raise self.unsupported(e.line, f"observable type {parts[0]!r}", hint="use Molecules or Species")
        return kind, parts[1], parts[2:]

    def observables(self):
        model = self.model
        for e in self.blocks.get("observables", []):
            kind, oname, pats = self.observable_fields(e)
            counts = []
            for i, p in enumerate(pats):
                m = _COUNT_RE.search(p)
                if m and kind == "species":
                    # BNG2.pl (Observable.pm): a Species observable counts a species once per
                    # pattern whose number of matches satisfies the constraint
                    pats[i] = p[:m.start()]
                    counts.append(({"=": "=="}.get(m.group(1), m.group(1)), int(m.group(2))))
                else:
                    counts.append(None)
            texts = [self.pattern(e.line, p, f"observable {oname!r}")[0] for p in pats]
            o, origin = self.declare(e.line, model.observable, oname, texts, kind=kind)
            if any(counts):
                full = tuple(t + (f"{c[0]}{c[1]}" if c else "") for t, c in zip(texts, counts))
                o = replace(o, texts=full, counts=tuple(counts))
            model.observables[oname] = replace(o, origin=origin)

    # -- functions
    def functions(self):
        model = self.model
        entries, items = [], []
        for e in self.blocks.get("functions", []):
            m = re.match(rf"^\s*(?:\d+\s+)?({_NAME})\s*(?:\(([^)]*)\))?\s*(?:=\s*|\s+)(.+?)\s*$", e.text)
            if not m:
                raise self.error(e.line, f"cannot read function line {e.text!r}",
                                 hint="write 'name() = expression'")
            fname, args, body = m.groups()
            if args and args.strip():
                raise self.unsupported(e.line, f"local function {fname}({args.strip()})",
                                       hint="only global functions without arguments are supported")
            body = self.expr(e.line, body, where=f"function {fname!r}", allow_time=True)
            entries.append((e.line, fname, body))
            items.append((fname, self.names_in(e.line, body, f"function {fname!r}")))
        order, cycle = self.dependency_order(items)
        if cycle:
            names = [k for k, _ in cycle]
            first = min(line for line, n, _ in entries if n in names)
            raise self.error(first, f"functions {', '.join(names)} depend on each other in a cycle")
        for i in order:
            line, fname, body = entries[i]
            f, origin = self.declare(line, model.function, fname, body)
            model.functions[fname] = replace(f, origin=origin)

    # -- rules
    def rule_fields(self, e, position) -> dict:
        text = e.text
        name = None
        m = re.match(r"^\s*([A-Za-z0-9_]+)\s*:(?!:)\s*", text)
        if m:
            name, text = m.group(1), text[m.end():]
            if name[0].isdigit():
                name = None  # BNG2.pl takes a numeric label as the rule's index: numbered as unnamed rules
        elif re.match(r"^\s*\d+\s+(?!\s*(\+|->|<->))", text):
            text = re.sub(r"^\s*\d+\s+", "", text)  # a leading rule index (BNG2.pl strips it)
        if re.search(r"(^|[\s+])%\w+\s*:", text):
            raise self.unsupported(e.line, "a %x: pattern label (local functions)",
                                   hint="only global functions are supported")
        arrow, depth, i = None, 0, 0
        while i < len(text):
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif depth == 0 and text.startswith("<->", i):
                arrow = (i, "<->")
                break
            elif depth == 0 and text.startswith("->", i):
                arrow = (i, "->")
                break
            i += 1
        if arrow is None:
            raise self.error(e.line, f"no '->' or '<->' in reaction rule {e.text!r}",
                             component=f"rule {name!r}" if name else None)
        lhs = text[:arrow[0]]
        rhs = text[arrow[0] + len(arrow[1]):]
        reactants = [p for p in _split_top(lhs, "+")]
        if not reactants:
            raise self.error(e.line, "a rule side is empty; write 0 for nothing")
        # products: patterns joined by '+', then the rate(s)
        products, j, n = [], 0, len(rhs)
        while True:
            while j < n and rhs[j].isspace():
                j += 1
            k, depth = j, 0
            while k < n:
                ch = rhs[k]
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif depth == 0 and (ch.isspace() or ch in "+,") and not (ch == "+" and rhs[k - 1] == "!"):
                    break
                k += 1
            if k == j:
                raise self.error(e.line, f"missing product pattern in rule {e.text!r}")
            products.append(rhs[j:k])
            j = k
            while j < n and rhs[j].isspace():
                j += 1
            if j < n and rhs[j] == "+":
                j += 1
                continue
            break
        rest = rhs[j:]
        reversible = arrow[1] == "<->"
        # modifiers after the rate(s)
        mods = list(re.finditer(r"\b(include_reactants|exclude_reactants|include_products|exclude_products|"
                                r"DeleteMolecules|MoveConnected|TotalRate|priority)\b", rest))
        rate_text = rest[:mods[0].start()] if mods else rest
        include, exclude, delete, total_rate = [], [], False, False
        pos = mods[0].start() if mods else len(rest)
        while pos < len(rest):
            mm = re.match(r"\s*(include_reactants|exclude_reactants|include_products|exclude_products|"
                          r"DeleteMolecules|MoveConnected|TotalRate|priority)\b", rest[pos:])
            if not mm:
                if rest[pos:].strip():
                    raise self.error(e.line, f"cannot read {rest[pos:].strip()!r} after the rate")
                break
            word = mm.group(1)
            pos += mm.end()
            if word == "DeleteMolecules":
                delete = True
                continue
            if word == "TotalRate":
                total_rate = True
                continue
            if word == "MoveConnected":
                raise self.unsupported(e.line, "the MoveConnected rule modifier",
                                       hint="transport of whole complexes between compartments")
            if word == "priority":
                raise self.unsupported(e.line, "rule priorities (priority=...)")
            if word in ("include_products", "exclude_products"):
                raise self.unsupported(e.line, f"{word}(...)",
                                       hint="use include_reactants/exclude_reactants on the reverse rule")
            am = re.match(r"\s*\(", rest[pos:])
            if not am:
                raise self.error(e.line, f"{word} needs (position, pattern, ...)")
            start = pos + am.end()
            depth, k = 1, start
            while k < len(rest) and depth:
                depth += {"(": 1, ")": -1}.get(rest[k], 0)
                k += 1
            if depth:
                raise self.error(e.line, f"unclosed parenthesis in {word}(...)")
            args = _split_top(rest[start:k - 1], ",")
            pos = k
            if len(args) < 2 or not args[0].isdigit():
                raise self.error(e.line, f"{word}({rest[start:k - 1]}) needs a reactant position and patterns")
            pats = [self.pattern(e.line, a, word)[0] for a in args[1:]]
            (include if word == "include_reactants" else exclude).append((int(args[0]), pats))
        rates = _split_top(rate_text, ",")
        return {"name": name or f"Rule{position}", "explicit": name is not None,
                "reactants": [self.pattern(e.line, p, "rule")[0] for p in reactants],
                "products": [self.pattern(e.line, p, "rule")[0] for p in products],
                "reversible": reversible, "rates": rates, "include": include, "exclude": exclude,
                "delete": delete, "rate_text": rate_text.strip(), "total_rate": total_rate}

    def rules(self):
        model = self.model
        entries = self.blocks.get("reaction rules", [])
        parsed = [self.rule_fields(e, i + 1) for i, e in enumerate(entries)]
        explicit = {r["name"] for r in parsed if r["explicit"]}
        for e, r in zip(entries, parsed):
            rname = r["name"]
            if not r["explicit"] and rname in explicit:
                k = 1
                while f"{rname}_{k}" in explicit:
                    k += 1
                rname = f"{rname}_{k}"
            comp = f"rule {rname!r}"
            want = 2 if r["reversible"] else 1
            if len(r["rates"]) != want:
                raise self.error(e.line, f"{'a reversible' if want == 2 else 'an irreversible'} rule needs "
                                 f"{want} rate{'s' if want == 2 else ''}, found {r['rate_text']!r}",
                                 component=comp, hint="separate forward and reverse rates with a comma"
                                 if want == 2 else None)
            rates = [self.rate(e.line, t, where=comp) for t in r["rates"]]
            if r["total_rate"]:
                for t, x in zip(r["rates"], rates):
                    law = rate_law(x)
                    if law is not None:
                        raise self.error(e.line, f"TotalRate cannot be used with the {law[0]}() rate law {t.strip()!r} "
                                         "(BNG2.pl refuses it too)", component=comp)
                if r["reactants"] and any(p.strip() != "0" for p in r["reactants"]):
                    self.warn(e.line, f"rule {rname!r}: TotalRate is ignored by network generation, as BNG2.pl's "
                              "generate_network ignores it: each reaction gets the rule's rate times its reactants "
                              "(only NFsim reads it as the rule's total rate)")
            inc: dict = {}
            exc: dict = {}
            for pos, pats in r["include"]:
                inc.setdefault(pos, []).extend(pats)
            for pos, pats in r["exclude"]:
                exc.setdefault(pos, []).extend(pats)
            arrow = " <-> " if r["reversible"] else " -> "
            text = " + ".join(r["reactants"]) + arrow + " + ".join(r["products"])
            out, origin = self.declare(e.line, model.rule, rname, text, rates[0],
                                       rates[1] if r["reversible"] else None,
                                       include_reactants=inc or None, exclude_reactants=exc or None,
                                       delete_molecules=r["delete"])
            fixed = [replace(x, origin=origin, total_rate=r["total_rate"]) for x in out]
            model.rules[-len(fixed):] = fixed
            model.rule_names[rname] = origin

    # -- actions
    def generate_network_action(self):
        gens = [a for a in self.actions if a[1] == "generate_network"]
        if not gens:
            return
        line, _, args = gens[0]
        try:
            opts = _perl_hash(args) if args else {}
        except ValueError as exc:
            raise self.error(line, f"cannot read generate_network options {args!r}: {exc}") from None
        kw = {}
        for key, val in opts.items():
            low = key.lower()
            if low in _GN_OUTPUT_OPTIONS:
                continue
            if key in ("max_iter", "max_agg"):
                kw[key] = self.int_option(line, key, val)
            elif key == "max_stoich":
                if not isinstance(val, dict):
                    raise self.error(line, "max_stoich must be a hash such as {R=>5}")
                kw[key] = {k: self.int_option(line, f"max_stoich {k}", v) for k, v in val.items()}
            else:
                raise self.unsupported(line, f"the generate_network option {key!r}",
                                       hint="supported: max_iter, max_agg, max_stoich")
        if kw:
            self.declare(line, self.model.generate_network_options, **kw)

    def int_option(self, line, key, val):
        try:
            f = float(val)
        except (TypeError, ValueError):
            raise self.error(line, f"generate_network option {key} must be a number, not {val!r}") from None
        if not f.is_integer():
            raise self.error(line, f"generate_network option {key} must be a whole number, not {val!r}")
        return int(f)


def _perl_hash(text: str):
    """Parse BioNetGen's Perl-style action arguments: ``{a=>1, b=>"x", c=>{'R'=>5}, d=>[1,2]}``."""
    tokens = re.findall(r"\s*(=>|[{}\[\],]|'[^']*'|\"[^\"]*\"|[^\s{}\[\],=>'\"]+|=|>)", text)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", text):
        raise ValueError("unexpected characters")
    pos = 0

    def value():
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError("unexpected end")
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            out = {}
            while tokens[pos] != "}":
                key = value()
                if not isinstance(key, str) or tokens[pos] not in ("=>", ","):
                    raise ValueError(f"expected '=>' after {key!r}")
                pos += 1
                out[str(key)] = value()
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return out
        if tok == "[":
            out = []
            while tokens[pos] != "]":
                out.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return out
        if tok[0] in "'\"":
            return tok[1:-1]
        try:
            return int(tok)
        except ValueError:
            try:
                return float(tok)
            except ValueError:
                return tok

    try:
        v = value()
        if pos != len(tokens):
            raise ValueError(f"unexpected {tokens[pos]!r}")
    except IndexError:
        raise ValueError("unbalanced braces") from None
    if not isinstance(v, dict):
        raise ValueError("expected a {...} hash")
    return v


# ======================================================================================
# Writing
# ======================================================================================

_PREC = {"or": 1, "and": 2, "cmp": 4, "add": 5, "mul": 6, "neg": 7, "pow": 8, "atom": 9}
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_FUNC_NAMES = {"log": "ln", "ln": "ln", "_if": "if"}


def bngl_expr(expr, rename: dict | None = None) -> str:
    """An :class:`~il2sbml.lang.expr.Expr` (or its text) in BNGL syntax, without spaces; names in
    ``rename`` are replaced (BNGL expressions cannot name a compartment, for instance)."""
    e = Expr.parse(expr)
    tree = e.tree
    if rename and e.names & set(rename):
        tree = copy.deepcopy(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in rename:
                node.id = rename[node.id]
    return _unparse(tree)[0]


def _num(v) -> str:
    if isinstance(v, bool):
        raise NotSupportedError(f"the boolean {v!r} in an expression")
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def _unparse(node) -> tuple[str, int]:
    if isinstance(node, ast.Constant):
        return _num(node.value), _PREC["atom"]
    if isinstance(node, ast.Name):
        if node.id in ("_pi", "_e", "time"):  # BNGL spells constants and time as calls
            return node.id + "()", _PREC["atom"]
        return node.id, _PREC["atom"]
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            inner = _unparse(node.operand)[0]
            return f"if({inner},0,1)", _PREC["atom"]
        s, p = _unparse(node.operand)
        if isinstance(node.op, ast.UAdd):
            return s, p
        if p <= _PREC["pow"] and p != _PREC["atom"]:
            s = f"({s})"
        return "-" + s, _PREC["neg"]
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            a, pa = _unparse(node.left)
            b, pb = _unparse(node.right)
            a = a if pa == _PREC["atom"] else f"({a})"
            b = b if pb == _PREC["atom"] else f"({b})"
            return f"{a}^{b}", _PREC["pow"]
        op, prec = {ast.Add: ("+", "add"), ast.Sub: ("-", "add"), ast.Mult: ("*", "mul"),
                    ast.Div: ("/", "mul")}[type(node.op)]
        prec = _PREC[prec]
        a, pa = _unparse(node.left)
        b, pb = _unparse(node.right)
        if pa < prec:
            a = f"({a})"
        if pb < prec or (pb == prec and op in "-/"):
            b = f"({b})"
        return f"{a}{op}{b}", prec
    if isinstance(node, ast.Compare):
        parts = []
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            a, pa = _unparse(left)
            b, pb = _unparse(right)
            a = a if pa > _PREC["cmp"] else f"({a})"
            b = b if pb > _PREC["cmp"] else f"({b})"
            parts.append(f"{a}{_CMP[type(op)]}{b}")
            left = right
        if len(parts) == 1:
            return parts[0], _PREC["cmp"]
        return "&&".join(f"({p})" for p in parts), _PREC["and"]
    if isinstance(node, ast.BoolOp):
        op, prec = ("&&", _PREC["and"]) if isinstance(node.op, ast.And) else ("||", _PREC["or"])
        out = []
        for v in node.values:
            s, p = _unparse(v)
            out.append(s if p == _PREC["atom"] else f"({s})")
        return op.join(out), prec
    if isinstance(node, ast.Call):
        name = node.func.id
        args = [_unparse(a)[0] for a in node.args]
        if name == "pow" and len(args) == 2:
            return f"({args[0]})^({args[1]})", _PREC["atom"]
        # BNGL has rint (round half up) but neither floor nor ceil: floor(x) = rint(x-0.5)
        if name == "floor" and len(args) == 1:
            return f"rint(({args[0]})-0.5)", _PREC["atom"]
        if name == "ceil" and len(args) == 1:
            return f"(-rint(-({args[0]})-0.5))", _PREC["atom"]
        return f"{_FUNC_NAMES.get(name, name)}({','.join(args)})", _PREC["atom"]
    raise NotSupportedError(f"cannot write {ast.unparse(node)!r} in BNGL")


def _graph_text(g: Graph, *, species=False) -> str:
    return to_bngl(g, fixed_marker=species)


def _side_text(graphs) -> str:
    return " + ".join(_graph_text(g) for g in graphs) if graphs else "0"


def _vf_powers(text: str) -> dict:
    """A volume factor as the generator writes it ('1', 'EC', '1/EC', '1/EC^2', '1/(EC*PM)')
    -> {compartment: power}."""
    text = text.replace(" ", "")
    if text == "1":
        return {}
    if re.fullmatch(_NAME, text):
        return {text: 1}
    m = re.fullmatch(r"1/\((.+)\)|1/(.+)", text)
    if not m:
        raise NotSupportedError(f"cannot read the volume factor {text!r}")
    powers: dict = {}
    for term in (m.group(1) or m.group(2)).split("*"):
        tm = re.fullmatch(rf"({_NAME})(?:\^(\d+))?", term)
        if not tm:
            raise NotSupportedError(f"cannot read the volume factor {text!r}")
        powers[tm.group(1)] = powers.get(tm.group(1), 0) - int(tm.group(2) or 1)
    return powers


def _bng_volume_powers(network, reaction, dims) -> dict:
    """The compartment factor BioNetGen applies to a reaction of a cBNGL model: zero-order
    rates are multiplied by the product's compartment size; for two or more reactants one
    reactant is the anchor (a surface one if any, else a volume one) and the rate is divided
    by the sizes of the other reactants' compartments."""
    n = len(reaction.reactants)
    if n == 0:
        comps = [network.species[p].compartment for p in reaction.products]
        return {comps[0]: 1} if comps and comps[0] else {}
    if n == 1:
        return {}
    comps = [network.species[r].compartment for r in reaction.reactants]
    if any(c is None for c in comps):
        return {}
    surfaces = [c for c in comps if dims.get(c) == 2]
    volumes = [c for c in comps if dims.get(c) == 3]
    rest = surfaces[1:] + volumes if surfaces else volumes[1:]
    powers: dict = {}
    for c in rest:
        powers[c] = powers.get(c, 0) - 1
    return powers


def _powers_text(powers: dict) -> str:
    num = [c if p == 1 else f"{c}^{p}" for c, p in sorted(powers.items()) if p > 0]
    den = [c if p == -1 else f"{c}^{-p}" for c, p in sorted(powers.items()) if p < 0]
    out = "*".join(num) or "1"
    if den:
        out += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
    return out


def _rate_corrections(model: Model, network) -> dict:
    """Rule name -> (unit factor, compartment powers) turning its rate into BioNetGen's convention."""
    from ..lang.rules import compile_rule

    out: dict = {}
    for rule in model.rules:
        cr = compile_rule(model, rule, check_only=True)
        out[rule.name] = (1.0 if cr.unit is None else cr.unit.scale, None)
    if not model.compartments:
        return {k: (uf, {}) for k, (uf, _) in out.items()}
    if network is None:
        from ..generate.netgen import generate_network
        network = generate_network(model)
    dims = {c.name: c.dimension for c in model.compartments.values()}
    for r in network.reactions:
        ours = _vf_powers(r.volume_factor.text)
        bng = _bng_volume_powers(network, r, dims)
        ratio = dict(ours)
        for c, p in bng.items():
            ratio[c] = ratio.get(c, 0) - p
        ratio = {c: p for c, p in ratio.items() if p}
        for name in r.rules:
            uf, seen = out[name]
            if seen is None:
                out[name] = (uf, ratio)
            elif seen != ratio:
                rule = next(x for x in model.rules if x.name == name)
                raise NotSupportedError(
                    f"{rule.origin}: rule {name!r}: its reactions need different compartment factors "
                    f"({_powers_text(seen)} and {_powers_text(ratio)}) to match BioNetGen's volume "
                    "convention, so it cannot be written as one BNGL rule (split it by compartment)")
    return {k: (uf, ratio or {}) for k, (uf, ratio) in out.items()}


def _rate_text(text: str, uf: float, powers: dict) -> str:
    """``uf * rate * size^powers`` in BNGL (``powers`` keyed by size parameter)."""
    num = [repr(uf)] if uf != 1.0 else []
    num += [c if p == 1 else f"{c}^{p}" for c, p in sorted(powers.items()) if p > 0]
    den = [c if p == -1 else f"{c}^{-p}" for c, p in sorted(powers.items()) if p < 0]
    if not num and not den:
        return text
    atomic = re.fullmatch(rf"{_NAME}(\(\))?|[0-9.eE+-]+", text) is not None
    out = "*".join(num + [text if atomic else f"({text})"])
    if den:
        out += "/" + (den[0] if len(den) == 1 else "(" + "*".join(den) + ")")
    return out


def write_bngl(model: Model, *, network=None) -> str:
    """The model as BNGL text that BNG2.pl accepts and expands into the same network.

    For a model with compartments the network (generated when not given) decides the
    per-rule compartment factors (see the module docstring).
    """
    corrections = _rate_corrections(model, network)
    # BNGL expressions cannot name a compartment: a compartment size that a rate or another
    # expression needs is written as a parameter, declared after the parameters it uses
    taken = set(model.parameters) | set(model.compartments) | set(model.observables) | set(model.functions)
    used = {c for _, powers in corrections.values() for c in powers}
    for e in ([s.amount for s in model.seeds] + [f.expr for f in model.functions.values()]
              + [r.rate for r in model.rules]):
        used |= e.names & set(model.compartments)
    for p in model.parameters.values():
        if p.expr.names & set(model.compartments):
            raise NotSupportedError(f"{p.origin}: parameter {p.name!r} uses a compartment size, which BNGL "
                                    "parameters cannot do (use the parameter the compartment's size is made of)")
    size_param = {}
    for c in model.compartments:
        if c in used:
            pname = f"_size_{c}"
            while pname in taken:
                pname += "_"
            taken.add(pname)
            size_param[c] = pname
    out = [f"# {model.name}: written by il2sbml", "begin model", "begin parameters"]
    for p in model.parameters.values():
        line = f"    {p.name}  {bngl_expr(p.expr)}"
        if p.units:
            line += f"  # units: {p.units}"
        out.append(line)
    sizes = {}
    for c in model.compartments.values():
        size = bngl_expr(c.size, size_param)
        if c.unit is not None and c.unit.scale != 1.0:
            size = f"{c.unit.scale!r}*({size})"
        sizes[c.name] = size
        if c.name in size_param:
            out.append(f"    {size_param[c.name]}  {size}  # size of compartment {c.name}")
    out.append("end parameters")
    if model.compartments:
        out.append("begin compartments")
        for c in model.compartments.values():
            size = size_param.get(c.name, sizes[c.name])
            out.append(f"    {c.name}  {c.dimension}  {size}" + (f"  {c.parent}" if c.parent else "")
                       + (f"  # {c.units} converted to m^{c.dimension}" if c.unit is not None else ""))
        out.append("end compartments")
    out.append("begin molecule types")
    for mt in model.molecule_types.values():
        out.append(f"    {mt.declaration()}")
    out.append("end molecule types")
    out.append("begin seed species")
    for s in model.seeds:
        amount = bngl_expr(s.amount, size_param)
        unit = getattr(s, "unit", None)
        if unit is not None and unit.scale != 1.0:
            amount = f"{unit.scale!r}*({amount})"
        out.append(f"    {_graph_text(s.pattern, species=True)}  {amount}")
    out.append("end seed species")
    out.append("begin observables")
    for o in model.observables.values():
        kind = "Molecules" if o.kind == "molecules" else "Species"
        counts = o.counts or (None,) * len(o.patterns)
        out.append(f"    {kind}  {o.name}  " + ", ".join(_graph_text(g) + (f"{c[0]}{c[1]}" if c else "")
                                                        for g, c in zip(o.patterns, counts)))
    out.append("end observables")
    if model.functions:
        out.append("begin functions")
        for f in model.functions.values():
            out.append(f"    {f.name}() = {bngl_expr(f.expr, size_param)}")
        out.append("end functions")
    out.append("begin reaction rules")
    reverse = {r.reverse_of: r for r in model.rules if r.reverse_of}
    for r in model.rules:
        if r.reverse_of:
            continue
        rev = reverse.get(r.name)
        arrow = " <-> " if rev else " -> "
        rates = []
        for x in (r, rev) if rev else (r,):
            uf, powers = corrections[x.name]
            law = rate_law(x.rate)
            if law is not None and (uf != 1.0 or powers):
                raise NotSupportedError(f"{x.origin}: rule {x.name!r}: its {law[0]}() rate needs a factor "
                                        f"({_rate_text('rate', uf, powers)}) to match BioNetGen's convention, "
                                        "which a BNGL rate law cannot carry")
            rates.append(_rate_text(bngl_expr(x.rate, size_param), uf,
                                    {size_param[c]: n for c, n in powers.items()}))
        line = f"    {r.name}: {_side_text(r.reactants)}{arrow}{_side_text(r.products)}  {', '.join(rates)}"
        for key, table in (("include_reactants", r.include_reactants), ("exclude_reactants", r.exclude_reactants)):
            for pos, graphs in sorted(table.items()):
                line += f" {key}({pos + 1}," + ",".join(_graph_text(g) for g in graphs) + ")"
        if r.delete_molecules:
            line += " DeleteMolecules"
        if r.total_rate:
            line += " TotalRate"
        out.append(line)
    out.append("end reaction rules")
    out.append("end model")
    out.append("")
    lim = model.limits
    opts = ["overwrite=>1"]
    if lim.max_iter is not None:
        opts.append(f"max_iter=>{lim.max_iter}")
    if lim.max_agg is not None:
        opts.append(f"max_agg=>{lim.max_agg}")
    if lim.max_stoich:
        opts.append("max_stoich=>{" + ",".join(f"'{k}'=>{v}" for k, v in lim.max_stoich.items()) + "}")
    out.append("generate_network({" + ",".join(opts) + "})")
    return "\n".join(out) + "\n"
