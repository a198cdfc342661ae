"""Co-culture: several cell populations of one model sharing its medium.

``coculture(model, {"Treg": 0.05, "CD4_memory": 0.95})`` builds a new :class:`Model` in which
each population (a parameter set of ``model``, with its fraction of the cells) has its own
copy of every cell-side compartment, molecule type, cell-type parameter, seed, rule and
observable, while the medium (the compartments without a parent) and the molecules seeded
there (IL-2) are shared: the populations compete for them.

The frame is the average cell, as in the one-population model: the medium is ``V_medium`` per
cell of the culture, and population *P* with fraction ``f_P`` owns compartments ``f_P`` times
the size of one cell's (its membrane is ``f_P * A_membrane``...), seeds ``f_P`` times one
cell's, and zero-order synthesis ``f_P`` times one cell's. Every concentration, and so every
bimolecular rate, is then the one-cell value, and every flux into or out of the medium is
weighted by the population's share. Observables come per population and per cell of that
population (``pSTAT5_Treg``: the population's count divided by ``f_P``); observables of the
medium alone (``IL2_free``) stay shared, per cell of the culture.

Names: population *P* gets ``<name>_<P>`` for its molecule types, compartments, cell-type
parameters (those its parameter set gives, and every parameter derived from them), rules and
observables, and ``frac_<P>`` for its fraction. Rules with include/exclude constraints, global
functions and fixed seeds are refused by name (not needed by the IL-2 model; not translated).
"""

from __future__ import annotations

import math
import re

from ..lang.dsl import Model
from ..lang.errors import ModelError, NotSupportedError
from ..lang.graph import to_bngl


def parse_fractions(text: str) -> dict[str, float]:
    """``"Treg=0.05,CD4_memory=0.95"`` -> ``{"Treg": 0.05, "CD4_memory": 0.95}``."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        try:
            frac = float(value)
        except ValueError:
            frac = math.nan
        if not eq or not name.strip() or not math.isfinite(frac):
            raise ModelError(f"co-culture population {part!r} is not NAME=FRACTION",
                             hint="write e.g. --coculture Treg=0.05,CD4_memory=0.95")
        if name.strip() in out:
            raise ModelError(f"co-culture population {name.strip()!r} is given twice")
        out[name.strip()] = frac
    return out


def coculture(model: Model, fractions: dict[str, float], *, name: str | None = None) -> Model:
    """A model of the populations ``fractions`` (parameter set -> fraction of the cells)."""
    if len(fractions) < 2:
        raise ModelError("a co-culture needs at least two populations")
    for pop, frac in fractions.items():
        if pop not in model.parameter_sets:
            raise ModelError(f"model {model.name!r} has no parameter set {pop!r} to use as a population",
                             hint="choose among: " + ", ".join(model.parameter_sets))
        if not 0 < frac <= 1:
            raise ModelError(f"fraction {frac!r} of {pop!r} must lie in (0, 1]")
    total = sum(fractions.values())
    if abs(total - 1) > 1e-9:
        raise ModelError(f"co-culture fractions add up to {total:g}, not 1",
                         hint="give each population's share of the cells, summing to 1")
    if model.functions:
        raise NotSupportedError(f"model {model.name!r}: co-culture of a model with global functions "
                                f"({', '.join(model.functions)}) is not supported")
    for r in model.rules:
        if r.include_reactants or r.exclude_reactants or r.include_products or r.exclude_products:
            raise NotSupportedError(f"rule {r.name!r}: co-culture of rules with include/exclude constraints "
                                    "is not supported")
    if any(s.fixed for s in model.seeds):
        raise NotSupportedError(f"model {model.name!r}: co-culture of fixed ($) seed species is not supported")

    shared_comps = {c.name for c in model.compartments.values() if c.parent is None}
    cell_comps = [c for c in model.compartments if c not in shared_comps]
    shared_types = {m.type for s in model.seeds for m in s.pattern.mols
                    if (m.compartment or s.pattern.compartment) in shared_comps}
    cell_types = [t for t in model.molecule_types if t not in shared_types]
    set_keys = {k for ps in model.parameter_sets.values() for k, _ in ps.values}
    cell_params: list[str] = []
    for p in model.parameters.values():  # declaration order: derived after what they use
        if p.name in set_keys or p.expr.names & set(cell_params):
            cell_params.append(p.name)

    def renamer(pop):
        types = {t: f"{t}_{pop}" for t in cell_types}
        comps = {c: f"{c}_{pop}" for c in cell_comps}
        params = {p: f"{p}_{pop}" for p in cell_params}

        def pattern(text: str) -> str:
            text = re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)(?=\s*\()", lambda m: types.get(m.group(1), m.group(1)), text)
            return re.sub(r"@([A-Za-z_][A-Za-z0-9_]*)", lambda m: "@" + comps.get(m.group(1), m.group(1)), text)

        def expr(text: str) -> str:
            return re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()",
                          lambda m: params.get(m.group(1), m.group(1)), text)
        return pattern, expr, comps

    def cell_side(text: str) -> bool:
        names = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)(?=\s*\()", text))
        locs = set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", text))
        return bool(names & set(cell_types) or locs & set(cell_comps))

    pops = list(fractions)
    rename = {pop: renamer(pop) for pop in pops}  # pop -> (pattern, expression, compartment) renamers
    out = Model(name or f"{model.name}_coculture", require_units=model.require_units, created=model.created,
                doc=(model.doc.rstrip() + "\n\n" if model.doc else "")
                + "Co-culture of " + ", ".join(f"{p} ({fractions[p]:g})" for p in pops)
                + " sharing the medium; amounts per average cell of the culture.")
    out.source = model.source
    # parameters: shared ones once, cell-type ones per population (the set's values)
    for p in model.parameters.values():
        if p.name not in cell_params:
            out.parameters[p.name] = p
    for pop in pops:
        values = model.parameter_sets[pop].as_dict()
        _, expr, _ = rename[pop]
        out.parameter(f"frac_{pop}", fractions[pop], "dimensionless" if model.require_units else None,
                      doc=f"fraction of the cells that are {pop}: {model.parameter_sets[pop].doc}")
        for pname in cell_params:
            p = model.parameters[pname]
            value = values.get(pname, p.expr.text if not p.expr.is_number() else p.expr.evaluate({}))
            out.parameter(f"{pname}_{pop}", expr(value) if isinstance(value, str) else value, p.units,
                          doc=f"{p.doc} (population {pop})")
    # compartments: the medium once; one copy of the cell per population, scaled by its fraction
    for c in model.compartments.values():
        if c.name in shared_comps:
            out.compartments[c.name] = c
    for pop in pops:
        _, expr, comps = rename[pop]
        for cname in cell_comps:
            c = model.compartments[cname]
            out.compartment(comps[cname], dimension=c.dimension, size=f"frac_{pop}*({expr(c.size.text)})",
                            units=c.units, parent=comps.get(c.parent, c.parent),
                            doc=f"{c.doc} (population {pop}, scaled by its fraction)")
    for t in shared_types:
        out.molecule_types[t] = model.molecule_types[t]
    for pop in pops:
        for t in cell_types:
            mt = model.molecule_types[t]
            decl = mt.declaration().replace(t + "(", f"{t}_{pop}(", 1)
            out.molecule_type(decl, annotations=mt.annotations, doc=f"{mt.doc} ({pop})")
    out.limits = model.limits
    # seeds, rules, observables
    for s in model.seeds:
        if not cell_side(s.text):
            out.seed(s.text, s.amount.text)
            continue
        for pop in pops:
            pattern, expr, _ = rename[pop]
            out.seed(pattern(s.text), f"frac_{pop}*({expr(s.amount.text)})")
    for r in model.rules:
        lhs = " + ".join(to_bngl(g) for g in r.reactants) or "0"
        rhs = " + ".join(to_bngl(g) for g in r.products) or "0"
        text = f"{lhs} -> {rhs}"
        uses_cell_params = bool(r.rate.names & set(cell_params))
        if not cell_side(text) and not uses_cell_params:
            out.rule(r.name, text, r.rate.text, delete_molecules=r.delete_molecules)
            continue
        for pop in pops:
            pattern, expr, _ = rename[pop]
            rate = expr(r.rate.text)
            if not r.reactants:  # synthesis per cell: the population makes f_P of it per average cell
                rate = f"frac_{pop}*({rate})"
            out.rule(f"{r.name}_{pop}", pattern(text), rate, delete_molecules=r.delete_molecules)
    for o in model.observables.values():
        cell = any(cell_side(t) for t in o.texts)
        bound = any("!" in t for t in o.texts)
        if not cell:
            out.observable(o.name, list(o.texts), kind=o.kind)
        if not (cell or bound):
            continue
        for pop in pops:
            pattern, _, comps = rename[pop]
            if cell:
                texts = [pattern(t) for t in o.texts]
            else:  # medium molecules bound to a cell: restrict to the population's compartments
                texts = [f"@{comps[c]}::{t}" for t in o.texts for c in cell_comps]
            out.observable(f"{o.name}_{pop}_all", texts, kind=o.kind)
            out.function(f"{o.name}_{pop}", f"{o.name}_{pop}_all/frac_{pop}",
                         units="molecule" if model.require_units else None)
    return out
