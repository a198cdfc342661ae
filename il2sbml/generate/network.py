"""The frozen reaction network: the one intermediate representation every writer consumes.

Rate convention (BioNetGen's, used for ODEs and the SSA alike): reaction *i* has the
deterministic rate constant ``k_i = stat_factor * unit_factor * volume_factor * rate``, where

* ``rate`` is the rule's rate expression (parameters in their declared units, or a global
  function of observables),
* ``stat_factor`` is the rule's symmetry factor times the number of distinct ways the rule
  maps onto the reactants (``0.5`` for ``A + A``, ``2`` for a bivalent ligand binding...),
* ``unit_factor`` converts the rate's declared units to molecules and seconds,
* ``volume_factor`` is an expression of compartment sizes (``1/EC`` for a bimolecular
  reaction in ``EC``, ``EC`` for synthesis into it, ``1`` otherwise).

On amounts ``x`` (molecules), the deterministic flux is ``k_i * prod(x_r)`` and the SSA
propensity is ``k_i * prod(falling factorials)``, e.g. ``k * x*(x-1)`` for ``A + A`` with
``stat_factor`` 0.5 folded into ``k``.

A reaction whose ``rate`` is a rate law, ``MM(kcat, Km)`` or ``Sat(kcat, K1, ...)``
(:attr:`NetReaction.rate_law`), has no rate constant: its flux is
``stat_factor * unit_factor * volume_factor * law(amounts of its reactants, in order)`` (the
laws are defined in :mod:`il2sbml.lang.rules`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..lang.expr import Expr, rate_law


@dataclass(frozen=True)
class NetSpecies:
    """A species: canonical BNGL ``label`` (isomorphism-invariant), initial amount, flags."""

    index: int
    label: str
    initial: Expr | None      # None: starts at zero
    fixed: bool
    compartment: str | None
    molecules: tuple[str, ...]  # molecule types, canonical order (for annotations)
    initial_unit: object = None  # il2sbml.lang.units.Unit of ``initial``; None: a count
    # read from SBML (defaults describe networks generated from rules)
    sbml_id: str | None = None
    name: str | None = None
    concentration: bool = False  # ``initial`` is a concentration (SBML initialConcentration)
    amount_in_law: bool = True   # SBML hasOnlySubstanceUnits: the symbol means the amount
    constant: bool = False


@dataclass(frozen=True)
class NetReaction:
    index: int
    reactants: tuple[int, ...]
    products: tuple[int, ...]
    rate: Expr
    stat_factor: float
    unit_factor: float
    volume_factor: Expr
    functional: bool
    rule: str
    rules: tuple[str, ...]
    rate_unit: object = None     # il2sbml.lang.units.Unit of ``rate`` as declared, None if unitless
    # read from SBML: the kinetic law itself (substance/time, SBML symbol semantics)
    law: Expr | None = None
    reversible: bool = False
    sbml_id: str | None = None
    mass_action: bool = False    # law == rate * prod(amount ** stoichiometry), recognised by the reader

    @property
    def rate_law(self):
        """``("MM" | "Sat", (constant Exprs))`` for a reaction of an ``MM()``/``Sat()`` rule, else None."""
        return rate_law(self.rate) if self.law is None else None

    def rate_string(self) -> str:
        """The rate constant as BioNetGen writes it, e.g. ``0.5*k``, ``4*kp1/EC`` or ``2*MM kcat Km``."""
        factor = self.stat_factor * self.unit_factor
        parts = []
        if factor != 1.0:
            parts.append(_num(factor))
        law = self.rate_law
        if law is not None:
            if self.volume_factor.text != "1":
                parts.append(f"({self.volume_factor.text})")
            parts.append(" ".join([law[0], *(a.text for a in law[1])]))
            return "*".join(parts)
        rate = self.rate.text
        parts.append(rate if _atomic(rate) else f"({rate})")
        if self.volume_factor.text != "1":
            vf = self.volume_factor.text
            if vf.startswith("1/"):
                return "*".join(parts) + "/" + vf[2:]
            parts.append(vf)
        return "*".join(parts)


@dataclass(frozen=True)
class NetObservable:
    name: str
    kind: str
    weights: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class NetFunction:
    name: str
    expr: Expr


@dataclass(frozen=True)
class ModelInfo:
    """What writers need from the model besides the network: declarations as written
    (frozen DSL records with units, docs, annotations and source lines)."""

    name: str
    doc: str
    source: str | None
    parameters: tuple = ()       # il2sbml.lang.dsl.Parameter
    compartments: tuple = ()     # il2sbml.lang.dsl.Compartment
    molecule_types: tuple = ()   # il2sbml.lang.dsl.MoleculeType
    functions: tuple = ()        # il2sbml.lang.dsl.Function
    observables: tuple = ()      # il2sbml.lang.dsl.Observable
    rules: tuple = ()            # il2sbml.lang.dsl.Rule
    created: str = "2026-01-01T00:00:00Z"
    creator: str = "il2sbml"


def function_table(functions, env) -> dict:
    """name -> callable for the model's global ``functions`` (NetFunction), evaluated in ``env``."""
    funcs: dict = {}
    for f in functions:
        funcs[f.name] = (lambda fe: (lambda *a: fe.evaluate(env, funcs)))(f.expr)
    return funcs


def initial_amount(s: NetSpecies, env: dict) -> float:
    """The initial amount of species ``s`` in molecules (per cell) under the parameter values ``env``."""
    if s.initial is None:
        return 0.0
    v = s.initial.evaluate(env)
    return v * s.initial_unit.scale if s.initial_unit is not None else v


def rate_constant(r: NetReaction, env: dict, funcs: dict) -> float:
    """The full deterministic rate constant of mass-action reaction ``r`` (statistical, unit and
    volume factors included) under the parameter values ``env``."""
    return r.stat_factor * r.unit_factor * r.volume_factor.evaluate(env, funcs) * r.rate.evaluate(env, funcs)


class Network:
    """Species, reactions and observables generated from a model. Immutable by convention.

    ``compartment_sizes`` are in base units (m^3, m^2) when the model has units, and as
    declared otherwise; ``parameters`` are in their declared units.
    """

    def __init__(self, model_name, species, reactions, observables, functions, parameters,
                 compartment_sizes, stats, site_order=None, info: ModelInfo | None = None):
        self.model_name = model_name
        self.info = info or ModelInfo(model_name, "", None)
        self.sbml = None  # il2sbml.formats.sbmlread.SBMLExtras for networks read from SBML
        self.species: tuple[NetSpecies, ...] = tuple(species)
        self.reactions: tuple[NetReaction, ...] = tuple(reactions)
        self.observables: tuple[NetObservable, ...] = tuple(observables)
        self.functions: tuple[NetFunction, ...] = tuple(functions)
        self.parameters: dict[str, float] = dict(parameters)
        self.compartment_sizes: dict[str, float] = dict(compartment_sizes)
        self.stats = dict(stats)
        self.site_order = dict(site_order or {})
        self._index = {s.label: s.index for s in self.species}

    def canonical_label(self, text: str) -> str:
        """The canonical label of a species written in any BNGL order (``B(a!3).A(b!3)``)."""
        from ..lang.graph import parse_graph, species_from_graph
        return species_from_graph(parse_graph(text), self.site_order).label

    def species_index(self, text: str) -> int:
        """Index of the species written ``text`` (any molecule order or bond numbering)."""
        label = self.canonical_label(text)
        if label not in self._index:
            raise KeyError(f"species {text!r} (canonical {label!r}) is not in network {self.model_name!r}")
        return self._index[label]

    def _env(self, observables: dict | None):
        env = dict(self.parameters)
        env.update(self.compartment_sizes)
        extras = getattr(self, "sbml", None)
        for var, expr in getattr(extras, "static_rules", ()):
            env[var] = expr.evaluate(env)   # SBML assignment rules of constants: evaluated, never stale
        if observables is not None:
            env.update(observables)
        return env

    def _functions(self, env):
        return function_table(self.functions, env)

    def initial_amounts(self) -> list[float]:
        """Initial amount of every species in molecules (per cell)."""
        env = self._env(None)
        return [initial_amount(s, env) for s in self.species]

    def rate_value(self, i: int, observables: dict | None = None) -> float:
        """The full deterministic rate constant of reaction ``i`` (molecules, seconds).

        Functional rates need ``observables`` (name -> value).
        """
        return self.rate_values([i], observables)[0]

    def rate_values(self, which=None, observables: dict | None = None) -> list[float]:
        """:meth:`rate_value` of the reactions ``which`` (default: all), with the parameter
        environment (and SBML rules of constants) evaluated once for all of them."""
        env = self._env(observables)
        funcs = self._functions(env)
        out = []
        for i in range(len(self.reactions)) if which is None else which:
            r = self.reactions[i]
            if r.law is not None and not r.mass_action:
                raise ValueError(f"reaction {r.sbml_id or i} has a general kinetic law ({r.law.text}), not a "
                                 "rate constant; evaluate its law instead")
            if r.rate_law is not None:
                raise ValueError(f"reaction {i + 1} ({r.rule}) has the rate law {r.rate.text}, not a rate "
                                 "constant (its rate depends on its reactants' amounts)")
            out.append(rate_constant(r, env, funcs))
        return out

    def summary(self) -> dict:
        return {"model": self.model_name, "species": len(self.species), "reactions": len(self.reactions),
                "observables": len(self.observables), "functions": len(self.functions),
                "iterations": self.stats.get("iterations"), "seconds": self.stats.get("seconds")}

    def to_json(self, full: bool = False) -> str:
        data = self.summary()
        if full:
            data["species_list"] = [{"index": s.index, "label": s.label, "fixed": s.fixed,
                                     "initial": None if s.initial is None else s.initial.text}
                                    for s in self.species]
            data["reaction_list"] = [{"reactants": list(r.reactants), "products": list(r.products),
                                      "rate": r.rate_string(), "rule": r.rule} for r in self.reactions]
            data["observable_list"] = [{"name": o.name, "kind": o.kind,
                                        "weights": [list(w) for w in o.weights]} for o in self.observables]
        return json.dumps(data, indent=2, sort_keys=False)

    def to_net(self) -> str:
        """The network in BioNetGen's ``.net`` layout (1-based indices), for eyeballing and diffing."""
        lines = [f"# {self.model_name}: generated by il2sbml", "begin parameters"]
        for i, (k, v) in enumerate(self.parameters.items(), 1):
            lines.append(f"  {i} {k} {v!r}")
        lines += ["end parameters", "begin species"]
        for s in self.species:
            init = "0" if s.initial is None else s.initial.text
            lines.append(f"  {s.index + 1} {'$' if s.fixed else ''}{s.label} {init}")
        lines += ["end species", "begin reactions"]
        for r in self.reactions:
            rs = ",".join(str(x + 1) for x in r.reactants) or "0"
            ps = ",".join(str(x + 1) for x in r.products) or "0"
            lines.append(f"  {r.index + 1} {rs} {ps} {r.rate_string()} #{r.rule}")
        lines += ["end reactions", "begin groups"]
        for i, o in enumerate(self.observables, 1):
            ws = ",".join(f"{_num(w)}*{s + 1}" if w != 1 else str(s + 1) for s, w in o.weights)
            lines.append(f"  {i} {o.name} {ws}")
        lines.append("end groups")
        return "\n".join(lines) + "\n"


def _num(x: float) -> str:
    return repr(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


def _atomic(text: str) -> bool:
    return text.replace("_", "a").replace(".", "0").isalnum() or text.endswith("()") and text[:-2].isidentifier()
