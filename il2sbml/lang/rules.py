"""Rule compilation: a rule's molecule and site map, operations, reaction centre, symmetry factor
and rate units (a :class:`CompiledRule`), checked when the rule is declared.

``Model.rule`` (:mod:`il2sbml.lang.dsl`) compiles every rule as it is declared, so a bad rule
fails at its own line; the network generator (:mod:`il2sbml.generate.netgen`) applies the
compiled rules. The conventions (BioNetGen's ``MultScale``) are described there, under
"Statistical factors".

Takes a :class:`~il2sbml.lang.dsl.Model` and one of its rules; gives a :class:`CompiledRule`.

Rate laws (BioNetGen's ``Perl2/RateLaw.pm``; checked against BNG2.pl's networks and
run_network's ODE trajectories in ``tests/test_bngl_ratelaws.py``). A rule's rate is an
elementary rate constant (an expression; mass action), or the whole rate is one of

* ``MM(kcat, Km)``: exactly two reactant patterns, substrate first and enzyme second, not the
  same pattern. A reaction's rate on the amounts ``S`` of its first reactant species and ``E``
  of its second is BioNetGen's free-substrate quasi-steady-state Michaelis-Menten law::

      b = S - Km - E;   S_free = (b + sqrt(b^2 + 4*Km*S)) / 2;   rate = kcat * E * S_free / (Km + S_free)

* ``Sat(kcat, K1, ..., Km)``, ``m`` at most the number of reactant patterns: on the reactant
  amounts ``X1 .. Xn`` (in pattern order), ``kcat * X1*...*Xn / ((K1 + X1)*...*(Km + Xm))``.

Both are multiplied by the reaction's statistical factor and, with compartments, its volume
factor, as an elementary rate is (BNG2.pl writes ``2*MM kcat Km`` and ``0.5*Sat k0 K1`` in
its ``.net``). Their constants are parameters; they are supported in dimension-free models
(BNGL, or DSL models without units).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from itertools import permutations, product
from typing import TYPE_CHECKING

from .errors import ModelError, NotSupportedError, UnitError
from .expr import ExprError, rate_law
from .graph import ANY, BOUND, CompiledPattern, pattern_isomorphisms
from .units import Unit, rate_unit_options

if TYPE_CHECKING:      # annotations only: the DSL imports this module, not the other way round
    from .dsl import Model, Rule



@dataclass
class CompiledRule:
    rule: Rule
    patterns: list                     # CompiledPattern per reactant
    include: dict                      # reactant index -> [CompiledPattern]
    exclude: dict
    include_p: dict                    # product index -> [CompiledPattern]
    exclude_p: dict
    state_changes: list                # (pi, mi, ci, state)
    bond_del: list                     # ((pi, mi, ci), (pi, mi, ci))
    bond_add: list                     # (end, end); end = ('r', pi, mi, ci) | ('n', k, ci)
    mol_del: list                      # (pi, mi)
    species_del: list                  # pi
    created: list                      # (type, compartment, [(name, state | ('inherit', (pi,mi,ci)))])
    product_members: list              # per product pattern: [('r', pi, mi) | ('n', k)]
    product_compartments: list         # per product pattern: species compartment or None
    centre: list                       # per reactant pattern: list of centre elements
    factor: float
    functional: bool
    unit: Unit | None                  # the rate's unit (None: unitless model)
    order: int = 0
    fixed_products: list = field(default_factory=list)
    law: str | None = None             # "MM" or "Sat" for those rate laws; None: elementary


def compile_rule(model: Model, rule: Rule, *, check_only: bool = False) -> CompiledRule:
    """Validate a rule and derive its operations, reaction centre and symmetry factor."""
    comp = f"rule {rule.name!r}"
    origin = rule.origin

    def err(msg, hint=None, cls=ModelError):
        return cls(msg, origin=origin, component=comp, hint=hint)

    R, P = rule.reactants, rule.products
    bngl = getattr(model, "dialect", "dsl") == "bngl"
    rmols = [(pi, mi) for pi, g in enumerate(R) for mi in range(len(g.mols))]
    pmols = [(qj, mj) for qj, g in enumerate(P) for mj in range(len(g.mols))]
    # ---- molecule map, by %label then by type in order
    mapping: dict = {}
    used: set = set()
    labels_r = {R[pi].mols[mi].label: (pi, mi) for pi, mi in rmols if R[pi].mols[mi].label}
    for qj, mj in pmols:
        lab = P[qj].mols[mj].label
        if lab and lab in labels_r:
            src = labels_r[lab]
            if R[src[0]].mols[src[1]].type != P[qj].mols[mj].type:
                raise err(f"molecule label %{lab} joins different types "
                          f"{R[src[0]].mols[src[1]].type} and {P[qj].mols[mj].type}")
            mapping[(qj, mj)] = src
            used.add(src)
    for qj, mj in pmols:
        if (qj, mj) in mapping or P[qj].mols[mj].label in labels_r:
            continue
        t = P[qj].mols[mj].type
        for pi, mi in rmols:
            if (pi, mi) not in used and R[pi].mols[mi].type == t and not R[pi].mols[mi].label:
                if bngl and Counter(c.name for c in R[pi].mols[mi].comps) != \
                        Counter(c.name for c in P[qj].mols[mj].comps):
                    # BNG2.pl maps molecules only to one with the same sites: otherwise the
                    # reactant molecule is deleted and the product one created
                    continue
                mapping[(qj, mj)] = (pi, mi)
                used.add((pi, mi))
                break
    inv = {v: k for k, v in mapping.items()}

    # ---- site map for mapped molecules
    compmap: dict = {}   # (pi, mi, ci) -> (qj, mj, cj)
    for (qj, mj), (pi, mi) in mapping.items():
        rm, pm = R[pi].mols[mi], P[qj].mols[mj]
        if (rm.compartment or R[pi].compartment) != (pm.compartment or P[qj].compartment) and \
                (pm.compartment is not None or P[qj].compartment is not None):
            raise NotSupportedError(f"{origin}: {comp}: moves {rm.type} between compartments; transport "
                                    "rules are not supported yet (declare one species per compartment)")
        rnames = Counter(c.name for c in rm.comps)
        pnames = Counter(c.name for c in pm.comps)
        if rnames != pnames:
            diff = sorted((set(rnames) ^ set(pnames)) | {n for n in rnames if rnames[n] != pnames.get(n)})
            raise err(f"molecule {rm.type}: site(s) {', '.join(diff)} appear on one side of the rule only",
                      hint="list the same sites of a molecule on both sides")
        for name in rnames:
            ri = [i for i, c in enumerate(rm.comps) if c.name == name]
            pj = [j for j, c in enumerate(pm.comps) if c.name == name]
            best = None
            for perm in permutations(pj) if len(pj) <= 6 else [tuple(pj)]:
                score = 0
                for i, j in zip(ri, perm):
                    a, b = rm.comps[i], pm.comps[j]
                    score += (a.state != b.state) + (_bond_kind(a.bond) != _bond_kind(b.bond))
                if best is None or score < best[0]:
                    best = (score, perm)
            for i, j in zip(ri, best[1]):
                compmap[(pi, mi, i)] = (qj, mj, j)
    cinv = {v: k for k, v in compmap.items()}

    # ---- created molecules
    created = []
    created_index: dict = {}
    for qj, mj in pmols:
        if (qj, mj) in mapping:
            continue
        pm = P[qj].mols[mj]
        mt = model.molecule_types[pm.type]
        comps = []
        by_name: dict = {}
        for j, c in enumerate(pm.comps):
            by_name.setdefault(c.name, []).append(j)
        pos_of: dict = {}
        taken: Counter = Counter()
        for site in mt.sites:
            k = taken[site]
            taken[site] += 1
            js = by_name.get(site, [])
            if k >= len(js):
                why = ""
                if bngl and any(R[pi].mols[mi].type == pm.type and (pi, mi) not in used for pi, mi in rmols):
                    why = (f" (no reactant {pm.type} has the same sites, so, as in BNG2.pl, this one is a new "
                           "molecule: list the same sites on both sides to change one)")
                raise err(f"new molecule {pm.type} must list every site; {site!r} is missing{why}",
                          hint=f"write it fully, e.g. {mt.declaration()}")
            c = pm.comps[js[k]]
            pos_of[js[k]] = len(comps)
            if c.bond not in (None,) and not isinstance(c.bond, int):
                raise err(f"new molecule {pm.type} has a wildcard bond on {site!r}")
            state = c.state
            if c.label is not None:
                src = [(pi, mi, ci) for pi, mi in rmols for ci, rc in enumerate(R[pi].mols[mi].comps)
                       if rc.label == c.label]
                if len(src) != 1:
                    raise err(f"%{c.label} on new molecule {pm.type} matches {len(src)} reactant sites; needs one")
                if state is None:
                    state = ("inherit", src[0])
            if state is None and mt.states.get(site):
                raise err(f"new molecule {pm.type} gives no state to site {site!r}",
                          hint=f"allowed: {', '.join(mt.states[site])}")
            comps.append((site, state))
        created_index[(qj, mj)] = (len(created), pos_of)
        created.append((pm.type, pm.compartment or P[qj].compartment, comps))

    # ---- operations
    state_changes, bond_del, bond_add, mol_del, species_del = [], [], [], [], []
    centre = [set() for _ in R]
    r_partner = {}
    for pi, g in enumerate(R):
        for (a, b) in g.bonds().values():
            r_partner[(pi,) + a] = (pi,) + b
            r_partner[(pi,) + b] = (pi,) + a
    p_partner = {}
    for qj, g in enumerate(P):
        for (a, b) in g.bonds().values():
            p_partner[(qj,) + a] = (qj,) + b
            p_partner[(qj,) + b] = (qj,) + a

    def p_end(qc):
        """A product site as an operation end: reactant-space if mapped, else created."""
        if qc in cinv:
            return ("r",) + cinv[qc]
        k, pos_of = created_index[qc[:2]]
        return ("n", k, pos_of[qc[2]])

    for rc, qc in compmap.items():
        pi, mi, ci = rc
        a = R[pi].mols[mi].comps[ci]
        b = P[qc[0]].mols[qc[1]].comps[qc[2]]
        if b.state is None and a.state is not None:
            raise err(f"site {R[pi].mols[mi].type}.{a.name} has state ~{a.state} on the left but none on the right",
                      hint="give the product its state")
        if b.state is not None and b.state != a.state:
            state_changes.append((pi, mi, ci, b.state))
            centre[pi].add(("c", mi, ci))
        ka, kb = _bond_kind(a.bond), _bond_kind(b.bond)
        if ka in ("+", "?") or kb in ("+", "?"):
            if bngl and ka == "?" and kb == "free":
                continue  # BNG2.pl keeps the site as it is (its bond, if any, stays)
            if ka != kb:
                raise err(f"site {R[pi].mols[mi].type}.{a.name} changes from {_show_bond(a.bond)} to "
                          f"{_show_bond(b.bond)}; a wildcard bond cannot be made or broken",
                          hint="name both ends of a bond that the rule makes or breaks")
    # bonds deleted: reactant bonds whose image is not a product bond between the images
    for x, y in r_partner.items():
        if x > y:
            continue
        qx, qy = compmap.get(x), compmap.get(y)
        if qx is not None and qy is not None and p_partner.get(qx) == qy:
            continue
        if qx is None and qy is None:
            continue  # both ends on deleted molecules: implicit
        for end, q in ((x, qx), (y, qy)):
            if q is not None and p_partner.get(q) is not None and not bngl:
                # BNG2.pl reads this as the old bond broken and the new one made (below)
                raise err("a site's bond is moved to a new partner in one step; break and make bonds in separate rules")
        if qx is None or qy is None:
            # one end deleted with its molecule: the bond goes with it (not reaction centre)
            continue
        bond_del.append((x, y))
        centre[x[0]].add(("c", x[1], x[2]))
        centre[y[0]].add(("c", y[1], y[2]))
    # bonds added
    for qx, qy in p_partner.items():
        if qx > qy:
            continue
        rx, ry = cinv.get(qx), cinv.get(qy)
        if rx is not None and ry is not None and r_partner.get(rx) == ry:
            continue
        for r in (rx, ry):
            if r is not None:
                bond = R[r[0]].mols[r[1]].comps[r[2]].bond
                if bond is not None and bngl and r in r_partner and (
                        compmap.get(r_partner[r]) is None or any(r in pair for pair in bond_del)):
                    bond = None  # its old bond is broken by this rule (or goes with a deleted molecule)
                if bond is not None:
                    raise err(f"site {R[r[0]].mols[r[1]].type}.{R[r[0]].mols[r[1]].comps[r[2]].name} gains a bond but "
                              f"is not free on the left ({_show_bond(bond)})",
                              hint="a site that binds must be written free on the left")
                centre[r[0]].add(("c", r[1], r[2]))
        bond_add.append((p_end(qx), p_end(qy)))
    # deleted molecules
    for pi, g in enumerate(R):
        gone = [mi for mi in range(len(g.mols)) if (pi, mi) not in inv]
        if not gone:
            continue
        if rule.delete_molecules or len(gone) < len(g.mols):
            for mi in gone:
                mol_del.append((pi, mi))
                centre[pi].add(("m", mi))
        else:
            species_del.append(pi)
            centre[pi].add(("s",))
    # product membership
    product_members = []
    for qj, g in enumerate(P):
        members = []
        for mj in range(len(g.mols)):
            if (qj, mj) in mapping:
                members.append(("r",) + mapping[(qj, mj)])
            else:
                members.append(("n", created_index[(qj, mj)][0]))
        product_members.append(members)

    patterns = [CompiledPattern(g) for g in R]
    cr = CompiledRule(
        rule=rule, patterns=patterns,
        include={k: [CompiledPattern(g) for g in v] for k, v in rule.include_reactants.items()},
        exclude={k: [CompiledPattern(g) for g in v] for k, v in rule.exclude_reactants.items()},
        include_p={k: [CompiledPattern(g) for g in v] for k, v in rule.include_products.items()},
        exclude_p={k: [CompiledPattern(g) for g in v] for k, v in rule.exclude_products.items()},
        state_changes=state_changes, bond_del=bond_del, bond_add=bond_add, mol_del=mol_del,
        species_del=species_del, created=created, product_members=product_members,
        product_compartments=[g.compartment for g in P],
        centre=[sorted(c) for c in centre], factor=1.0, functional=False, unit=None, order=len(R))
    if not any([state_changes, bond_del, bond_add, mol_del, species_del, created]):
        if getattr(model, "dialect", "dsl") != "bngl":
            raise err("the rule changes nothing: its two sides are the same",
                      hint="check the states and bonds on the right-hand side")
        # BNG2.pl accepts such a rule and drops every reaction it makes (RxnList::add: reactants
        # equal products), so a BNGL file gets the same network, with a warning (once: when the
        # network is generated, not when the rule is checked at its declaration)
        if not check_only:
            warnings.warn(f"{rule.origin or model.name}: rule {rule.name!r} changes nothing (its two sides are "
                          "the same): it makes no reaction, as in BNG2.pl", stacklevel=2)
    cr.factor = _symmetry_factor(cr, rule, mapping, compmap)
    _compile_rate(model, cr, err)
    return cr


def _bond_kind(bond):
    if bond is None:
        return "free"
    if bond == BOUND:
        return "+"
    if bond == ANY:
        return "?"
    return "bond"


def _show_bond(bond):
    return {"free": "free", "+": "!+", "?": "!?", "bond": "bonded"}[_bond_kind(bond)]


def _symmetry_factor(cr: CompiledRule, rule: Rule, mapping: dict, compmap: dict) -> float:
    """BioNetGen's MultScale = |Stab(RC)| / |RG| / (context permutations)."""
    R, P = rule.reactants, rule.products
    pats = cr.patterns
    n = len(pats)
    # automorphisms of the reactant side, as (sigma, per-pattern (molmap, compmap))
    iso_cache: dict = {}

    def isos(i, j):
        if (i, j) not in iso_cache:
            iso_cache[(i, j)] = pattern_isomorphisms(pats[i], pats[j])
        return iso_cache[(i, j)]

    autos = []
    for sigma in permutations(range(n)):
        lists = [isos(i, sigma[i]) for i in range(n)]
        if any(not lst for lst in lists):
            continue
        for combo in product(*lists):
            autos.append((sigma, combo))
    inv_map = {v: k for k, v in mapping.items()}
    prod_partner = {}
    for qj, g in enumerate(P):
        for (a, b) in g.bonds().values():
            prod_partner[(qj,) + a] = (qj,) + b
            prod_partner[(qj,) + b] = (qj,) + a

    def induced(auto):
        """The product permutation induced by a reactant automorphism, or None."""
        sigma, combo = auto
        mol_perm = {}
        for (qj, mj), (pi, mi) in mapping.items():
            img = (sigma[pi], combo[pi][0][mi])
            if img not in inv_map:
                return None
            mol_perm[(qj, mj)] = inv_map[img]
        for (pi, mi) in [(pi, mi) for pi, g in enumerate(R) for mi in range(len(g.mols))]:
            if (pi, mi) not in inv_map and (sigma[pi], combo[pi][0][mi]) in inv_map:
                return None  # a deleted molecule would map onto a kept one
        comp_perm = {}
        for (pi, mi, ci), q in compmap.items():
            img = (sigma[pi], combo[pi][0][mi], combo[pi][1][mi][ci])
            if img not in compmap:
                return None
            comp_perm[q] = compmap[img]
        return mol_perm, comp_perm

    def is_product_auto(mol_perm, comp_perm):
        block = {}
        for (qj, mj), (qj2, mj2) in mol_perm.items():
            if block.setdefault(qj, qj2) != qj2:
                return False
            a, b = P[qj].mols[mj], P[qj2].mols[mj2]
            if a.type != b.type or a.compartment != b.compartment:
                return False
        for q, q2 in comp_perm.items():
            a = P[q[0]].mols[q[1]].comps[q[2]]
            b = P[q2[0]].mols[q2[1]].comps[q2[2]]
            if a.name != b.name or a.state != b.state or _bond_kind(a.bond) != _bond_kind(b.bond):
                return False
            partner = prod_partner.get(q)
            if partner is not None:
                img = comp_perm.get(partner, partner)
                if prod_partner.get(q2) != img:
                    return False
        return True

    rule_group = []
    for auto in autos:
        ind = induced(auto)
        if ind is not None and is_product_auto(*ind):
            rule_group.append(auto)
    stab = 0
    for sigma, combo in rule_group:
        ok = True
        for pi, elems in enumerate(cr.centre):
            for el in elems:
                if el[0] == "s":
                    ok = sigma[pi] == pi
                elif el[0] == "m":
                    ok = sigma[pi] == pi and combo[pi][0][el[1]] == el[1]
                else:
                    ok = (sigma[pi] == pi and combo[pi][0][el[1]] == el[1]
                          and combo[pi][1][el[1]][el[2]] == el[2])
                if not ok:
                    break
            if not ok:
                break
        stab += ok
    # context reactant patterns, grouped by isomorphism
    context = [i for i in range(n) if not cr.centre[i]]
    crg = 1
    while context:
        i = context.pop(0)
        same = [j for j in context if isos(i, j)]
        for j in same:
            context.remove(j)
        crg *= math.factorial(len(same) + 1)
    return stab / len(rule_group) / crg


def _compile_rate(model: Model, cr: CompiledRule, err) -> None:
    rule = cr.rule
    rate = rule.rate
    law = rate_law(rate) if not (rate.calls & set(model.functions)) else None
    if law is not None:
        _compile_rate_law(model, cr, law, err)
        return
    cr.functional = bool(rate.calls & set(model.functions)) or bool(rate.names & set(model.observables))
    try:
        unit = model.expr_unit(rate)
    except ExprError as exc:
        raise err(f"rate {rate.text!r}: {exc}", cls=UnitError) from None
    if unit == "mixed":
        raise err(f"rate {rate.text!r} mixes names with and without units", cls=UnitError,
                  hint="declare units on every parameter the rate uses")
    if unit is None:
        if model.require_units:
            raise err(f"rate {rate.text!r} has no units", cls=UnitError, hint="declare the parameter's units")
        cr.unit = None
        return
    order = len(rule.reactants)
    options = rate_unit_options(order, None)
    if not any(unit.dims == u.dims for _, u in options):
        expect = " or ".join(f"{u.describe()} ({kind})" for kind, u in options)
        raise err(f"rate {rate.text!r} has units {unit.describe()}, but a rule with {order} reactant"
                  f"{'s' if order != 1 else ''} needs {expect}", cls=UnitError,
                  hint="check the rate constant's units and the rule's molecularity")
    if unit.dims != options[0][1].dims and not model.compartments:
        raise err(f"rate {rate.text!r} is concentration-based ({unit.describe()}) but the model has no "
                  "compartments to convert it", cls=UnitError,
                  hint="declare compartments with sizes, or give the rate per molecule")
    cr.unit = unit


def _compile_rate_law(model: Model, cr: CompiledRule, law, err) -> None:
    """``MM(kcat, Km)`` and ``Sat(kcat, K1, ...)``: BioNetGen's checks (``RateLaw::validate``)."""
    name, args = law
    rule = cr.rule
    n = len(rule.reactants)
    if name == "MM":
        if n != 2:
            raise err(f"the MM() rate law needs exactly 2 reactants (substrate + enzyme), this rule has {n}",
                      hint="write the rule as Substrate + Enzyme -> Product + Enzyme")
        if cr.patterns and pattern_isomorphisms(cr.patterns[0], cr.patterns[1]):
            raise err("the MM() rate law needs two different reactant patterns (substrate, then enzyme)")
    elif len(args) - 1 > n:
        raise err(f"Sat() has {len(args) - 1} saturation constants but the rule has {n} reactant"
                  f"{'s' if n != 1 else ''}", hint="give at most one saturation constant per reactant")
    for a in args:
        try:
            unit = model.expr_unit(a)
        except ExprError as exc:
            raise err(f"rate {rule.rate.text!r}: {exc}", cls=UnitError) from None
        if unit is not None:
            raise err(f"the {name}() rate law takes constants without units ({a.text!r} has units)",
                      cls=UnitError, hint=f"{name}() is supported in dimension-free models (BNGL, or a DSL "
                      "model without units); write the rate as a function of observables instead")
    if model.require_units or any(x.unit is not None for x in (*model.parameters.values(),
                                                                  *model.compartments.values())):
        raise err(f"the {name}() rate law in a model with units", cls=UnitError,
                  hint=f"{name}() is supported in dimension-free models (BNGL, or a DSL model without units); "
                  "write the rate as a function of observables instead")
    cr.functional = False
    cr.unit = None
    cr.law = name
