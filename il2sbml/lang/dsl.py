"""The rule-based modelling DSL: an explicit :class:`Model` object.

A model file in ``model_src/`` is a Python file that builds a :class:`Model` and exposes it
as ``model`` (or through a ``build_model()`` function)::

    from il2sbml import Model

    m = Model("dimerisation")
    m.parameter("kf", 1e6, units="1/(M*s)", doc="association rate (assumption)")
    m.parameter("kr", 0.1, units="1/s")
    m.compartment("cyt", dimension=3, size=1e-12, units="L")
    m.molecule_type("A(b,s~U~P)", uniprot="P60568")
    m.seed("A(b,s~U)@cyt", 1000)
    m.rule("dimerise", "A(b) + A(b) <-> A(b!1).A(b!1)", "kf", "kr")
    m.observable("dimers", "A(b!+)", kind="species")
    model = m

Patterns use BNGL syntax (``b!1`` bond, ``b!+`` bound to anything, ``b!?`` bound or not,
``s~P`` state, ``A@cyt`` molecule compartment, ``@cyt::A()`` species compartment, ``0`` for
nothing). Nothing is written into the caller's namespace: every declaration returns an
object and is recorded on the model. Every declaration remembers the file and line it came
from, so errors point at the user's source.

Units: parameters, compartments and functions take an optional ``units`` string (see
:mod:`il2sbml.lang.units`). Where a rule's rate is made of parameters with units, the units are
checked against the rule's molecularity and converted to the network's base (molecules,
seconds); ``Model(require_units=True)`` makes units mandatory. A model with no units at all
is read as BioNetGen reads it: numbers as given, compartment sizes as plain volumes.

Names: the DSL reserves :data:`RESERVED` (``time``, ``t``, ``NA``, ``pi``, ``e``, ``_pi``, ``_e``);
``pi`` in a DSL expression is the constant. A model read from BNGL
(``Model(..., dialect="bngl")``, made by :func:`il2sbml.formats.bngl.read_bngl`) follows
BioNetGen instead: only BioNetGen's built-in function names (:data:`BNGL_BUILTINS`) are
refused as parameter and function names, so ``NA``, ``e``, ``pi`` and ``t`` are ordinary
names; and it is dimension-free: it declares no units and no unit algebra is applied to its
expressions (``k3/(K4 + G)`` adds a parameter and an observable count, as BioNetGen does).

Rates: a rule's rate is an expression, or one of the rate laws ``MM(kcat, Km)`` and
``Sat(kcat, Km1, ...)`` as the whole rate (BioNetGen's; see :mod:`il2sbml.lang.rules`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .errors import ModelError, Origin, PatternSyntaxError, UnitError, caller_origin
from .expr import RATE_LAWS, Expr, ExprError, rate_law
from .graph import Graph, parse_graph
from .units import Unit, parse_unit

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNIPROT_RE = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})$")
RESERVED = {"time", "t", "NA", "pi", "e", "_pi", "_e"}
"""Names a DSL model may not declare."""
BNGL_BUILTINS = ("_pi", "_e", "time", "exp", "ln", "log10", "log2", "abs", "rint", "sqrt", "cos", "sin",
                 "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "if",
                 "min", "max", "sum", "avg", "mratio", "TFUN")
"""BioNetGen's built-in functions (``%functions`` in BNG2.pl's ``Perl2/Expression.pm``): a BNGL
parameter or function may not be named so (BNG2.pl: "Cannot use built-in function name")."""
_BNGL_NEVER = {"time", "_pi", "_e", "_if", "and", "or", "not"}
"""Names no declaration of a BNGL model may take here: ``time``, ``_pi`` and ``_e`` are the time and
the constants in il2sbml's expressions, ``_if`` its ``if``, ``and``/``or``/``not`` its operators."""
DIALECTS = ("dsl", "bngl")


@dataclass(frozen=True)
class Parameter:
    """A named constant: a number or an expression of earlier parameters, with units."""

    name: str
    expr: Expr
    units: str | None
    unit: Unit | None
    doc: str
    origin: Origin | None


@dataclass(frozen=True)
class Compartment:
    """A compartment: 3 (volume) or 2 (surface) dimensions, its size and enclosing parent."""

    name: str
    dimension: int
    size: Expr
    units: str | None
    unit: Unit | None
    parent: str | None
    doc: str
    origin: Origin | None


@dataclass(frozen=True)
class MoleculeType:
    """A molecule type: ordered sites (repeats allowed), allowed states, annotations."""

    name: str
    sites: tuple[str, ...]
    states: dict
    annotations: tuple[tuple[str, str], ...]
    doc: str
    origin: Origin | None

    def declaration(self) -> str:
        parts = []
        for s in self.sites:
            parts.append(s + "".join("~" + v for v in self.states.get(s, ())))
        return f"{self.name}({','.join(parts)})"


@dataclass(frozen=True)
class Seed:
    pattern: Graph
    text: str
    amount: Expr
    fixed: bool
    origin: Origin | None
    unit: Unit | None = None     # units of ``amount`` (an amount: molecules, mol, ...); None: a count


@dataclass(frozen=True)
class Observable:
    name: str
    kind: str                  # "molecules" or "species"
    patterns: tuple[Graph, ...]
    texts: tuple[str, ...]
    origin: Origin | None
    # BNGL count constraints of a Species observable, one per pattern: None, or (relation, n)
    # with relation one of ==, <, <=, >, >= (``Species Rdim R==2``: species whose number of
    # matches of R() is 2); empty when no pattern has one
    counts: tuple = ()


@dataclass(frozen=True)
class Function:
    name: str
    expr: Expr
    units: str | None
    unit: Unit | None
    origin: Origin | None


@dataclass(frozen=True)
class Rule:
    """One direction of a rule. A reversible rule is stored as two :class:`Rule` objects."""

    name: str
    reactants: tuple[Graph, ...]
    products: tuple[Graph, ...]
    rate: Expr
    text: str
    include_reactants: dict
    exclude_reactants: dict
    include_products: dict
    exclude_products: dict
    delete_molecules: bool
    reverse_of: str | None
    origin: Origin | None
    # BNGL's TotalRate modifier, kept so the network merges reactions as BioNetGen does and
    # write_bngl writes it back; network generation gives each reaction the rule's rate, as
    # BNG2.pl's generate_network does (only NFsim reads the rate as the rule's total rate)
    total_rate: bool = False


@dataclass
class Limits:
    """Network-generation limits. ``None`` means the default, which raises when reached;
    an explicit value truncates the network as BioNetGen does (``max_iter``, ``max_agg``,
    ``max_stoich``) or raises (``max_species``, ``max_reactions``, ``timeout``)."""

    max_iter: int | None = None
    max_agg: int | None = None
    max_stoich: dict = field(default_factory=dict)
    max_species: int | None = None
    max_reactions: int | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class ParameterSet:
    """Named values for base parameters (a cell type, a condition), in their declared units."""

    name: str
    values: tuple  # ((parameter, number), ...) in declaration order
    doc: str
    origin: Origin | None

    def as_dict(self) -> dict[str, float]:
        """The values as overrides, e.g. ``sim.time_course(..., **ps.as_dict())``."""
        return dict(self.values)


class Model:
    """A rule-based model. See the module docstring for the language."""

    dialect = "dsl"

    def __init__(self, name: str, *, require_units: bool = False, doc: str = "",
                 created: str = "2026-01-01T00:00:00Z", dialect: str = "dsl"):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ModelError(f"model name {name!r} must be an identifier", origin=caller_origin())
        if dialect not in DIALECTS:
            raise ModelError(f"dialect must be one of {', '.join(DIALECTS)}, not {dialect!r}", origin=caller_origin())
        if dialect == "bngl" and require_units:
            raise ModelError("a BNGL model is dimension-free: it cannot require units", origin=caller_origin())
        self.dialect = dialect
        self.name = name
        self.doc = doc
        self.require_units = require_units
        self.created = created  # W3C date-time written into exported model history (fixed: output is reproducible)
        self.parameters: dict[str, Parameter] = {}
        self.compartments: dict[str, Compartment] = {}
        self.molecule_types: dict[str, MoleculeType] = {}
        self.seeds: list[Seed] = []
        self.observables: dict[str, Observable] = {}
        self.functions: dict[str, Function] = {}
        self.rules: list[Rule] = []
        self.rule_names: dict[str, Origin | None] = {}
        self.limits = Limits()
        self.parameter_sets: dict[str, ParameterSet] = {}
        self.source: str | None = None

    # ---------------------------------------------------------------- helpers
    def _new_name(self, name, what, origin):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ModelError(f"{what} name {name!r} is not an identifier", origin=origin,
                             hint="use letters, digits and '_', starting with a letter")
        if self.dialect == "bngl":
            if name in _BNGL_NEVER:
                role = 'the time' if name == 'time' else 'a constant' if name in ('_pi', '_e') else 'an operator'
                raise ModelError(f"{what} name {name!r} cannot be used: il2sbml's expressions use it ({role})",
                                 origin=origin, component=f"{what} {name!r}", hint="rename it")
            if what in ("parameter", "function") and name in BNGL_BUILTINS:
                raise ModelError(f"{what} name {name!r} is a BioNetGen built-in function", origin=origin,
                                 component=f"{what} {name!r}",
                                 hint="rename it (BioNetGen refuses built-in function names too)")
        elif name in RESERVED:
            raise ModelError(f"{what} name {name!r} is reserved", origin=origin)
        for kind, table in (("parameter", self.parameters), ("compartment", self.compartments),
                            ("observable", self.observables), ("function", self.functions)):
            if name in table:
                prev = table[name].origin
                raise ModelError(f"duplicate name {name!r}: already a {kind}"
                                 + (f" (declared at {prev})" if prev else ""),
                                 origin=origin, component=f"{what} {name!r}",
                                 hint="give each parameter, compartment, observable and function its own name")

    def _expr(self, value, origin, component, allowed_extra=(), *, law_ok=False) -> Expr:
        try:
            e = Expr.parse(value)
        except ExprError as exc:
            raise ModelError(str(exc), origin=origin, component=component) from None
        if self.dialect == "dsl" and "pi" in e.names:
            e = Expr.parse(re.sub(r"\bpi\b", "_pi", e.text))  # the DSL reserves pi for the constant
        known = set(self.parameters) | set(self.compartments) | set(allowed_extra)
        for n in e.names:
            if n not in known:
                raise ModelError(f"expression {e.text!r} uses {n!r}, which is not declared before it",
                                 origin=origin, component=component,
                                 hint="declare parameters before the expressions that use them")
        law = rate_law(e)
        for f in e.calls:
            from .expr import FUNCTIONS
            if f in RATE_LAWS and f not in self.functions:
                if law is None or not law_ok or f"{f}(" in ",".join(a.text for a in law[1]):
                    raise ModelError(f"{f}() is a rate law, not a function: it can only be a rule's whole rate "
                                     f"(in {e.text!r})", origin=origin, component=component,
                                     hint=f"write the rate as {f}(...) alone")
            elif f not in FUNCTIONS and f not in self.functions:
                raise ModelError(f"expression {e.text!r} calls unknown function {f!r}",
                                 origin=origin, component=component)
        return e

    def _unit(self, units, origin, component) -> Unit | None:
        if units is not None and self.dialect == "bngl":
            raise UnitError(f"units {units!r} on a BNGL model, which is dimension-free", origin=origin,
                            component=component, hint="BNGL declares no units; leave units out")
        if units is None:
            if self.require_units:
                raise UnitError("units are required in this model", origin=origin, component=component,
                                hint="pass units='...', e.g. units='1/s'")
            return None
        try:
            return parse_unit(units)
        except UnitError as exc:
            raise UnitError(exc.message, origin=origin, component=component, hint=exc.hint) from None

    def _check_pattern(self, g: Graph, origin, component, *, complete=False, allow_labels=False):
        """Check molecules, sites and states against the declared molecule types."""
        if g.compartment is not None and g.compartment not in self.compartments:
            raise ModelError(f"unknown compartment {g.compartment!r} in {g}", origin=origin,
                             component=component, hint="declare it with model.compartment(...)")
        for m in g.mols:
            mt = self.molecule_types.get(m.type)
            if mt is None:
                raise ModelError(f"undeclared molecule type {m.type!r} in {g}", origin=origin,
                                 component=component,
                                 hint=f"declare it with model.molecule_type('{m.type}(...)')")
            if m.compartment is not None and m.compartment not in self.compartments:
                raise ModelError(f"unknown compartment {m.compartment!r} on {m.type} in {g}",
                                 origin=origin, component=component)
            counts: dict = {}
            for c in m.comps:
                if c.name not in mt.states and c.name not in mt.sites:
                    raise ModelError(f"molecule type {m.type!r} has no site {c.name!r} (in {g})",
                                     origin=origin, component=component,
                                     hint=f"declared: {mt.declaration()}")
                counts[c.name] = counts.get(c.name, 0) + 1
                if counts[c.name] > mt.sites.count(c.name):
                    raise ModelError(f"site {c.name!r} appears {counts[c.name]} times on {m.type} in {g},"
                                     f" but {m.type} has {mt.sites.count(c.name)}",
                                     origin=origin, component=component,
                                     hint=f"declared: {mt.declaration()}")
                allowed = mt.states.get(c.name, ())
                if c.state is not None:
                    if not allowed:
                        raise ModelError(f"site {c.name!r} of {m.type!r} has no states, but {g} gives it ~{c.state}",
                                         origin=origin, component=component,
                                         hint=f"declared: {mt.declaration()}")
                    if c.state not in allowed:
                        raise ModelError(f"undeclared state {c.state!r} of site {m.type}.{c.name} in {g}",
                                         origin=origin, component=component,
                                         hint=f"allowed: {', '.join(allowed)}")
                if c.label is not None and not allow_labels:
                    raise ModelError(f"%{c.label} labels are only allowed in rules (in {g})",
                                     origin=origin, component=component)
            if complete:
                missing = [s for s in set(mt.sites) if counts.get(s, 0) < mt.sites.count(s)]
                if missing:
                    raise ModelError(f"seed species {g} leaves site(s) {', '.join(sorted(missing))} of {m.type}"
                                     " unspecified", origin=origin, component=component,
                                     hint="a seed species lists every site of every molecule")
                for c in m.comps:
                    if mt.states.get(c.name) and c.state is None:
                        raise ModelError(f"seed species {g} gives no state to site {m.type}.{c.name}",
                                         origin=origin, component=component,
                                         hint=f"allowed: {', '.join(mt.states[c.name])}")
                    if c.bond not in (None,) and not isinstance(c.bond, int):
                        raise ModelError(f"seed species {g} has a wildcard bond on {m.type}.{c.name}",
                                         origin=origin, component=component,
                                         hint="a seed species has explicit bonds only")

    def _parse(self, text, origin, component, **kw) -> Graph:
        if not isinstance(text, str):
            raise ModelError(f"expected a pattern string, got {type(text).__name__}", origin=origin,
                             component=component)
        try:
            g = parse_graph(text)
        except PatternSyntaxError as exc:
            raise PatternSyntaxError(exc.message, origin=origin, component=component, hint=exc.hint) from None
        self._check_pattern(g, origin, component, **kw)
        return g

    # ---------------------------------------------------------------- declarations
    def parameter(self, name: str, value, units: str | None = None, *, doc: str = "") -> Parameter:
        """Declare a parameter: a number or an expression of earlier parameters, with units."""
        origin = caller_origin()
        self._new_name(name, "parameter", origin)
        if value is None:
            raise ModelError("parameter has no value", origin=origin, component=f"parameter {name!r}")
        e = self._expr(value, origin, f"parameter {name!r}")
        unit = self._unit(units, origin, f"parameter {name!r}")
        try:
            self.evaluate(e)
        except ExprError as exc:
            raise ModelError(str(exc), origin=origin, component=f"parameter {name!r}") from None
        self._check_expr_units(e, unit, units, origin, f"parameter {name!r}")
        p = Parameter(name, e, units, unit, doc, origin)
        self.parameters[name] = p
        return p

    def _check_expr_units(self, e: Expr, unit, units, origin, component) -> None:
        """An expression of quantities with units must equal its declared units exactly.

        Numbers in the expression are pure numbers: ``1/cells_per_mL`` with ``cells_per_mL``
        in ``1/mL`` is a volume in ``mL``, and declaring it ``L`` is refused (it would be
        silently 1000-fold wrong).
        """
        if unit is None or not e.names or not e.names <= set(self.parameters):
            return
        try:
            derived = self.expr_unit(e)
        except ExprError as exc:
            raise UnitError(str(exc), origin=origin, component=component) from None
        if derived is None:
            return
        if derived == "mixed":
            raise UnitError(f"expression {e.text!r} mixes names with and without units", origin=origin,
                            component=component, hint="declare units on every parameter it uses")
        if derived.dims != unit.dims:
            raise UnitError(f"expression {e.text!r} has units {derived.describe()} but is declared {units!r}",
                            origin=origin, component=component)
        env = {}
        for p in self.parameters.values():
            env[p.name] = p.expr.evaluate(env)
        value = e.evaluate(env)
        base_env = {n: v * (self.unit_of(n).scale if self.unit_of(n) else 1.0) for n, v in env.items()}
        base_value = e.evaluate(base_env)
        declared = value * unit.scale
        if not math.isclose(base_value, declared, rel_tol=1e-9, abs_tol=0.0):
            factor = base_value / declared if declared else float("inf")
            raise UnitError(f"expression {e.text!r} is not in {units!r}: its value in {units!r} is "
                            f"{factor:g} times what is declared", origin=origin, component=component,
                            hint=f"declare the units the expression actually has, or scale it by {factor:g}")

    def compartment(self, name: str, *, dimension: int, size, units: str | None = None,
                    parent: str | None = None, doc: str = "") -> Compartment:
        """Declare a compartment of ``dimension`` 3 (volume) or 2 (membrane) with a positive size."""
        origin = caller_origin()
        comp = f"compartment {name!r}"
        self._new_name(name, "compartment", origin)
        if dimension not in (2, 3):
            raise ModelError(f"dimension must be 3 (volume) or 2 (surface), not {dimension!r}",
                             origin=origin, component=comp)
        if parent is not None and parent not in self.compartments:
            raise ModelError(f"parent compartment {parent!r} is not declared", origin=origin, component=comp,
                             hint="declare the enclosing compartment first")
        if parent is not None and self.compartments[parent].dimension == dimension:
            raise ModelError(f"a {dimension}-D compartment must sit in a {5 - dimension}-D parent, "
                             f"but {parent!r} is {dimension}-D", origin=origin, component=comp)
        e = self._expr(size, origin, comp)
        unit = self._unit(units, origin, comp)
        if unit is not None and unit.dims != (0, 0, dimension):
            raise UnitError(f"size units {units!r} are not a {'volume' if dimension == 3 else 'area'}",
                            origin=origin, component=comp,
                            hint="use e.g. 'L', 'um^3' for volumes and 'um^2' for surfaces")
        try:
            value = self.evaluate(e)
        except ExprError as exc:
            raise ModelError(str(exc), origin=origin, component=comp) from None
        if not value > 0:
            raise ModelError(f"size must be positive, got {value:g}", origin=origin, component=comp,
                             hint="give the compartment a positive volume or area")
        self._check_expr_units(e, unit, units, origin, comp)
        c = Compartment(name, dimension, e, units, unit, parent, doc, origin)
        self.compartments[name] = c
        return c

    def molecule_type(self, declaration: str, *, uniprot: str | tuple | None = None, chebi: str | None = None,
                      annotations=(), doc: str = "") -> MoleculeType:
        """Declare a molecule type, e.g. ``"IL2Rb(l,box1,Y~U~P,Y~U~P)"`` (repeated sites allowed).

        ``uniprot``/``chebi`` add MIRIAM identifiers (``uniprot`` may be a tuple of
        alternatives, e.g. STAT5A or STAT5B); ``annotations`` takes further ``(qualifier,
        resource)`` pairs, e.g. ``("bqbiol:hasPart", ".../uniprot/P23458")`` for a chain
        that carries JAK1 (written as a complex's parts).
        """
        origin = caller_origin()
        try:
            g = parse_graph(declaration, declaration=True)
        except PatternSyntaxError as exc:
            raise PatternSyntaxError(exc.message, origin=origin, component="molecule type",
                                     hint=exc.hint) from None
        if len(g.mols) != 1 or g.compartment or g.fixed:
            raise ModelError(f"{declaration!r} must declare exactly one molecule", origin=origin,
                             component="molecule type")
        mol = g.mols[0]
        comp = f"molecule type {mol.type!r}"
        if mol.type in self.molecule_types:
            prev = self.molecule_types[mol.type].origin
            raise ModelError(f"duplicate molecule type {mol.type!r}" + (f" (declared at {prev})" if prev else ""),
                             origin=origin, component=comp)
        sites = []
        states: dict = {}
        for c in mol.comps:
            if c.bond is not None or c.label is not None:
                raise ModelError(f"a declaration lists sites and states only, not bonds ({declaration!r})",
                                 origin=origin, component=comp)
            vals = tuple(c.state.split("~")) if c.state else ()
            if c.name in states and states[c.name] != vals:
                raise ModelError(f"repeated site {c.name!r} must list the same states each time",
                                 origin=origin, component=comp)
            if len(set(vals)) != len(vals):
                raise ModelError(f"site {c.name!r} lists a state twice", origin=origin, component=comp)
            states[c.name] = vals
            sites.append(c.name)
        ann = []
        for acc in ((uniprot,) if isinstance(uniprot, str) else tuple(uniprot or ())):
            if not isinstance(acc, str) or not _UNIPROT_RE.match(acc):
                raise ModelError(f"{acc!r} is not a UniProt accession (such as 'P60568')", origin=origin,
                                 component=comp, hint="pass one accession, or a tuple of alternatives "
                                 "(STAT5A or STAT5B); parts of a complex go in annotations as bqbiol:hasPart")
            ann.append(("bqbiol:is", f"http://identifiers.org/uniprot/{acc}"))
        if chebi:
            cid = chebi if chebi.upper().startswith("CHEBI:") else f"CHEBI:{chebi}"
            ann.append(("bqbiol:is", f"http://identifiers.org/{cid}"))
        ann.extend(tuple(a) for a in annotations)
        mt = MoleculeType(mol.type, tuple(sites), {k: v for k, v in states.items() if v}, tuple(ann), doc, origin)
        self.molecule_types[mol.type] = mt
        return mt

    def seed(self, species: str, amount, *, fixed: bool = False) -> Seed:
        """Declare a seed species with its initial amount (a number or an expression).

        A plain number is a count of molecules. An expression of parameters with units must be
        an amount (e.g. ``"IL2_pM*avogadro*V_medium"`` with ``avogadro`` in ``molecule/mol``);
        it is converted to molecules.
        """
        origin = caller_origin()
        comp = f"seed {species!r}"
        g = self._parse(species, origin, comp, complete=True)
        if fixed:
            g.fixed = True
        if self.compartments and g.compartment is None and any(m.compartment is None for m in g.mols):
            raise ModelError(f"seed {species!r} has no compartment in a model with compartments",
                             origin=origin, component=comp, hint="write e.g. '@cyt::A()' or 'A()@cyt'")
        e = self._expr(amount, origin, comp)
        label = self._seed_label(g)
        for s in self.seeds:
            if self._seed_label(s.pattern) == label:
                raise ModelError(f"duplicate seed species {species!r}: the same species as {s.text!r}"
                                 f" (at {s.origin})", origin=origin, component=comp,
                                 hint="declare each seed species once")
        try:
            unit = self.expr_unit(e) if e.names else None
        except ExprError as exc:
            raise UnitError(str(exc), origin=origin, component=comp) from None
        if unit == "mixed":
            raise UnitError(f"amount {e.text!r} mixes names with and without units", origin=origin,
                            component=comp, hint="declare units on every parameter it uses")
        if unit is not None and unit.dims != (0, 1, 0):
            raise UnitError(f"amount {e.text!r} has units {unit.describe()}, not an amount of substance",
                            origin=origin, component=comp,
                            hint="an initial amount is a count (molecule) or mol; e.g. concentration*avogadro*volume")
        s = Seed(g, species, e, g.fixed, origin, unit)
        self.seeds.append(s)
        return s

    def site_order(self) -> dict:
        """Molecule type -> {site name: position of its first occurrence} (canonical site order)."""
        return {name: {s: i for i, s in reversed(list(enumerate(mt.sites)))}
                for name, mt in self.molecule_types.items()}

    def _seed_label(self, g: Graph) -> str:
        from .graph import species_from_graph
        return species_from_graph(g, self.site_order()).label

    def observable(self, name: str, patterns, *, kind: str = "molecules") -> Observable:
        """Declare an observable: molecules counted (``kind="molecules"``) or species (``"species"``)."""
        origin = caller_origin()
        self._new_name(name, "observable", origin)
        if kind not in ("molecules", "species"):
            raise ModelError(f"kind must be 'molecules' or 'species', not {kind!r}", origin=origin,
                             component=f"observable {name!r}")
        texts = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if not texts:
            raise ModelError("observable needs at least one pattern", origin=origin,
                             component=f"observable {name!r}")
        graphs = tuple(self._parse(t, origin, f"observable {name!r}") for t in texts)
        o = Observable(name, kind, graphs, texts, origin)
        self.observables[name] = o
        return o

    def function(self, name: str, expr, *, units: str | None = None) -> Function:
        """Declare a global function of parameters, observables and other functions."""
        origin = caller_origin()
        self._new_name(name, "function", origin)
        e = self._expr(expr, origin, f"function {name!r}", allowed_extra=set(self.observables) | {"time"})
        unit = self._unit(units, origin, f"function {name!r}") if units is not None else None
        f = Function(name, e, units, unit, origin)
        self.functions[name] = f
        return f

    def rule(self, name: str, rule: str, rate=None, reverse_rate=None, *,
             include_reactants: dict | None = None, exclude_reactants: dict | None = None,
             delete_molecules: bool = False) -> tuple[Rule, ...]:
        """Declare a rule ``"A(b) + B(a) <-> A(b!1).B(a!1)"`` with its rate(s).

        ``include_reactants``/``exclude_reactants`` map a 1-based reactant position to one
        pattern or a list: the reactant species must (not) contain it. ``delete_molecules``
        deletes only the molecules a rule removes, not their whole species.
        Returns the forward rule, and the reverse one for ``<->``.
        """
        origin = caller_origin()
        comp = f"rule {name!r}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ModelError(f"rule name {name!r} is not an identifier", origin=origin)
        if name in self.rule_names or f"{name}_reverse" in self.rule_names:
            raise ModelError(f"duplicate rule name {name!r} (first at {self.rule_names.get(name)})",
                             origin=origin, component=comp)
        if not isinstance(rule, str):
            raise ModelError("the rule must be a string such as 'A(b) + B(a) -> A(b!1).B(a!1)'",
                             origin=origin, component=comp)
        if "<->" in rule:
            lhs, rhs = rule.split("<->", 1)
            reversible = True
        elif "->" in rule:
            lhs, rhs = rule.split("->", 1)
            reversible = False
        else:
            raise PatternSyntaxError(f"no '->' or '<->' in {rule!r}", origin=origin, component=comp)
        reactants = self._side(lhs, origin, comp)
        products = self._side(rhs, origin, comp)
        if rate is None:
            raise ModelError("rule has no rate", origin=origin, component=comp,
                             hint="pass the rate constant (a parameter name, number or expression)")
        if reversible and reverse_rate is None:
            raise ModelError("reversible rule (<->) has no reverse rate", origin=origin, component=comp,
                             hint="pass reverse_rate, or write the rule with '->'")
        if not reversible and reverse_rate is not None:
            raise ModelError("irreversible rule (->) was given a reverse rate", origin=origin, component=comp,
                             hint="write the rule with '<->' or drop the reverse rate")
        inc = self._constraints(include_reactants, len(reactants), origin, comp, "include_reactants")
        exc = self._constraints(exclude_reactants, len(reactants), origin, comp, "exclude_reactants")
        fwd = Rule(name, reactants, products, self._rate(rate, origin, comp), rule.strip(), inc, exc, {}, {},
                   delete_molecules, None, origin)
        out = [fwd]
        self.rule_names[name] = origin
        if reversible:
            rev = Rule(f"{name}_reverse", products, reactants, self._rate(reverse_rate, origin, comp + " (reverse)"),
                       rule.strip(), {}, {}, inc, exc, delete_molecules, name, origin)
            out.append(rev)
        from .rules import (
            compile_rule,  # validates the rule's operations and rate units
        )
        for r in out:
            compile_rule(self, r, check_only=True)
        self.rules.extend(out)
        return tuple(out)

    def _side(self, text, origin, comp) -> tuple[Graph, ...]:
        text = text.strip()
        if text in ("0", ""):
            if text == "":
                raise PatternSyntaxError("a rule side is empty; write 0 for nothing", origin=origin, component=comp)
            return ()
        parts = [p for p in re.split(r"(?<![!])\+", text)]
        out = []
        for p in parts:
            p = p.strip()
            if p == "0":
                continue
            out.append(self._parse(p, origin, comp, allow_labels=True))
        return tuple(out)

    def _constraints(self, spec, n, origin, comp, what) -> dict:
        if not spec:
            return {}
        out = {}
        for pos, pats in spec.items():
            if not isinstance(pos, int) or not 1 <= pos <= n:
                raise ModelError(f"{what} position {pos!r} is not a reactant (1..{n})", origin=origin,
                                 component=comp)
            pats = [pats] if isinstance(pats, str) else list(pats)
            out[pos - 1] = tuple(self._parse(p, origin, comp) for p in pats)
        return out

    def _rate(self, rate, origin, comp) -> Expr:
        e = self._expr(rate, origin, comp, allowed_extra=set(self.observables), law_ok=True)
        law = rate_law(e) if not (e.calls & set(self.functions)) else None
        if law is not None:
            name, args = law
            least, most = RATE_LAWS[name]
            if len(args) < least or (most is not None and len(args) > most):
                want = f"exactly {least}" if least == most else f"at least {least}"
                raise ModelError(f"{name}() takes {want} arguments, not {len(args)} (in {e.text!r})",
                                 origin=origin, component=comp,
                                 hint="MM(kcat, Km); Sat(kcat, Km1[, Km2 ...])")
            for a in args:
                bad = sorted((a.names - set(self.parameters)) | (a.calls & set(self.functions)))
                if bad:
                    raise ModelError(f"{name}() takes constants (parameters), but {a.text!r} uses {bad[0]!r} "
                                     f"(in {e.text!r})", origin=origin, component=comp,
                                     hint="a rate law's constants are parameters, as in BioNetGen")
        return e

    def generate_network_options(self, *, max_iter=None, max_agg=None, max_stoich=None,
                                 max_species=None, max_reactions=None, timeout=None) -> None:
        """Set the default limits used by :func:`il2sbml.generate.netgen.generate_network`."""
        origin = caller_origin()
        for key, val in (("max_iter", max_iter), ("max_agg", max_agg), ("max_species", max_species),
                         ("max_reactions", max_reactions)):
            if val is not None and (not isinstance(val, int) or val < 1):
                raise ModelError(f"{key} must be a positive integer, not {val!r}", origin=origin,
                                 component="generate_network options")
        if timeout is not None and not timeout > 0:
            raise ModelError(f"timeout must be positive, not {timeout!r}", origin=origin,
                             component="generate_network options")
        stoich = dict(max_stoich or {})
        for mol, val in stoich.items():
            if mol not in self.molecule_types:
                raise ModelError(f"max_stoich names undeclared molecule type {mol!r}", origin=origin,
                                 component="generate_network options")
            if not isinstance(val, int) or val < 1:
                raise ModelError(f"max_stoich[{mol!r}] must be a positive integer", origin=origin,
                                 component="generate_network options")
        self.limits = Limits(max_iter, max_agg, stoich, max_species, max_reactions, timeout)

    def parameter_set(self, name: str, values: dict, *, doc: str = "") -> ParameterSet:
        """Declare a named set of values for base parameters, e.g. one cell type's receptor numbers.

        Each key is a declared parameter whose value is a number (derived parameters follow
        from their expressions and cannot be set); each value is a finite number in that
        parameter's declared units. ``with_parameter_set(name)`` gives the model with them.
        """
        origin = caller_origin()
        comp = f"parameter set {name!r}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ModelError(f"parameter set name {name!r} is not an identifier", origin=origin)
        if name in self.parameter_sets:
            raise ModelError(f"duplicate parameter set {name!r} (first at {self.parameter_sets[name].origin})",
                             origin=origin, component=comp)
        if not isinstance(values, dict):
            raise ModelError("values must be a dict of parameter name -> number", origin=origin, component=comp)
        for key, value in values.items():
            p = self.parameters.get(key)
            if p is None:
                raise ModelError(f"{key!r} is not a declared parameter", origin=origin, component=comp,
                                 hint="declare the parameter before the parameter set")
            if not p.expr.is_number():
                raise ModelError(f"{key!r} is derived ({p.expr.text}); set the parameters it is made of",
                                 origin=origin, component=comp)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ModelError(f"value {value!r} for {key!r} is not a finite number "
                                 f"(in {p.units or 'its declared units'})", origin=origin, component=comp)
        order = [n for n in self.parameters if n in values]
        ps = ParameterSet(name, tuple((n, float(values[n])) for n in order), doc, origin)
        self.parameter_sets[name] = ps
        return ps

    def with_parameter_set(self, name: str) -> "Model":
        """A copy of this model named ``<model>_<set>`` with the set's values (the model is unchanged)."""
        ps = self.parameter_sets.get(name)
        if ps is None:
            raise ModelError(f"model {self.name!r} has no parameter set {name!r}",
                             hint="choose one of: " + (", ".join(self.parameter_sets) or "(none declared)"))
        import copy
        m = copy.copy(self)
        m.name = f"{self.name}_{name}"
        m.doc = (self.doc.rstrip() + "\n\n" if self.doc else "") + f"Parameter set {name}: {ps.doc}".rstrip(": ")
        m.parameters = dict(self.parameters)
        for key, value in ps.values:
            old = m.parameters[key]
            m.parameters[key] = Parameter(old.name, Expr.parse(repr(value)), old.units, old.unit, old.doc, old.origin)
        m.parameter_sets = {}
        return m

    # ---------------------------------------------------------------- evaluation
    def parameter_values(self) -> dict[str, float]:
        """Parameter values as declared (in their own units), in declaration order."""
        env: dict = {}
        for p in self.parameters.values():
            env[p.name] = p.expr.evaluate(env)
        return env

    def evaluate(self, expr: Expr) -> float:
        env = self.parameter_values()
        for c in self.compartments.values():
            env[c.name] = c.size.evaluate(env)
        return expr.evaluate(env)

    def expr_unit(self, expr: Expr):
        """Unit of an expression from its names' units; None if none has units; 'mixed' if some do.
        Always None in a BNGL model (dimension-free)."""
        if self.dialect == "bngl":
            return None
        funcs = {name: f.unit for name, f in self.functions.items()}
        return expression_unit(expr, self.unit_of, set(self.observables), funcs)

    def unit_of(self, name: str) -> Unit | None:
        if name in self.parameters:
            return self.parameters[name].unit
        if name in self.compartments:
            return self.compartments[name].unit
        if name in self.functions:
            return self.functions[name].unit
        return None


def expression_unit(expr: Expr, unit_of, observables: set, functions: dict, *, formal: bool = False):
    """Unit of ``expr`` from the units of its names (``unit_of(name)``); ``None`` if no name has
    units, ``"mixed"`` if only some do. Observables are counts (molecule) and do not decide
    whether an expression has units; numbers are pure numbers. Raises :class:`ExprError` when
    quantities of different dimensions are added. With ``formal=True`` the unit is returned as
    written (names without units count as dimensionless), never ``None`` or ``"mixed"``."""
    import ast

    from .units import DIMENSIONLESS, MOLECULE

    known = []

    def walk(node):
        if isinstance(node, ast.Constant):
            return DIMENSIONLESS
        if isinstance(node, ast.Name):
            if node.id in observables:
                return MOLECULE
            u = unit_of(node.id)
            known.append(u is not None)
            return u if u is not None else DIMENSIONLESS
        if isinstance(node, ast.UnaryOp):
            return walk(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / b
            if isinstance(node.op, ast.Pow):
                if isinstance(node.right, ast.Constant) and float(node.right.value).is_integer():
                    return a ** int(node.right.value)
                return DIMENSIONLESS
            if a.dims != b.dims:
                raise ExprError(f"adds or subtracts quantities of different units ({a.describe()} and {b.describe()})")
            return a
        if isinstance(node, ast.Call):
            name = node.func.id
            if name in functions:
                u = functions[name]
                known.append(u is not None)
                return u if u is not None else DIMENSIONLESS
            for arg in node.args:
                walk(arg)
            return DIMENSIONLESS
        return DIMENSIONLESS

    u = walk(expr.tree)
    if formal:
        return u
    if not known or not any(known):
        return None
    if not all(known):
        return "mixed"
    return u
