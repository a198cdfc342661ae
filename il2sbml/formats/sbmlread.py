"""SBML reader: an SBML core model into the frozen :class:`~il2sbml.generate.network.Network`.

Read: compartments, species (amounts or concentrations, ``hasOnlySubstanceUnits``, boundary
and constant species), global parameters and reaction-local parameters (renamed ``<reaction>_<parameter>``, made
unique), unit definitions, reactions with any
kinetic-law math (kept as an expression tree in :class:`NetReaction.law`), initial
assignments, assignment rules, function definitions (inlined), and events (trigger,
assignments, persistence, initial value, ``useValuesFromTriggerTime``).

Refused by name, never half-read: algebraic and rate rules, delays (in math or on events),
event priorities, fast reactions, non-integer or variable stoichiometry, required SBML
packages (optional ones such as layout carry no model meaning and are skipped),
DTD entity declarations (the "billion laughs" attack), and files over ``MAX_BYTES``.

Semantics are SBML's: in a kinetic law, a species symbol is its amount when
``hasOnlySubstanceUnits`` is true and its concentration otherwise, and the law is the rate
of the reaction in substance per time.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

import libsbml

from ..generate.network import ModelInfo, NetReaction, NetSpecies, Network
from ..lang.dsl import Compartment, Parameter
from ..lang.errors import NotSupportedError
from ..lang.expr import Expr
from .sbml import SBMLError

MAX_BYTES = 64 * 1024 * 1024  # a larger file is refused before parsing


@dataclass(frozen=True)
class NetEvent:
    id: str
    trigger: Expr
    initial_value: bool
    persistent: bool
    use_values_from_trigger_time: bool
    assignments: tuple  # ((variable, Expr), ...)


@dataclass(frozen=True)
class SBMLExtras:
    """SBML-only content of a network read from SBML (written back by the writer)."""

    model_id: str
    model_name: str
    level: int
    version: int
    model_units: tuple          # ((attribute, unit id), ...)
    unit_definitions: tuple     # ((id, name, ((kind, exponent, scale, multiplier), ...)), ...)
    compartment_units: dict     # compartment id -> unit id ('' if none)
    parameter_units: dict       # parameter id -> unit id ('' if none)
    parameter_constant: dict    # parameter id -> bool
    initial_assignments: tuple  # ((symbol, Expr), ...)
    assignment_rules: tuple     # ((variable, Expr), ...)
    events: tuple               # NetEvent
    species_units: dict         # species id -> substanceUnits ('' if none)
    decorations: dict = None    # (kind, id) -> (metaid, sbo, notes, annotation), written back as read
    mathml: dict = None         # (kind, id...) -> MathML as read, where it can be written back verbatim
    modifiers: dict = None      # reaction id -> modifier species ids, as read
    static_rules: tuple = ()    # ((variable, Expr), ...) rules of constants only, in evaluation order


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _mathml(node):
    """The MathML of a libSBML AST as an ElementTree element."""
    import xml.etree.ElementTree as ET

    return ET.fromstring(libsbml.writeMathMLToString(node))


def _number(el, where, what) -> str:
    kind = el.get("type", "real")
    parts = [t.strip() for t in el.itertext() if t.strip()]
    try:
        if kind == "e-notation":
            value = float(parts[0]) * 10.0 ** float(parts[1])
        elif kind == "rational":
            value = float(parts[0]) / float(parts[1])
        else:
            value = float(parts[0])
    except (IndexError, ValueError):
        raise SBMLError(f"{where}: a number in {what} cannot be read") from None
    if math.isnan(value):
        return "(0/0)"
    if math.isinf(value):
        return "(1/0)" if value > 0 else "(-1/0)"
    return repr(int(value)) if kind == "integer" else repr(value)


def _static_rule_variables(m, rules) -> list:
    """Variables of assignment rules that read only constants (constant parameters and
    compartments, numbers, other such rules), in an order in which they can be evaluated: their
    values never change during a simulation, so a kinetic law may use them in a mass-action
    constant. ``rules``: (variable, Expr) as translated from MathML (time is the name ``time``,
    function calls inlined), not libSBML's AST: see ``_Reader._m`` on getType()."""

    constants = {p.getId() for p in m.getListOfParameters() if p.getConstant()}
    constants |= {c.getId() for c in m.getListOfCompartments() if c.getConstant()}
    assignment = {r.getVariable() for r in m.getListOfRules() if r.isAssignment()}
    pending = {var: set(expr.names) for var, expr in rules if var in assignment and "time" not in expr.names}
    order: list = []
    changed = True
    while changed:
        changed = False
        for var, names in list(pending.items()):
            if names <= constants | set(order):
                order.append(var)
                del pending[var]
                changed = True
    return order


def _mass_action_constant(law: Expr, reactants, species, rule_vars) -> Expr | None:
    """If ``law`` is ``c * prod(S_i ^ n_i)`` over exactly the reactants (with their
    stoichiometries) and ``c`` reads no species and no rule variable, return ``c`` on the
    amount basis (a concentration symbol ``S`` in compartment ``V`` is ``S_amount / V``):
    the law is then ``c * prod(amount_i ^ n_i)``. Otherwise ``None``."""
    import ast
    from collections import Counter

    ids = {s.sbml_id: s for s in species}
    factors: list = []   # (node, exponent)

    def flatten(node, sign):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            return flatten(node.left, sign) and flatten(node.right, sign)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return flatten(node.left, sign) and flatten(node.right, -sign)
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and isinstance(node.left, ast.Name)
                and node.left.id in ids and isinstance(node.right, ast.Constant)):
            n = node.right.value
            if not float(n).is_integer() or n <= 0 or sign < 0:
                return False
            factors.append((node.left.id, int(n)))
            return True
        if isinstance(node, ast.Name) and node.id in ids:
            if sign < 0:
                return False
            factors.append((node.id, 1))
            return True
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if names & (set(ids) | rule_vars | {"time"}):
            return False
        factors.append((node, sign))
        return True

    if not flatten(law.tree, 1):
        return None
    powers: Counter = Counter()
    const = []
    for f, e in factors:
        if isinstance(f, str):
            powers[f] += e
        else:
            const.append(f"({ast.unparse(f)})" if e > 0 else f"1/({ast.unparse(f)})")
    want = Counter(species[i].sbml_id for i in reactants)
    if powers != want:
        return None
    for sid, n in powers.items():
        if not ids[sid].amount_in_law:
            const.append(f"1/({ids[sid].compartment})" + (f"^{n}" if n > 1 else ""))
    return Expr.parse("*".join(const) if const else "1")


def read_sbml(source: str) -> Network:
    """Read SBML from a path or an XML string; raise :class:`SBMLError` naming what is wrong."""
    where = "SBML string"
    if not source.lstrip().startswith("<"):
        where = source
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise SBMLError(f"{source}: cannot read: {exc.strerror}") from None
        if size > MAX_BYTES:
            raise SBMLError(f"{source}: {size} bytes is over the {MAX_BYTES}-byte limit for SBML input")
        with open(source, "rb") as fh:
            text = fh.read().decode("utf-8", errors="replace")
    else:
        text = source
        if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
            raise SBMLError(f"SBML input is over the {MAX_BYTES}-byte limit")
    if re.search(r"<!ENTITY", text[:100_000], re.IGNORECASE) or "<!DOCTYPE" in text[:100_000]:
        raise SBMLError(f"{where}: DTD and entity declarations are not allowed in SBML (refused: entity "
                        "expansion attacks such as 'billion laughs')")
    doc = libsbml.readSBMLFromString(text)
    fatal = [doc.getError(i) for i in range(doc.getNumErrors())
             if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if fatal:
        e = fatal[0]
        raise SBMLError(f"{where}:{e.getLine()}: not valid SBML: {' '.join(e.getMessage().split())}"
                        + (f" (and {len(fatal) - 1} more error(s))" if len(fatal) > 1 else ""))
    return _Reader(doc, where).read()


class _Reader:
    def __init__(self, doc, where):
        self.doc = doc
        self.where = where
        self.model = doc.getModel()
        if self.model is None:
            raise SBMLError(f"{where}: the SBML document has no model")
        self.funcs: dict = {}
        self.decor: dict = {}
        self.mathml: dict = {}

    def decorate(self, key, el) -> None:
        """Keep what an element carries besides its meaning: metaid, SBO term, notes, annotation."""
        metaid = el.getMetaId() if el.isSetMetaId() else ""
        sbo = el.getSBOTerm() if el.isSetSBOTerm() else -1
        notes = el.getNotesString() if el.isSetNotes() else ""
        ann = el.getAnnotationString() if el.isSetAnnotation() else ""
        if metaid or sbo != -1 or notes or ann:
            self.decor[key] = (metaid, sbo, notes, ann)

    def keep_math(self, key, node, rename=None) -> None:
        if node is not None and not rename and not self.funcs:
            self.mathml[key] = libsbml.writeMathMLToString(node)

    def refuse(self, what: str, sid: str | None = None):
        at = f" ({sid})" if sid else ""
        raise NotSupportedError(f"{self.where}: {what}{at} is not supported; il2sbml reads the SBML core "
                                "without it")

    # ---------------------------------------------------------------- math
    def maths(self, elements, kind: str, what: str) -> tuple:
        """((symbol, Expr), ...) of rules (``kind`` "rule") or initial assignments ("ia"), their
        annotations and MathML kept for writing back."""
        out = []
        for el in elements:
            symbol = el.getVariable() if kind == "rule" else el.getSymbol()
            out.append((symbol, self.expr(el.getMath(), None, f"{what} {symbol}")))
            self.decorate((kind, symbol), el)
            self.keep_math((kind, symbol), el.getMath())
        return tuple(out)

    def expr(self, node, rename: dict | None = None, what: str = "math") -> Expr:
        if node is None:
            raise SBMLError(f"{self.where}: {what} has no math")
        return Expr.parse(self._m(_mathml(node), rename or {}, what))

    # The math is translated from its MathML text, not from libSBML's AST objects: when
    # another SWIG module embedding libSBML's AST (libsedml) is imported after libsbml,
    # ASTNode.getType() stops returning integers, and the reader must not depend on that.
    def _m(self, el, rename, what) -> str:
        tag = _local(el.tag)
        if tag == "math":
            kids = list(el)
            if len(kids) != 1:
                raise SBMLError(f"{self.where}: {what} must hold one expression")
            return self._m(kids[0], rename, what)
        if tag == "cn":
            return _number(el, self.where, what)
        if tag == "ci":
            name = (el.text or "").strip()
            return rename.get(name, name)
        if tag == "csymbol":
            url = el.get("definitionURL", "")
            if url.endswith("/time"):
                return "time"
            if url.endswith("/avogadro"):
                return "6.02214076e23"
            if url.endswith("/delay"):
                self.refuse("a delay in " + what)
            self.refuse(f"the csymbol {url!r} in {what}")
        consts = {"pi": "_pi", "exponentiale": "_e", "true": "(1 == 1)", "false": "(1 == 0)",
                  "notanumber": "(0/0)", "infinity": "(1/0)"}
        if tag in consts:
            return consts[tag]
        if tag == "piecewise":
            pieces = [p for p in el if _local(p.tag) == "piece"]
            other = [p for p in el if _local(p.tag) == "otherwise"]
            out = self._m(list(other[0])[0], rename, what) if other else "(0/0)"
            for piece in reversed(pieces):
                value, cond = list(piece)
                out = f"if({self._m(cond, rename, what)}, {self._m(value, rename, what)}, {out})"
            return out
        if tag != "apply":
            self.refuse(f"the MathML element <{tag}> in {what}")
        kids = list(el)
        op, args = kids[0], kids[1:]
        otag = _local(op.tag)
        if otag == "ci":  # a call of a function definition: inline it
            name = (op.text or "").strip()
            if name not in self.funcs:
                self.refuse(f"call of undefined function {name!r} in {what}")
            params, body = self.funcs[name]
            if len(params) != len(args):
                raise SBMLError(f"{self.where}: function {name!r} takes {len(params)} arguments, given {len(args)}")
            bound = {p: self._m(a, rename, what) for p, a in zip(params, args)}
            return "(" + self._m(body, bound, f"function {name}") + ")"
        if otag == "csymbol" and op.get("definitionURL", "").endswith("/delay"):
            self.refuse("a delay in " + what)
        quals = {_local(a.tag): a for a in args if _local(a.tag) in ("degree", "logbase")}
        args = [a for a in args if _local(a.tag) not in ("degree", "logbase", "bvar")]
        sub = [self._m(a, rename, what) for a in args]
        if otag == "plus":
            return "(" + " + ".join(sub) + ")" if sub else "0"
        if otag == "times":
            return "(" + " * ".join(sub) + ")" if sub else "1"
        if otag == "minus":
            return f"(-{sub[0]})" if len(sub) == 1 else f"({sub[0]} - {sub[1]})"
        if otag == "divide":
            return f"({sub[0]} / {sub[1]})"
        if otag == "power":
            return f"({sub[0]} ^ {sub[1]})"
        simple = {"exp": "exp", "ln": "ln", "abs": "abs", "floor": "floor", "ceiling": "ceil",
                  "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
                  "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
                  "arccosh": "acosh", "arctanh": "atanh"}
        if otag in simple:
            return f"{simple[otag]}({sub[0]})"
        if otag in ("min", "max") and sub:
            return f"{otag}({', '.join(sub)})"
        if otag == "root":
            degree = self._m(list(quals["degree"])[0], rename, what) if "degree" in quals else "2"
            return f"sqrt({sub[0]})" if degree in ("2", "2.0") else f"({sub[0]} ^ (1/{degree}))"
        if otag == "log":
            base = self._m(list(quals["logbase"])[0], rename, what) if "logbase" in quals else "10"
            return f"log10({sub[0]})" if base in ("10", "10.0") else f"(ln({sub[0]}) / ln({base}))"
        rel = {"eq": "==", "neq": "!=", "lt": "<", "leq": "<=", "gt": ">", "geq": ">="}
        if otag in rel:
            return "(" + " and ".join(f"({a} {rel[otag]} {b})" for a, b in zip(sub, sub[1:])) + ")"
        if otag == "and":
            return "(" + " and ".join(sub) + ")"
        if otag == "or":
            return "(" + " or ".join(sub) + ")"
        if otag == "not":
            return f"(not {sub[0]})"
        self.refuse(f"the MathML operator <{otag}> in {what}")

    # ---------------------------------------------------------------- model
    def read(self) -> Network:
        m, doc = self.model, self.doc
        for i in range(doc.getNumPlugins()):
            plugin = doc.getPlugin(i)
            pkg = plugin.getPackageName() if plugin is not None else ""
            if pkg not in ("", "core", "l3v2extendedmath") and doc.getLevel() >= 3 and doc.getPackageRequired(pkg):
                self.refuse(f"the SBML package {pkg!r} (required by this file)")
            # optional packages (layout, render) do not change the model's meaning: not read
        for i in range(m.getNumFunctionDefinitions()):
            fd = m.getFunctionDefinition(i)
            lam = [e for e in _mathml(fd.getMath()) if _local(e.tag) == "lambda"]
            if fd.getMath() is None or not lam:
                raise SBMLError(f"{self.where}: function definition {fd.getId()!r} has no lambda")
            parts = list(lam[0])
            params = [(list(b)[0].text or "").strip() for b in parts if _local(b.tag) == "bvar"]
            self.funcs[fd.getId()] = (params, parts[-1])
        for i in range(m.getNumRules()):
            r = m.getRule(i)
            if r.isAlgebraic():
                self.refuse("an algebraic rule")
            if r.isRate():
                self.refuse("a rate rule", r.getVariable())
        udefs = []
        self.decorate(("model",), m)
        for i in range(m.getNumUnitDefinitions()):
            ud = m.getUnitDefinition(i)
            self.decorate(("unit", ud.getId()), ud)
            udefs.append((ud.getId(), ud.getName(), tuple(
                (libsbml.UnitKind_toString(u.getKind()), u.getExponentAsDouble(), u.getScale(), u.getMultiplier())
                for u in (ud.getUnit(k) for k in range(ud.getNumUnits())))))
        model_units = tuple((attr, getattr(m, "get" + attr)()) for attr in
                            ("SubstanceUnits", "TimeUnits", "VolumeUnits", "AreaUnits", "LengthUnits", "ExtentUnits")
                            if getattr(m, "isSet" + attr)())
        # compartments
        comps, comp_units, sizes = [], {}, {}
        for i in range(m.getNumCompartments()):
            c = m.getCompartment(i)
            self.decorate(("compartment", c.getId()), c)
            dim = c.getSpatialDimensions() if c.isSetSpatialDimensions() else 3
            if dim not in (1, 2, 3):
                self.refuse(f"a {dim:g}-dimensional compartment", c.getId())
            size = c.getSize() if c.isSetSize() else 1.0
            sizes[c.getId()] = size
            comp_units[c.getId()] = c.getUnits() if c.isSetUnits() else ""
            comps.append(Compartment(c.getId(), int(dim), Expr.parse(size), None, None, None, c.getName(), None))
        # parameters (global, then local renamed)
        params, punits, pconst, values = [], {}, {}, {}
        for i in range(m.getNumParameters()):
            p = m.getParameter(i)
            self.decorate(("parameter", p.getId()), p)
            v = p.getValue() if p.isSetValue() else float("nan")
            values[p.getId()] = v
            punits[p.getId()] = p.getUnits() if p.isSetUnits() else ""
            pconst[p.getId()] = p.getConstant()
            params.append(Parameter(p.getId(), Expr.parse(v if math.isfinite(v) else 0.0), None, None, p.getName(), None))
        taken = set(values) | set(sizes)
        taken |= {m.getSpecies(i).getId() for i in range(m.getNumSpecies())}
        taken |= {m.getReaction(i).getId() for i in range(m.getNumReactions())}
        # species
        species, sindex, sunits = [], {}, {}
        for i in range(m.getNumSpecies()):
            s = m.getSpecies(i)
            sid = s.getId()
            self.decorate(("species", sid), s)
            if s.isSetInitialAmount():
                init, conc = Expr.parse(s.getInitialAmount()), False
            elif s.isSetInitialConcentration():
                init, conc = Expr.parse(s.getInitialConcentration()), True
            else:
                init, conc = None, False
            sindex[sid] = i
            sunits[sid] = s.getSubstanceUnits() if s.isSetSubstanceUnits() else ""
            species.append(NetSpecies(i, sid, init, s.getBoundaryCondition(), s.getCompartment(), (),
                                      None, sid, s.getName(), conc, s.getHasOnlySubstanceUnits(), s.getConstant()))
        # rules (before the reactions: a mass-action constant may read rules of constants)
        rules = self.maths((m.getRule(k) for k in range(m.getNumRules())), "rule", "the assignment rule for")
        rule_vars = {v for v, _ in rules}
        static_vars = _static_rule_variables(m, rules)
        # reactions
        reactions, modifiers = [], {}
        for i in range(m.getNumReactions()):
            r = m.getReaction(i)
            rid = r.getId()
            self.decorate(("reaction", rid), r)
            modifiers[rid] = tuple(r.getModifier(k).getSpecies() for k in range(r.getNumModifiers()))
            if r.isSetFast() and r.getFast():
                self.refuse("a fast reaction", rid)
            sides = []
            for refs in (r.getListOfReactants(), r.getListOfProducts()):
                side = []
                for ref in refs:
                    if ref.isSetId() and (m.getRule(ref.getId()) is not None or
                                          any(m.getInitialAssignment(k).getSymbol() == ref.getId()
                                              for k in range(m.getNumInitialAssignments()))):
                        self.refuse("a variable stoichiometry", rid)
                    st = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                    if not float(st).is_integer() or st < 0:
                        self.refuse(f"the non-integer stoichiometry {st:g}", rid)
                    side.extend([sindex[ref.getSpecies()]] * int(st))
                sides.append(tuple(side))
            kl = r.getKineticLaw()
            if kl is None or kl.getMath() is None:
                raise SBMLError(f"{self.where}: reaction {rid!r} has no kinetic law; il2sbml needs one to simulate it")
            rename = {}
            # L3 local parameters, or L2 kinetic-law parameters: renamed <reaction>_<id>, unique
            local = [kl.getLocalParameter(k) for k in range(kl.getNumLocalParameters())] or \
                [kl.getParameter(k) for k in range(kl.getNumParameters())]
            for lp in local:
                new = f"{rid}_{lp.getId()}"
                while new in taken:
                    new += "_"
                taken.add(new)
                rename[lp.getId()] = new
                values[new] = lp.getValue()
                punits[new] = lp.getUnits() if lp.isSetUnits() else ""
                pconst[new] = True
                params.append(Parameter(new, Expr.parse(lp.getValue()), None, None,
                                        f"local parameter {lp.getId()} of reaction {rid}", None))
            law = self.expr(kl.getMath(), rename, f"the kinetic law of reaction {rid}")
            self.decorate(("kinetic", rid), kl)
            self.keep_math(("kinetic", rid), kl.getMath(), rename)
            constant = _mass_action_constant(law, sides[0], species, rule_vars - set(static_vars))
            reactions.append(NetReaction(i, sides[0], sides[1], constant or Expr.parse(1), 1.0, 1.0, Expr.parse(1),
                                         False, rid, (rid,), None, law, r.getReversible(), rid, constant is not None))
        # initial assignments, events
        ias = self.maths((m.getInitialAssignment(k) for k in range(m.getNumInitialAssignments())), "ia",
                         "the initial assignment to")
        events = []
        for k in range(m.getNumEvents()):
            ev = m.getEvent(k)
            eid = ev.getId() if ev.isSetId() else f"event_{k + 1}"
            if ev.isSetDelay():
                self.refuse("an event delay", eid)
            if ev.isSetPriority():
                self.refuse("an event priority", eid)
            trig = ev.getTrigger()
            self.decorate(("event", eid), ev)
            self.keep_math(("trigger", eid), trig.getMath())
            for j in range(ev.getNumEventAssignments()):
                ea = ev.getEventAssignment(j)
                self.keep_math(("ea", eid, ea.getVariable()), ea.getMath())
            assigns = tuple((a.getVariable(), self.expr(a.getMath(), None, f"an assignment of event {eid}"))
                            for a in (ev.getEventAssignment(j) for j in range(ev.getNumEventAssignments())))
            events.append(NetEvent(eid, self.expr(trig.getMath(), None, f"the trigger of event {eid}"),
                                   trig.getInitialValue() if trig.isSetInitialValue() else True,
                                   trig.getPersistent() if trig.isSetPersistent() else True,
                                   ev.getUseValuesFromTriggerTime() if ev.isSetUseValuesFromTriggerTime() else True,
                                   assigns))
        extras = SBMLExtras(m.getId(), m.getName(), doc.getLevel(), doc.getVersion(), model_units, tuple(udefs),
                            comp_units, punits, pconst, ias, rules, tuple(events), sunits, self.decor,
                            self.mathml, modifiers,
                            tuple(sorted(((v, e) for v, e in rules if v in static_vars),
                                         key=lambda ve: static_vars.index(ve[0]))))
        info = ModelInfo(m.getId() or "model", "", self.where if self.where != "SBML string" else None,
                         tuple(params), tuple(comps))
        net = Network(m.getId() or "model", species, reactions, (), (), values, sizes,
                      {"iterations": 0, "seconds": 0.0, "truncated": False}, None, info)
        net.sbml = extras
        return net

