"""SBML writer and validator for the frozen :class:`~il2sbml.generate.network.Network`.

Conventions of the written file (SBML Level 3 Version 2 by default, Version 1 on request):

* **Amounts, not concentrations.** Every species has ``hasOnlySubstanceUnits="true"`` and an
  amount in ``item`` (molecules per cell). A species symbol in a kinetic law is therefore an
  amount, the kinetic law is the deterministic flux in ``item/second``, and the same file
  means the same in COPASI, libRoadRunner and our SSA kernels (whose propensity is the
  law with falling factorials). Model ``substanceUnits`` and ``extentUnits`` are ``item``,
  ``timeUnits`` ``second``.
* **Volume factors written out.** The kinetic law of reaction *i* is
  ``stat_factor * rate * conv * volume_factor * x_1 * ... * x_n``: ``rate`` is the rule's
  rate expression over the model's own parameters (in their declared units), ``volume_factor``
  an expression of compartment sizes (``1/EC`` for a bimolecular reaction in ``EC``),
  and ``conv`` a named constant carrying the unit conversion (``1/(M*s)`` and ``mL`` to
  ``item`` and ``second``; ``1/min`` to ``1/s``), whose units are exactly the quotient
  needed, so the unit check passes and the numbers are right. Changing a parameter or a
  compartment size changes the rate.
* **Parameters** keep their declared units (unit definitions built from the unit strings);
  parameters defined by expressions get initial assignments, so changing an input and
  resetting a simulator propagates. Parameters of unitless models are ``dimensionless``.
* **Ids.** A model name is its SBML id where it can be: a name that SBML's infix syntax reads
  as something else (``pi``, ``exponentiale``, ``time``, ``inf``, ``nan``, ``true`` ... in any
  case; a BNGL parameter may be called ``pi``) gets a safe id (``pi_``) and keeps the
  original as the element's ``name`` (observables, functions, compartments, and parameters
  without documentation; a documented parameter's ``name`` stays unset, as in the committed
  IL-2 files, whose ``avogadro`` is written ``avogadro_`` and must not change by a byte).
* **Dimension-free rates** (BNGL, or DSL models without units): observables in a rate are
  counts divided by one ``item``, so ``k3/(K4 + G)`` adds dimensionless numbers and the
  law's unit check passes, with the same values.
* **Rate laws.** ``MM(kcat, Km)`` and ``Sat(kcat, K1, ...)`` reactions get BioNetGen's laws
  (:mod:`il2sbml.lang.rules`) written out on their reactant species, with ``Km`` counted in
  ``item``: ``kcat*E*Sf/(Km + Sf)``, ``Sf = (b + sqrt(b^2 + 4*Km*S))/2``, ``b = S - Km - E``.
* **Observables** are parameters with assignment rules (``item``), named as in the model;
  global functions likewise. Species that a functional rate reads are declared modifiers.
* **Annotations.** MIRIAM ``bqbiol:is`` (monomers) and ``bqbiol:hasPart`` (complexes) terms
  from the molecule types' UniProt/ChEBI identifiers; SBO terms on compartments, species,
  reactions and parameters; the generating rule(s) in each reaction's notes; model history
  with the model's fixed creation date so that the output is byte-for-byte reproducible.
* **Reaction order.** Reaction *i* of the network has the id ``r<i+1>``. Reactions are listed
  in network order; networks of :data:`COVER_FIRST_REACTIONS` reactions or more list first
  the reactions that bring in a species no earlier one has (libSBML's unit check scans the
  reactions for each species; see :func:`write_sbml`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import libsbml

from ..generate.network import Network
from ..lang.errors import Il2sbmlError
from ..lang.expr import Expr
from ..lang.units import DIMENSIONLESS, MOLECULE, SECOND, Unit
from ..lang.units import LITRE as LITRE_UNIT

SBO = {"compartment": 290, "monomer": 252, "complex": 253, "chemical": 247, "reaction": 176,
       "parameter": 2, "kinetic": 9, "observable": 2, "conversion": 2}
AREA_UNIT = Unit(1.0, length=2, terms=(("metre", 1.0, 2),))
_RESERVED = {"pi", "exponentiale", "true", "false", "notanumber", "nan", "infinity", "inf", "time",
             "avogadro", "delay", "rateof", "e"}
_KIND = {"second": libsbml.UNIT_KIND_SECOND, "item": libsbml.UNIT_KIND_ITEM, "mole": libsbml.UNIT_KIND_MOLE,
         "litre": libsbml.UNIT_KIND_LITRE, "metre": libsbml.UNIT_KIND_METRE}


class SBMLError(Il2sbmlError):
    """An SBML file could not be written, read or validated."""


@dataclass(frozen=True)
class Problem:
    severity: str      # "error" or "warning"
    category: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.severity} ({self.category}): {self.message}"


def _check(code, what):
    if code is not None and isinstance(code, int) and code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLError(f"libSBML refused {what}: {libsbml.OperationReturnValue_toString(code)}")


def _num(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(float(x))


class _Writer:
    def __init__(self, net: Network, level: int, version: int, cover_first: bool = False):
        self.net = net
        self.cover_first = cover_first
        self.info = net.info
        self.doc = libsbml.SBMLDocument(level, version)
        self.model = self.doc.createModel()
        self.ids: set = set()
        self.unit_ids: dict = {}
        self.conv_ids: dict = {}
        self.funcs = {f.name for f in self.info.functions}
        self.obs = {o.name for o in net.observables}
        self.rule_notes: dict = {}

    # ------------------------------------------------------------- ids and units
    def new_id(self, wanted: str) -> str:
        sid = re.sub(r"[^A-Za-z0-9_]", "_", wanted)
        if not re.match(r"[A-Za-z_]", sid):
            sid = "_" + sid
        if sid.lower() in _RESERVED:
            sid += "_"
        base, k = sid, 1
        while sid in self.ids:
            k += 1
            sid = f"{base}_{k}"
        self.ids.add(sid)
        return sid

    def unit_id(self, unit: Unit | None, name: str | None = None) -> str:
        if unit is None or not unit.terms:
            return "dimensionless"
        key = unit.terms
        if key in self.unit_ids:
            return self.unit_ids[key]
        if len(key) == 1 and key[0][1] == 1.0 and key[0][2] == 1:
            self.unit_ids[key] = key[0][0]
            return key[0][0]
        parts = []
        for kind, mult, exp in key:
            p = kind if mult == 1.0 else f"{kind}_x{_num(mult).replace('.', 'p').replace('-', 'm').replace('+', '')}"
            parts.append(p if exp == 1 else f"{p}_pow{exp}".replace("-", "m"))
        uid = self.new_id("u_" + "_".join(parts))
        ud = self.model.createUnitDefinition()
        ud.setId(uid)
        if name:
            ud.setName(name)
        for kind, mult, exp in key:
            u = ud.createUnit()
            u.setKind(_KIND[kind])
            u.setExponent(exp)
            u.setScale(0)
            u.setMultiplier(mult)
        self.unit_ids[key] = uid
        return uid

    # ------------------------------------------------------------- math
    def formula(self, expr: Expr, names: dict) -> str:
        """An SBML L3 infix formula from an expression, renaming ids through ``names``."""
        return _infix(expr.tree, names, self.funcs)

    def math(self, formula: str, what: str):
        settings = libsbml.L3ParserSettings()
        settings.setParseUnits(True)
        settings.setParseAvogadroCsymbol(False)
        settings.setParseCollapseMinus(True)
        ast_node = libsbml.parseL3FormulaWithSettings(formula, settings)
        if ast_node is None:
            raise SBMLError(f"cannot express {what} in SBML: {formula!r}: {libsbml.getLastParseL3Error()}")
        return ast_node

    def unit_of(self, name):
        for p in self.info.parameters:
            if p.name == name:
                return p.unit
        for c in self.info.compartments:
            if c.name == name:
                return self.comp_units.get(c.name, c.unit)
        return None

    def assign_formula(self, expr: Expr, needed: Unit, what: str) -> str:
        """A formula for ``expr`` in the units ``needed``: as is when its units are those; with a
        declared unit on a unitless expression; else times a conversion constant."""
        from ..lang.dsl import expression_unit

        formula = self.formula(expr, self.names)
        funcs = {f.name: f.unit for f in self.info.functions}
        have = expression_unit(expr, self.unit_of, self.obs, funcs) if expr.names else None
        if have is None or have == "mixed":
            if not needed.terms:
                return formula
            return f"({formula}) * (1 {self.unit_id(needed)})"
        if have.terms == needed.terms:
            return formula
        value = have.scale / needed.scale
        return f"({formula}) * {self._conv(needed, have, value)}"

    def set_sbo(self, el, term):
        el.setSBOTerm(int(term))

    # ------------------------------------------------------------- sections
    def write(self) -> str:
        net, info, m = self.net, self.info, self.model
        mid = self.new_id(net.model_name)
        m.setId(mid)
        m.setName(net.model_name)
        m.setMetaId(f"meta_{mid}")
        _check(m.setSubstanceUnits("item"), "substanceUnits")
        _check(m.setTimeUnits("second"), "timeUnits")
        _check(m.setExtentUnits("item"), "extentUnits")
        m.setVolumeUnits("litre")
        m.setAreaUnits(self.unit_id(AREA_UNIT))
        m.setLengthUnits("metre")
        if info.doc:
            m.setNotes(_notes(info.doc))
        self._history(m, mid)
        # names of model quantities are kept as SBML ids where free
        self.names: dict = {}
        for p in info.parameters:
            self.names[p.name] = self.new_id(p.name)
        for c in info.compartments:
            self.names[c.name] = self.new_id(c.name)
        for o in net.observables:
            self.names[o.name] = self.new_id(o.name)
        for f in info.functions:
            self.names[f.name] = self.new_id(f.name)
        self._compartments()
        self._parameters()
        self._species()
        self._observables_and_functions()
        taken = " ".join([*self.ids, *{name for r in net.reactions for name in r.rules}])
        self.slot_base, k = "zslot", 0
        while self.slot_base in taken:   # placeholder ids found nowhere else in the text
            k += 1
            self.slot_base = f"zslot{k}"
        self._reactions()
        return self._fill(libsbml.writeSBMLToString(self.doc))

    def _fill(self, text: str) -> str:
        """The written document with each reaction's prototype text (see :meth:`_reactions`)
        filled in with the reaction's ids; in network order, or covering reactions first (see
        :func:`write_sbml`)."""
        if not self.reaction_rows:
            return text
        start = text.index("<listOfReactions>\n") + len("<listOfReactions>\n")
        end = text.rindex("\n", 0, text.index("</listOfReactions>")) + 1
        protos = re.split(r"(?m)^(?= *<reaction )", text[start:end])[1:]
        if len(protos) != self.n_shapes:
            raise SBMLError(f"internal: {len(protos)} reaction prototypes written, {self.n_shapes} made")
        slot = re.compile(re.escape(self.slot_base) + r"_(R|\d+)_")
        templates = []
        for proto in protos:
            t = slot.sub(lambda mt: "{r}" if mt.group(1) == "R" else "{" + mt.group(1) + "}",
                         proto.replace("{", "{{").replace("}", "}}"))
            if self.slot_base in t:
                raise SBMLError("internal: a reaction prototype keeps a placeholder id")
            templates.append(t)
        rows = self.reaction_rows
        if self.cover_first:
            rows = [rows[k] for k in _cover_first_order(self.net.reactions)]
        body = "".join([templates[n].format(*ids, r=rid) for n, rid, ids in rows])
        return text[:start] + body + text[end:]

    def _history(self, m, mid):
        h = libsbml.ModelHistory()
        c = libsbml.ModelCreator()
        c.setFamilyName(self.info.creator)
        c.setGivenName("exported by")
        c.setOrganisation("il2sbml")
        h.addCreator(c)
        d = libsbml.Date(self.info.created)
        h.setCreatedDate(d)
        h.addModifiedDate(d)
        _check(m.setModelHistory(h), "model history")

    def _compartments(self):
        m, info = self.model, self.info
        if not info.compartments:
            cid = self.new_id("cell")
            self.default_compartment = cid
            c = m.createCompartment()
            c.setId(cid)
            c.setName("one cell (default compartment: the model declares none)")
            c.setSpatialDimensions(3)
            c.setSize(1.0)
            c.setUnits("litre")
            c.setConstant(True)
            self.set_sbo(c, SBO["compartment"])
            self.comp_units = {cid: LITRE_UNIT}
            return
        self.default_compartment = None
        self.comp_units = {}
        params = self.net.parameters
        for comp in info.compartments:
            c = m.createCompartment()
            cid = self.names[comp.name]
            c.setId(cid)
            c.setMetaId(f"meta_{cid}")
            if cid != comp.name:
                c.setName(comp.name)
            elif comp.doc:
                c.setName(comp.doc)
            c.setSpatialDimensions(comp.dimension)
            unit = comp.unit if comp.unit is not None else (LITRE_UNIT if comp.dimension == 3 else AREA_UNIT)
            self.comp_units[comp.name] = unit
            c.setUnits(self.unit_id(unit))
            env = dict(params)
            c.setSize(comp.size.evaluate(env))
            c.setConstant(comp.size.is_number())
            self.set_sbo(c, SBO["compartment"])
            if not comp.size.is_number():
                self._derived(cid, self.assign_formula(comp.size, unit, f"the size of {comp.name}"),
                              f"the size of {comp.name}")

    def _parameters(self):
        m = self.model
        for p in self.info.parameters:
            par = m.createParameter()
            pid = self.names[p.name]
            par.setId(pid)
            if pid != p.name and not p.doc:
                par.setName(p.name)
            par.setMetaId(f"meta_{pid}")
            par.setValue(self.net.parameters[p.name])
            par.setConstant(p.expr.is_number())
            par.setUnits(self.unit_id(p.unit, p.units))
            self.set_sbo(par, SBO["parameter"])
            if p.doc:
                par.setNotes(_notes(p.doc + (f" [{p.units}]" if p.units else "")))
            if not p.expr.is_number():
                self._derived(pid, self.assign_formula(p.expr, p.unit or DIMENSIONLESS, p.name), f"parameter {p.name}")

    def _derived(self, sid: str, formula: str, what: str) -> None:
        """A derived parameter or compartment size is an assignment rule, not an initial
        assignment: simulators then follow a changed base parameter after a reset
        (libRoadRunner's ``reset()`` re-evaluates species' initial assignments but not those
        of parameters or compartments, so an initial assignment would go stale silently)."""
        rule = self.model.createAssignmentRule()
        rule.setVariable(sid)
        rule.setMath(self.math(formula, what))

    def _species(self):
        m, net = self.model, self.net
        annotations = {mt.name: mt.annotations for mt in self.info.molecule_types}
        amounts = net.initial_amounts()
        self.species_ids = []
        for s in net.species:
            sid = self.new_id(f"s{s.index + 1}")
            self.species_ids.append(sid)
            sp = m.createSpecies()
            sp.setId(sid)
            sp.setMetaId(f"meta_{sid}")
            sp.setName(s.label)
            comp = self.names.get(s.compartment) if s.compartment else self.default_compartment
            sp.setCompartment(comp)
            sp.setHasOnlySubstanceUnits(True)
            sp.setSubstanceUnits("item")
            sp.setBoundaryCondition(s.fixed)
            sp.setConstant(False)
            sp.setInitialAmount(amounts[s.index])
            if s.initial is not None and not s.initial.is_number():
                ia = m.createInitialAssignment()
                ia.setSymbol(sid)
                ia.setMath(self.math(self.assign_formula(s.initial, MOLECULE, s.label),
                                     f"the initial amount of {s.label}"))
            mols = s.molecules
            resources, parts = [], []
            for t in dict.fromkeys(mols):
                for q, r in annotations.get(t, ()):
                    (resources if q == "bqbiol:is" else parts if q == "bqbiol:hasPart" else []).append(r)
            if len(mols) == 1 and not parts:
                chem = any("CHEBI" in r for r in resources)
                self.set_sbo(sp, SBO["chemical"] if chem else SBO["monomer"])
                self._cv(sp, libsbml.BQB_IS, resources)
            else:
                self.set_sbo(sp, SBO["complex"])
                self._cv(sp, libsbml.BQB_HAS_PART, resources + parts)
        self.species_names = {s.index: self.species_ids[s.index] for s in net.species}

    def _cv(self, el, qualifier, resources):
        if not resources:
            return
        cv = libsbml.CVTerm(libsbml.BIOLOGICAL_QUALIFIER)
        cv.setBiologicalQualifierType(qualifier)
        for r in dict.fromkeys(resources):
            cv.addResource(r)
        _check(el.addCVTerm(cv), "a MIRIAM annotation")

    def _observables_and_functions(self):
        m, net = self.model, self.net
        for o in net.observables:
            oid = self.names[o.name]
            par = m.createParameter()
            par.setId(oid)
            par.setName(o.name)
            par.setNotes(_notes(f"Observable: {o.kind} matching "
                                + ", ".join(next(ob.texts for ob in self.info.observables if ob.name == o.name))
                                if any(ob.name == o.name for ob in self.info.observables) else f"Observable ({o.kind})"))
            par.setConstant(False)
            par.setUnits("item")
            par.setValue(0.0)
            self.set_sbo(par, SBO["observable"])
            terms = [f"{self.species_ids[i]}" if w == 1 else f"({_num(w)} dimensionless) * {self.species_ids[i]}"
                     for i, w in o.weights]
            rule = m.createAssignmentRule()
            rule.setVariable(oid)
            rule.setMath(self.math(" + ".join(terms) if terms else "0 item", f"observable {o.name}"))
        for f in self.info.functions:
            fid = self.names[f.name]
            par = m.createParameter()
            par.setId(fid)
            par.setName(f.name)
            par.setNotes(_notes(f"Global function {f.name}() = {f.expr.text}"))
            par.setConstant(False)
            par.setValue(0.0)
            par.setUnits(self.unit_id(f.unit, f.units) if f.unit is not None else "dimensionless")
            rule = m.createAssignmentRule()
            rule.setVariable(fid)
            formula = self.formula(f.expr, self.names)
            if f.unit is None:
                # a function of counts in a unitless model: declare the result dimensionless
                formula = self._strip_units_formula(f.expr)
            rule.setMath(self.math(formula, f"function {f.name}"))

    def _strip_units_formula(self, expr: Expr) -> str:
        """Formula where observables (item) are divided by one item: a dimensionless function."""
        names = dict(self.names)
        for o in self.obs:
            names[o] = f"({self.names[o]} / (1 item))"
        return self.formula(expr, names)

    def _conv(self, unit_needed: Unit, unit_have: Unit, value: float) -> str:
        q = unit_needed / unit_have
        key = (q.terms, value)
        if key not in self.conv_ids:
            cid = self.new_id(f"conv_{len(self.conv_ids) + 1}")
            par = self.model.createParameter()
            par.setId(cid)
            par.setName("unit conversion of rate constants to molecules per cell and seconds")
            par.setValue(value)
            par.setConstant(True)
            par.setUnits(self.unit_id(q))
            self.set_sbo(par, SBO["conversion"])
            self.conv_ids[key] = cid
        return self.conv_ids[key]

    def _law_conv(self, unit_needed: Unit, unit_have: Unit, value: float) -> str | None:
        """The conversion factor in a kinetic law: none when units and value already agree; a
        number with units, ``(1 unit)``, when only the units differ; else a named constant.

        Fewer names in kinetic laws matter on large networks: libSBML's general consistency
        check (AssignmentCycles) looks every name of every kinetic law up among all reactions,
        a scan, so its cost grows as reactions x names per law (measured in benchmarks/sbml.py)."""
        if value == 1.0:
            q = unit_needed / unit_have
            return f"(1 {self.unit_id(q)})" if q.terms else None
        return self._conv(unit_needed, unit_have, value)

    def _reactions(self):
        """The reactions, written as text from one libSBML-made prototype per *shape*.

        Most reactions of a large network differ from many others only in their ids (their
        rule(s), stoichiometries, modifiers and law formula are shared), and building every
        reaction through libSBML's Python bindings is most of the writer's time. So each
        reaction's shape (those parts, with its species ids replaced by slots) is built once in
        the document, with placeholder ids; the document is written by libSBML, and every
        reaction is its shape's text with its own ids filled in, which is the same text
        libSBML writes for it (tested: byte for byte). See :meth:`write`."""
        net = self.net
        declared_sizes = {c.name: c.size.evaluate(net.parameters) for c in self.info.compartments}
        func_units = {f.name: f.unit for f in self.info.functions}
        from ..lang.dsl import expression_unit
        law_parts: dict = {}
        shapes: dict = {}       # shape -> its number (prototype order)
        rows = []               # per reaction: (shape number, reaction id, slot species ids)
        sids = self.species_ids
        for r in net.reactions:
            rid = self.new_id(f"r{r.index + 1}")
            # units of rate * volume factor, and the conversion to item/second: the same for every
            # reaction of one rule and volume factor, so computed once per such combination
            order = len(r.reactants)
            law_kind = r.rate_law
            key = (r.rate.text, r.volume_factor.text, order, r.unit_factor)
            rate_part = law_parts.get(key) if law_kind is None else None
            if law_kind is not None:
                rate_part, law_unit = self._rate_law(r, law_kind)
            if rate_part is None or law_kind is not None:
                if law_kind is not None:
                    rate_unit = law_unit
                elif r.rate_unit is None:
                    rate_unit = DIMENSIONLESS   # dimension-free: observables counted per item
                else:
                    rate_unit = expression_unit(r.rate, self.unit_of, self.obs, func_units, formal=True)
                vf_unit = DIMENSIONLESS
                for name, power in _volume_powers(r.volume_factor):
                    vf_unit = vf_unit * self.comp_units[name] ** power
                # a rate constant is multiplied by the reactants' amounts; a rate law holds them
                needed = MOLECULE / SECOND if law_kind is not None else MOLECULE ** (1 - order) / SECOND
                v_base = r.volume_factor.evaluate(net.compartment_sizes)
                v_decl = r.volume_factor.evaluate(declared_sizes) if declared_sizes else v_base
                value = r.unit_factor * (v_base / v_decl)
                if law_kind is not None:
                    rate_part = [rate_part]
                elif r.rate_unit is None:
                    rate_part = [self._strip_units_formula(r.rate)]
                else:
                    rate_part = [self.formula(r.rate, self.names)]
                conv = self._law_conv(needed, rate_unit * vf_unit, value)
                if conv:
                    rate_part.append(conv)
                if r.volume_factor.text != "1":
                    rate_part.append(self.formula(r.volume_factor, self.names))
                rate_part = " * ".join(rate_part)
                if law_kind is None:
                    law_parts[key] = rate_part
            slots: dict = {}    # species index -> slot number, in order of first use
            reactants = tuple((slots.setdefault(i, len(slots)), n) for i, n in sorted(_counts(r.reactants).items()))
            products = tuple((slots.setdefault(i, len(slots)), n) for i, n in sorted(_counts(r.products).items()))
            modifiers = tuple(slots.setdefault(i, len(slots)) for i in sorted(self._modifiers(r))
                              if i not in r.reactants and i not in r.products)
            if law_kind is not None:
                # the law names its species by role (position): fill in their slots' placeholders
                rate_part = rate_part.format(*(f"{self.slot_base}_{slots[i]}_" for i in r.reactants))
                law = ()
            else:
                law = tuple(slots.setdefault(i, len(slots)) for i in r.reactants)
            shape = (r.rules, reactants, products, modifiers, r.stat_factor, rate_part, law)
            number = shapes.get(shape)
            if number is None:
                number = shapes[shape] = len(shapes)
                self._prototype(r, shape, len(slots))
            rows.append((number, rid, [sids[i] for i in slots]))
        self.reaction_rows = rows
        self.n_shapes = len(shapes)

    def _rate_law(self, r, law_kind) -> tuple[str, Unit]:
        """An ``MM()`` or ``Sat()`` law as a formula template (``{k}`` for the k-th reactant's
        species) and its unit; constants are dimensionless numbers (the model has no units), a
        saturation constant is a count (``Km * (1 item)``)."""
        name, args = law_kind
        k = [self.formula(a, self.names) for a in args]
        item = "(1 item)"
        if name == "MM":
            s, e = "{0}", "{1}"
            km = f"({k[1]} * {item})"
            b = f"({s} - {km} - {e})"
            free = f"((0.5 dimensionless) * ({b} + sqrt(({b} ^ 2) + (4 dimensionless) * {km} * {s})))"
            return f"{k[0]} * {e} * {free} / ({km} + {free})", MOLECULE
        n = len(r.reactants)
        num = " * ".join([k[0], *(f"{{{i}}}" for i in range(n))])
        den = " * ".join(f"(({k[j]} * {item}) + {{{j - 1}}})" for j in range(1, len(k)))
        return f"({num}) / ({den})", MOLECULE ** (n - (len(k) - 1))

    def _prototype(self, r, shape, n_slots):
        """One reaction of ``shape`` in the document, with placeholder ids (``<base>_R_`` for the
        reaction, ``<base>_<k>_`` for the species of slot k)."""
        rules, reactants, products, modifiers, stat_factor, rate_part, law = shape
        m = self.model
        slot = [f"{self.slot_base}_{k}_" for k in range(n_slots)]
        rid = f"{self.slot_base}_R_"
        rx = m.createReaction()
        rx.setId(rid)
        rx.setMetaId(f"meta_{rid}")
        rx.setReversible(False)
        if self.doc.getVersion() == 1:
            rx.setFast(False)
        self.set_sbo(rx, SBO["reaction"])
        notes = self.rule_notes.get(rules)
        if notes is None:  # one parsed XHTML node per rule set, copied into each prototype
            notes = self.rule_notes[rules] = libsbml.XMLNode.convertStringToXMLNode(_notes(
                f"Generated by rule{'s' if len(rules) > 1 else ''} " + ", ".join(rules) + "."))
        rx.setNotes(notes)
        for create, refs in ((rx.createReactant, reactants), (rx.createProduct, products)):
            for k, n in refs:
                ref = create()
                ref.setSpecies(slot[k])
                ref.setStoichiometry(n)
                ref.setConstant(True)
        for k in modifiers:
            mod = rx.createModifier()
            mod.setSpecies(slot[k])
        parts = [f"({_num(stat_factor)} dimensionless)"] if stat_factor != 1.0 else []
        parts.append(rate_part)
        parts.extend(slot[k] for k in law)
        kl = rx.createKineticLaw()
        kl.setMath(self.math(" * ".join(parts), f"the rate of reaction {r.index + 1}"))

    def _modifiers(self, r) -> set:
        """Species whose amounts a functional rate reads (through observables and functions)."""
        if not r.functional:
            return set()
        fexpr = {f.name: f.expr for f in self.info.functions}
        names, calls = set(r.rate.names), set(r.rate.calls)
        seen = set()
        while calls - seen:
            f = (calls - seen).pop()
            seen.add(f)
            if f in fexpr:
                names |= fexpr[f].names
                calls |= fexpr[f].calls
        out = set()
        for o in self.net.observables:
            if o.name in names:
                out.update(i for i, _ in o.weights)
        return out


def _infix(node, names: dict, funcs: set) -> str:
    """An SBML L3 infix formula for an expression tree; ids renamed through ``names``;
    calls of the model's global functions ``f()`` become references to their parameters."""
    if isinstance(node, ast.Constant):
        return f"({_num(node.value)} dimensionless)" if not isinstance(node.value, bool) else str(node.value).lower()
    if isinstance(node, ast.Name):
        if node.id == "_pi":
            return "pi"
        if node.id == "_e":
            # e as exp(1): libSBML's unit check cannot check <exponentiale/> (it warns) but can exp(1)
            return "exp(1 dimensionless)"
        return names.get(node.id, node.id)
    if isinstance(node, ast.BinOp):
        op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "^"}[type(node.op)]
        if op == "^" and isinstance(node.right, ast.Constant):
            return f"({_infix(node.left, names, funcs)} ^ {_num(node.right.value)})"
        return f"({_infix(node.left, names, funcs)} {op} {_infix(node.right, names, funcs)})"
    if isinstance(node, ast.UnaryOp):
        inner = _infix(node.operand, names, funcs)
        return f"(-{inner})" if isinstance(node.op, ast.USub) else (f"(!{inner})" if isinstance(node.op, ast.Not) else inner)
    if isinstance(node, ast.Compare):
        ops = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
        parts = []
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            parts.append(f"({_infix(left, names, funcs)} {ops[type(op)]} {_infix(right, names, funcs)})")
            left = right
        return "(" + " && ".join(parts) + ")"
    if isinstance(node, ast.BoolOp):
        op = " && " if isinstance(node.op, ast.And) else " || "
        return "(" + op.join(_infix(v, names, funcs) for v in node.values) + ")"
    if isinstance(node, ast.Call):
        name = node.func.id
        if name in funcs and not node.args:
            return names.get(name, name)
        args = [_infix(a, names, funcs) for a in node.args]
        if name == "_if":
            return f"piecewise({args[1]}, {args[0]}, {args[2]})"
        if name == "rint":      # BioNetGen's rint rounds half up
            return f"floor({args[0]} + (0.5 dimensionless))"
        if name == "sum":
            return "(" + " + ".join(args) + ")"
        if name == "avg":
            return "((" + " + ".join(args) + f") / ({len(args)} dimensionless))"
        if name == "log2":
            return f"log(2 dimensionless, {args[0]})"
        fn = {"ln": "ln", "log": "ln", "log10": "log10", "exp": "exp", "sqrt": "sqrt", "abs": "abs",
              "min": "min", "max": "max", "sin": "sin", "cos": "cos", "tan": "tan", "floor": "floor",
              "ceil": "ceil", "pow": "pow", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
              "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh", "acosh": "arccosh",
              "atanh": "arctanh"}.get(name)
        if fn is None:
            raise SBMLError(f"function {name!r} cannot be written to SBML")
        if fn == "log10":
            return f"log(10 dimensionless, {args[0]})"
        if fn == "pow":
            return f"({args[0]} ^ {args[1]})"
        return f"{fn}({', '.join(args)})"
    raise SBMLError(f"cannot write {ast.unparse(node)!r} to SBML")


def _counts(idxs):
    out: dict = {}
    for i in idxs:
        out[i] = out.get(i, 0) + 1
    return out


def _volume_powers(vf: Expr):
    """``1/EC`` -> [(EC, -1)], ``EC`` -> [(EC, 1)], ``1/EC^2`` -> [(EC, -2)],
    ``1/(EC*PM)`` -> [(EC, -1), (PM, -1)] (see :func:`il2sbml.generate.netgen.volume_divisor`)."""
    text = vf.text.replace(" ", "")
    if text == "1":
        return []
    m = re.fullmatch(r"(1/)?([A-Za-z_]\w*)(\^(\d+))?", text)
    if m:
        power = int(m.group(4) or 1)
        return [(m.group(2), -power if m.group(1) else power)]
    m = re.fullmatch(r"1/\(([A-Za-z_]\w*(?:\*[A-Za-z_]\w*)+)\)", text)
    if m:
        counts: dict = {}
        for name in m.group(1).split("*"):
            counts[name] = counts.get(name, 0) + 1
        return [(name, -n) for name, n in counts.items()]
    raise SBMLError(f"unexpected volume factor {vf.text!r}")


def _notes(text: str) -> str:
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<body xmlns="http://www.w3.org/1999/xhtml"><p>{esc}</p></body>'


COVER_FIRST_REACTIONS = 2_000
"""Networks with at least this many reactions are written covering reactions first (see
:func:`write_sbml`)."""


def write_sbml(net: Network, *, level: int = 3, version: int = 2, cover_first: bool | None = None) -> str:
    """The network as an SBML string (Level 3 Version 2 by default). Deterministic.

    Reaction *i* of the network is the reaction with id ``r<i+1>``. The reactions are listed
    in network order, except with ``cover_first`` (default: for networks of
    :data:`COVER_FIRST_REACTIONS` reactions or more): then the reactions that bring in a
    species not in any earlier reaction come first (in network order), the others after them
    (in network order). The model is the same; libSBML's unit check is much faster on it:
    for every species, its constraint 10542 scans the reactions from the first until one has
    the species as reactant or product (``Model::getSpeciesReference``), which costs species x
    reactions / 3 in network order (3.5 s of a 7.5 s check at 11,664 reactions) and almost
    nothing covering reactions first. Whoever needs network order reads the reaction ids.
    (Written back from a network read from SBML, the reactions keep the order they were read in.)
    """
    if (level, version) not in ((3, 1), (3, 2)):
        raise SBMLError(f"SBML Level {level} Version {version} is not written; use L3V2 (default) or L3V1")
    if getattr(net, "sbml", None) is not None:
        return _CoreWriter(net, level, version).write()
    if cover_first is None:
        cover_first = len(net.reactions) >= COVER_FIRST_REACTIONS
    return _Writer(net, level, version, cover_first).write()


def _cover_first_order(reactions) -> list[int]:
    """Positions of the reactions: first those with a reactant or product that no earlier one
    has, then the others, each group in the given order."""
    seen: set = set()
    first, rest = [], []
    for k, r in enumerate(reactions):
        new = [i for i in (*r.reactants, *r.products) if i not in seen]
        if new:
            seen.update(new)
            first.append(k)
        else:
            rest.append(k)
    return first + rest


_CATEGORIES = {
    "general": libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY, "identifier": libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
    "units": libsbml.LIBSBML_CAT_UNITS_CONSISTENCY, "mathml": libsbml.LIBSBML_CAT_MATHML_CONSISTENCY,
    "sbo": libsbml.LIBSBML_CAT_SBO_CONSISTENCY, "overdetermined": libsbml.LIBSBML_CAT_OVERDETERMINED_MODEL,
    "practice": libsbml.LIBSBML_CAT_MODELING_PRACTICE,
}
_HALVES = (("units",), ("general", "identifier", "mathml", "sbo", "overdetermined", "practice"))
"""The consistency categories split in two halves of similar cost on large models (the unit
check and the general check are ~85 % of validation, measured in benchmarks/sbml.py)."""
PARALLEL_BYTES = 4_000_000
"""Documents at least this large are checked in two processes, one half of the categories each."""


def _check_doc(doc, names) -> list[Problem]:
    """Run the named consistency categories on a parsed document; its problems."""
    for name, cat in _CATEGORIES.items():
        doc.setConsistencyChecks(cat, name in names)
    doc.checkConsistency()
    return [_problem(doc.getError(i)) for i in range(doc.getNumErrors())]


_AFTER_UNITS = {libsbml.SBMLError(libsbml.OverdeterminedSystem).getCategoryAsString(),
                libsbml.SBMLError(libsbml.LocalParameterShadowsId).getCategoryAsString()}


_CHILD = """
import json, os, sys
import libsbml
doc = libsbml.readSBMLFromFile(sys.argv[1])
for cat, on in zip(sys.argv[2].split(","), sys.argv[3]):
    doc.setConsistencyChecks(int(cat), on == "1")
doc.checkConsistency()
out = []
for i in range(doc.getNumErrors()):
    e = doc.getError(i)
    out.append(["error" if e.getSeverity() >= libsbml.LIBSBML_SEV_ERROR else "warning",
                e.getCategoryAsString(), e.getLine(), " ".join(e.getMessage().split())])
sys.stdout.buffer.write(json.dumps(out).encode("utf-8"))
sys.stdout.flush()
os._exit(0)
"""
"""The child's check: libSBML alone (importing il2sbml would cost more than the check saves);
its problems are made as :func:`_problem` makes them. It ends with ``os._exit``: freeing the
document (tens of thousands of libSBML objects) would cost it a few tenths of a second."""


class _UnitsChild:
    """The first half of the categories (the unit check) in a child Python process.

    A plain subprocess (not multiprocessing): nothing of the caller's ``__main__`` is re-run,
    so it works from scripts, notebooks and standard input alike. The text goes through a
    temporary file, so the child starts at once, before this process parses the text
    (libSBML keeps the GIL while it checks, so a thread feeding a pipe would wait)."""

    def __init__(self, text: str):
        import os
        import subprocess
        import sys
        import tempfile

        fd, self.path = tempfile.mkstemp(suffix=".xml", prefix="il2sbml-validate-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
            cats = ",".join(str(c) for c in _CATEGORIES.values())
            flags = "".join("1" if name in _HALVES[0] else "0" for name in _CATEGORIES)
            self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, self.path, cats, flags],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except BaseException:
            os.unlink(self.path)
            raise

    def result(self) -> list[Problem]:
        import json

        stdout, stderr = self.proc.communicate()
        if self.proc.returncode != 0:
            raise SBMLError("the unit-consistency check failed in its worker process: "
                            + stderr.decode("utf-8", "replace").strip()[-2000:])
        return [Problem(*row) for row in json.loads(stdout.decode("utf-8"))]

    def close(self) -> None:
        import os

        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        if os.path.exists(self.path):
            os.unlink(self.path)


def _merge_halves(units: list[Problem], here: list[Problem]) -> list[Problem]:
    """libSBML's own gating: the unit check runs only if the structural checks found no error,
    and the overdetermination and modelling-practice checks only if the unit check found none."""
    if any(p.severity == "error" for p in here if p.category not in _AFTER_UNITS):
        return here
    if any(p.severity == "error" for p in units):
        return units + [p for p in here if p.category not in _AFTER_UNITS]
    return units + here


def validate_sbml(text: str, *, parallel: bool | None = None) -> list[Problem]:
    """All libSBML consistency checks, units included: errors and warnings, in file order.

    ``parallel`` (default: for documents of :data:`PARALLEL_BYTES` or more, on a machine with
    more than one core) runs the unit check in a child process while this one runs the others:
    the same problems, in about the time of the slower half. The text is parsed once here
    (the child parses its own copy at the same time). Problems are sorted by line.
    """
    import os

    if parallel is None:
        parallel = len(text) >= PARALLEL_BYTES and (os.cpu_count() or 1) > 1
    child = _UnitsChild(text) if parallel else None
    try:
        doc = libsbml.readSBMLFromString(text)
        problems = [_problem(doc.getError(i)) for i in range(doc.getNumErrors())]
        if any(p.severity == "error" for p in problems):
            return problems
        if child is not None:
            here = _check_doc(doc, _HALVES[1])      # while the child checks units
            del doc                                 # freed while the child still works
            found = _merge_halves(child.result(), here)
        else:
            found = _check_doc(doc, set(_CATEGORIES))
    finally:
        if child is not None:
            child.close()
    for p in found:
        if p not in problems:
            problems.append(p)
    return sorted(problems, key=lambda p: (p.line, p.category, p.message))


def _problem(err) -> Problem:
    sev = "error" if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR else "warning"
    msg = " ".join(err.getMessage().split())
    return Problem(sev, err.getCategoryAsString(), err.getLine(), msg)


class _CoreWriter:
    """Writes a network read from SBML back as SBML: the same elements, units and math."""

    def __init__(self, net: Network, level: int, version: int):
        self.net = net
        self.x = net.sbml
        self.doc = libsbml.SBMLDocument(level, version)
        self.model = self.doc.createModel()

    def decorate(self, el, key) -> None:
        d = (self.x.decorations or {}).get(key)
        if d is None:
            return
        metaid, sbo, notes, ann = d
        if metaid:
            el.setMetaId(metaid)
        if sbo != -1:
            el.setSBOTerm(sbo)
        if notes:
            _check(el.setNotes(notes), f"the notes of {key}")
        if ann:
            _check(el.setAnnotation(ann), f"the annotation of {key}")

    def set_math(self, el, key, expr: Expr, what: str) -> None:
        raw = (self.x.mathml or {}).get(key)
        node = libsbml.readMathMLFromString(raw) if raw else None
        el.setMath(node if node is not None else self.math(expr, what))

    def math(self, expr: Expr, what: str):
        formula = _infix(expr.tree, {"time": "time"}, set())
        settings = libsbml.L3ParserSettings()
        settings.setParseUnits(False)
        settings.setParseAvogadroCsymbol(False)
        node = libsbml.parseL3FormulaWithSettings(formula.replace(" dimensionless)", ")"), settings)
        if node is None:
            raise SBMLError(f"cannot write {what}: {formula!r}: {libsbml.getLastParseL3Error()}")
        _time_csymbols(node)
        return node

    def write(self) -> str:
        net, x, m = self.net, self.x, self.model
        if x.model_id:
            m.setId(x.model_id)
        if x.model_name:
            m.setName(x.model_name)
        self.decorate(m, ("model",))
        for attr, value in x.model_units:
            getattr(m, "set" + attr)(value)
        for uid, name, units in x.unit_definitions:
            ud = m.createUnitDefinition()
            ud.setId(uid)
            if name:
                ud.setName(name)
            self.decorate(ud, ("unit", uid))
            for kind, exp, scale, mult in units:
                u = ud.createUnit()
                u.setKind(libsbml.UnitKind_forName(kind))
                u.setExponent(exp)
                u.setScale(scale)
                u.setMultiplier(mult)
        ruled = {v for v, _ in x.assignment_rules}
        for comp in net.info.compartments:
            c = m.createCompartment()
            c.setId(comp.name)
            self.decorate(c, ("compartment", comp.name))
            if comp.doc:
                c.setName(comp.doc)
            c.setSpatialDimensions(comp.dimension)
            c.setSize(net.compartment_sizes[comp.name])
            if x.compartment_units.get(comp.name):
                c.setUnits(x.compartment_units[comp.name])
            c.setConstant(comp.name not in ruled)
        for s in net.species:
            sp = m.createSpecies()
            sp.setId(s.sbml_id)
            self.decorate(sp, ("species", s.sbml_id))
            if s.name:
                sp.setName(s.name)
            sp.setCompartment(s.compartment)
            if s.initial is not None:
                value = s.initial.evaluate({})
                (sp.setInitialConcentration if s.concentration else sp.setInitialAmount)(value)
            if x.species_units.get(s.sbml_id):
                sp.setSubstanceUnits(x.species_units[s.sbml_id])
            sp.setHasOnlySubstanceUnits(s.amount_in_law)
            sp.setBoundaryCondition(s.fixed)
            sp.setConstant(s.constant)
        for p in net.info.parameters:
            par = m.createParameter()
            par.setId(p.name)
            self.decorate(par, ("parameter", p.name))
            if p.doc:
                par.setName(p.doc)
            par.setValue(net.parameters[p.name])
            if x.parameter_units.get(p.name):
                par.setUnits(x.parameter_units[p.name])
            par.setConstant(x.parameter_constant.get(p.name, True))
        for symbol, expr in x.initial_assignments:
            ia = m.createInitialAssignment()
            ia.setSymbol(symbol)
            self.decorate(ia, ("ia", symbol))
            self.set_math(ia, ("ia", symbol), expr, f"the initial assignment to {symbol}")
        for variable, expr in x.assignment_rules:
            rule = m.createAssignmentRule()
            rule.setVariable(variable)
            self.decorate(rule, ("rule", variable))
            self.set_math(rule, ("rule", variable), expr, f"the assignment rule for {variable}")
        ids = [s.sbml_id for s in net.species]
        for r in net.reactions:
            rx = m.createReaction()
            rx.setId(r.sbml_id)
            self.decorate(rx, ("reaction", r.sbml_id))
            rx.setReversible(r.reversible)
            if self.doc.getVersion() == 1:
                rx.setFast(False)
            for role, idxs in (("reactant", r.reactants), ("product", r.products)):
                for i, n in sorted(_counts(idxs).items()):
                    ref = rx.createReactant() if role == "reactant" else rx.createProduct()
                    ref.setSpecies(ids[i])
                    ref.setStoichiometry(n)
                    ref.setConstant(True)
            if x.modifiers is not None and r.sbml_id in x.modifiers:
                modifiers = x.modifiers[r.sbml_id]
            else:
                modifiers = [sid for i, sid in enumerate(ids)
                             if sid in r.law.names and i not in r.reactants and i not in r.products]
            for sid in modifiers:
                mod = rx.createModifier()
                mod.setSpecies(sid)
            kl = rx.createKineticLaw()
            self.decorate(kl, ("kinetic", r.sbml_id))
            self.set_math(kl, ("kinetic", r.sbml_id), r.law, f"the kinetic law of {r.sbml_id}")
        for ev in x.events:
            e = m.createEvent()
            e.setId(ev.id)
            self.decorate(e, ("event", ev.id))
            e.setUseValuesFromTriggerTime(ev.use_values_from_trigger_time)
            t = e.createTrigger()
            t.setInitialValue(ev.initial_value)
            t.setPersistent(ev.persistent)
            self.set_math(t, ("trigger", ev.id), ev.trigger, f"the trigger of {ev.id}")
            for variable, expr in ev.assignments:
                a = e.createEventAssignment()
                a.setVariable(variable)
                self.set_math(a, ("ea", ev.id, variable), expr, f"an assignment of {ev.id}")
        return libsbml.writeSBMLToString(self.doc)


def _time_csymbols(node) -> None:
    """Turn the name ``time`` into SBML's time csymbol, recursively."""
    if node.isName() and node.getName() == "time":  # not getType(): see sbmlread._m
        node.setType(libsbml.AST_NAME_TIME)
    for i in range(node.getNumChildren()):
        _time_csymbols(node.getChild(i))
