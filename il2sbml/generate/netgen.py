"""Network generation: expand a rule-based :class:`~il2sbml.lang.dsl.Model` into a :class:`Network`.

Algorithm
---------
Rules are applied to species iteratively, as BioNetGen's ``generate_network`` does:

1. The seed species are canonicalised (:func:`il2sbml.lang.graph.canonicalise`) and numbered.
2. Each *iteration* takes a snapshot of the species list. For every rule (forward and
   reverse directions are separate :class:`CompiledRule` objects) and every reactant
   pattern, the embeddings of the pattern into the snapshot's *new* species are found
   (:func:`il2sbml.lang.graph.embeddings`). Embeddings of one pattern into one species that agree
   on the rule's *reaction centre* (the sites and molecules the rule changes) are lumped:
   they lead to the same reaction.
3. Rule instances are the Cartesian product of the per-pattern embedding lists, formed
   incrementally so that each combination is visited exactly once over the whole run
   (when pattern *k* gains new embeddings, they are combined with the updated lists of
   patterns before *k* and the old lists of patterns after it).
4. Each instance is applied (``_apply``): reactant copies are joined into one
   working graph, the rule's operations (bond deletion and addition, state change, molecule
   deletion or creation, whole-species deletion) are performed, and the result is split into
   connected products, one per product pattern. A product is first looked up by its tree
   key (:func:`il2sbml.lang.graph.tree_key`, a complete invariant of tree-shaped complexes); only
   a product not recognised that way is canonicalised and looked up by label, and unseen
   ones become new species.
5. A reaction is keyed by its sorted reactant and product indices and its rate law;
   instances with the same key add their statistical weight. Reactions whose products equal
   their reactants are dropped. Reactions of ``MM()`` and ``Sat()`` rules keep their reactants
   in the rule's pattern order (the law reads them by position; see :mod:`il2sbml.lang.rules`).
6. Iteration stops when an iteration adds no species, or at ``max_iter``.

Statistical factors
-------------------
Each rule carries a symmetry factor (BioNetGen's ``MultScale``)::

    factor = |Stab(RC)| / |RG| / prod(n_i!)

``RG`` is the group of automorphisms of the reactant patterns that induce an automorphism of
the product patterns through the rule map; ``Stab(RC)`` its subgroup fixing every
reaction-centre element; ``n_i`` the number of mutually isomorphic reactant patterns that
are pure context (no reaction centre). The rate of a generated reaction is
``factor * (number of distinct instances) * k``. This reproduces BioNetGen's conventions:
``A(b)+A(b)`` on one species gives ``0.5*k`` and its reverse ``k``; on ``A(b~0)+A(b~1)``
``k``; a bivalent ligand ``L(l,l)`` binding ``R(r,r)`` gives ``4*k``; a dimer with two
equivalent bonds breaks at ``2*k``; context (catalyst) copies are not divided; deleting a
whole species counts once however many molecules match.

Call hierarchy
--------------
``generate_network(model)`` → ``_Generator.run`` → per iteration, per rule:
``_Generator._find`` (feature filter, embeddings, reaction-centre lumping) →
``_Generator._instances`` → ``_apply`` (operations on a copy-on-write ``_Work`` graph,
product split) → ``_Generator.make_species`` (limits, tree key, canonical label for
unrecognised products) → ``_Generator.add_species`` / ``_Generator.add_reaction``. Rules
are compiled once by ``compile_rule`` (:mod:`il2sbml.lang.rules`, called from ``Model.rule`` so that a bad rule fails
at its declaration line): molecule and site correspondence, operations, reaction centre,
symmetry factor, rate-law kind and units.

Design decisions
----------------
* Species identity is the canonical BNGL label (a string), so lookups are dictionary hits,
  labels are readable and the output order is deterministic: species are numbered in order
  of discovery, which depends only on the rule order and the canonical labels.
* Molecules of a rule are mapped reactant → product by ``%`` labels first, then by type in
  left-to-right order; repeated sites by the assignment that changes the fewest constraints.
* Default limits raise (naming the rule that keeps growing the network); explicit limits
  truncate as BioNetGen does. An aggregate bigger than ``max_agg`` (default 30 molecules,
  raising) is the usual signature of unbounded polymerisation, so it is caught early, before
  canonicalising ever larger complexes. A model read from BNGL (``dialect="bngl"``) gets
  BioNetGen's defaults instead (``max_iter`` 100 and ``max_agg`` 10^9, both truncating, with a
  warning when ``max_iter`` cuts the network short), so that its network is BNG2.pl's;
  ``max_species``, ``max_reactions`` and ``timeout`` still raise.
* Reactions from different rules with the same reactants, products and rate law are merged
  (as BioNetGen does); ``NetReaction.rules`` lists every contributing rule. In a model read
  from BNGL only rates that are names (``k1``, ``f()``, ``MM(kcat,Km)``) merge: BioNetGen gives
  a number or an expression its own ``_rateLawN`` per rule, so such reactions stay apart.

Performance notes
-----------------
Most products of a large network are species met before (20,412 reactions of the
scaffold_7 benchmark make 25,515 products of only 2,194 species), so recognising them
cheaply matters more than anything else:

* **Tree keys instead of canonical labels for known products.** Signalling complexes are
  almost always trees (no rings), and a tree has a cheap complete invariant: the AHU code
  rooted at its centre (:func:`il2sbml.lang.graph.tree_key`, linear in the complex's size
  with a sort per molecule, no search). Each species records the key under which it was
  first met, so a product with a known key is that species, without canonical labelling.
  Unrecognised products (new species, ring-shaped complexes such as blbr's) go through
  :func:`~il2sbml.lang.graph.canonicalise` as before, and the canonical label stays the only
  source of species names and order: the key decides only *whether* a product is known,
  never what it is called, so networks are identical to those made without it.
* **Copy-on-write working graph.** ``_Work`` shares the reactants' rows and copies a row
  only when the rule changes it; untouched molecules keep their species' cached
  :func:`~il2sbml.lang.graph.mol_info`, so a product's key re-reads only the molecules the rule
  touched.
* **Feature filter before embedding.** Each species has the set of ``(type, site, state)``
  and ``(type, site, bound/free)`` features it carries; a pattern requires a fixed subset,
  so a set inclusion rejects most species before the backtracking search.

Embedding is a backtracking search that follows bonds, so its cost is proportional to the
number of matches rather than to species size. Canonical labelling (new species only)
costs O(rounds × n log n) per product for n molecules+sites; free identical sites on one
molecule are branched on once. Incremental instance formation means each (rule, reactant
tuple) is tried once. ``benchmarks/netgen.py`` compares the generator with BNG2.pl on the
same BNGL files; ``docs/benchmarks.md`` has the figures (about 10 to 20 times faster than
BNG2.pl on networks of 1,600 to 153,000 reactions, 153,090 reactions in ~15 s and
~220 MB of RSS).
"""

from __future__ import annotations

import operator
import re
import time
import warnings
from collections import Counter
from itertools import product

from ..lang.dsl import Model
from ..lang.errors import ModelError, NetworkLimitError, UnitError
from ..lang.expr import Expr
from ..lang.graph import (
    CompiledPattern,
    Species,
    canonicalise,
    embeddings,
    mol_info,
    species_from_graph,
    tree_key_from,
)
from ..lang.rules import CompiledRule, compile_rule
from ..lang.units import MOLECULE, Unit
from .network import (
    ModelInfo,
    NetFunction,
    NetObservable,
    NetReaction,
    NetSpecies,
    Network,
)

DEFAULT_MAX_ITER = 100
DEFAULT_MAX_AGG = 30
# BioNetGen's own generate_network defaults (BNG2.pl 2.9.3, BNGModel.pm / BNGAction.pm): they
# truncate, with a warning, rather than raise.  Only models read from BNGL (dialect "bngl") get
# them, so that a BNGL file gives BNG2.pl's network; DSL models keep the fail-fast defaults above.
BNG_DEFAULT_MAX_ITER = 100
BNG_DEFAULT_MAX_AGG = 10**9
DEFAULT_MAX_SPECIES = 20_000
DEFAULT_MAX_REACTIONS = 200_000
DEFAULT_TIMEOUT = 600.0
# a rate that BioNetGen names by itself (a parameter or function name, or MM()/Sat() of names):
# reactions of different rules with such a rate merge, as in BioNetGen
_NAME = r"[A-Za-z_]\w*"
_COUNT_OPS = {"==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SHARED_RATE = re.compile(rf"^\s*(?:{_NAME}(?:\s*\(\s*\))?|(?:MM|Sat)\s*\(\s*{_NAME}(?:\s*,\s*{_NAME})*\s*\))\s*$")


# ======================================================================================
# Rule application
# ======================================================================================

class _Work:
    """A working graph built from the reactant species of one rule instance.

    Rows (``cstate[m]``, ``partner[m]``) start shared with the reactant species and are
    copied before they are changed (:meth:`set_state`, :meth:`set_partner`), so building
    the graph costs little more than list concatenation. ``info[m]`` is the reactant
    molecule's cached :func:`~il2sbml.lang.graph.mol_info` while the molecule is unchanged and
    ``None`` once the rule has touched it.
    """

    __slots__ = ("mtype", "mcomp", "cname", "cstate", "partner", "alive", "offsets", "info")

    def __init__(self, species_list):
        first = species_list[0] if species_list else None
        if len(species_list) == 1:
            self.mtype, self.mcomp = list(first.mtype), list(first.mcomp)
            self.cname, self.cstate = list(first.cname), list(first.cstate)
            self.partner = list(first.partner)  # offset 0: the species' rows are valid as they are
            self.info = list(first.mol_info())
            self.offsets = [0]
        else:
            self.mtype, self.mcomp, self.cname, self.cstate, self.partner, self.info = [], [], [], [], [], []
            self.offsets = []
            for sp in species_list:
                off = len(self.mtype)
                self.offsets.append(off)
                self.mtype.extend(sp.mtype)
                self.mcomp.extend(sp.mcomp)
                self.cname.extend(sp.cname)
                self.cstate.extend(sp.cstate)
                if off:
                    self.partner.extend([[None if p is None else (p[0] + off, p[1]) for p in row]
                                         for row in sp.partner])
                else:
                    self.partner.extend(sp.partner)
                self.info.extend(sp.mol_info())
        self.alive = [True] * len(self.mtype)

    def set_state(self, m, c, state):
        row = list(self.cstate[m])
        row[c] = state
        self.cstate[m] = row
        self.info[m] = None

    def set_partner(self, m, c, p):
        row = list(self.partner[m])
        row[c] = p
        self.partner[m] = row
        self.info[m] = None


def _apply(cr: CompiledRule, match_tuple, gen) -> tuple | None:
    """Apply a rule instance; return (product Species list) or None if the instance is void."""
    species_list = [m[0] for m in match_tuple]
    w = _Work(species_list)
    off = w.offsets

    def rmol(pi, mi):
        return off[pi] + match_tuple[pi][1][mi]

    def rsite(pi, mi, ci):
        return rmol(pi, mi), match_tuple[pi][2][mi][ci]

    for pi, mi, ci, state in cr.state_changes:
        m, c = rsite(pi, mi, ci)
        w.set_state(m, c, state)
    for x, y in cr.bond_del:
        mx, cx = rsite(*x)
        my, cy = rsite(*y)
        w.set_partner(mx, cx, None)
        w.set_partner(my, cy, None)
    for pi, mi in cr.mol_del:
        m = rmol(pi, mi)
        w.alive[m] = False
        for c, p in enumerate(w.partner[m]):
            if p is not None:
                w.set_partner(p[0], p[1], None)
                w.set_partner(m, c, None)
    for pi in cr.species_del:
        start = off[pi]
        for m in range(start, start + len(species_list[pi])):
            w.alive[m] = False
    new_mol = []
    for mtype, mcomp, comps in cr.created:
        new_mol.append(len(w.mtype))
        w.mtype.append(mtype)
        w.mcomp.append(mcomp)
        w.cname.append([c[0] for c in comps])
        states = []
        for _, st in comps:
            if isinstance(st, tuple):  # ("inherit", reactant site): copy its current state
                m, c = rsite(*st[1])
                st = w.cstate[m][c]
            states.append(st)
        w.cstate.append(states)
        w.partner.append([None] * len(comps))
        w.alive.append(True)
        w.info.append(None)
    for a, b in cr.bond_add:
        ma, ca = rsite(*a[1:]) if a[0] == "r" else (new_mol[a[1]], a[2])
        mb, cb = rsite(*b[1:]) if b[0] == "r" else (new_mol[b[1]], b[2])
        if w.partner[ma][ca] is not None or w.partner[mb][cb] is not None:
            return None
        w.set_partner(ma, ca, (mb, cb))
        w.set_partner(mb, cb, (ma, ca))
    # split into connected products, one per product pattern
    seen = [False] * len(w.mtype)
    products = []
    for members in cr.product_members:
        seeds = [rmol(h[1], h[2]) if h[0] == "r" else new_mol[h[1]] for h in members]
        start = seeds[0]
        if seen[start]:
            return None  # two product patterns ended up in one complex
        comp = _component(w, start, seen)
        cset = set(comp)
        if any(s not in cset for s in seeds):
            return None  # a product pattern's molecules are not connected
        products.append(comp)
    extra = []
    if sum(map(len, products)) != w.alive.count(True):
        for m in range(len(w.mtype)):
            if w.alive[m] and not seen[m]:
                if not cr.rule.delete_molecules:
                    return None
                extra.append(_component(w, m, seen))
    out = []
    for k, comp in enumerate(products + extra):
        sp = gen.make_species(w, comp, cr, k if k < len(products) else None, species_list)
        if sp is None:
            return None
        out.append(sp)
    return out


def _product_key(w: _Work, comp: list, compartment) -> str | None:
    """:func:`~il2sbml.lang.graph.tree_key` of one product, reusing the reactants' cached molecule info."""
    info = w.info
    for m in comp:
        if info[m] is None:
            info[m] = mol_info(w.mtype[m], w.mcomp[m] or compartment, w.cname[m], w.cstate[m], w.partner[m])
    return tree_key_from(comp, info, w.partner, compartment)


def _component(w: _Work, start: int, seen: list) -> list:
    stack = [start]
    seen[start] = True
    comp = []
    while stack:
        m = stack.pop()
        comp.append(m)
        for p in w.partner[m]:
            if p is not None and not seen[p[0]] and w.alive[p[0]]:
                seen[p[0]] = True
                stack.append(p[0])
    return sorted(comp)


# ======================================================================================
# The generator
# ======================================================================================

class _Generator:
    def __init__(self, model: Model, limits):
        self.model = model
        self.limits = limits
        self.comp_order = model.site_order()
        self.species: list[Species] = []
        self.by_label: dict[str, int] = {}
        self.by_key: dict[str, int] = {}      # graph.tree_key -> species index
        self.initial: dict[int, Expr] = {}
        self.initial_unit: dict = {}
        self.fixed: set = set()
        self.reactions: dict = {}
        self.reaction_order: list = []
        self.made_by: Counter = Counter()
        self.t0 = time.monotonic()
        self.dims = {c.name: c.dimension for c in model.compartments.values()}
        self.parents = {c.name: c.parent for c in model.compartments.values()}
        self.current_rule = None
        self.truncated = False
        self.bngl = getattr(model, "dialect", "dsl") == "bngl"

    # ---------------- species
    def make_species(self, w: _Work, comp: list, cr: CompiledRule, prod_index, reactants) -> Species | None:
        lim = self.limits
        if len(comp) > lim["max_agg"]:
            if lim["max_agg_explicit"]:
                return None
            raise NetworkLimitError(
                f"rule {cr.rule.name!r} makes a complex of {len(comp)} molecules, more than max_agg="
                f"{lim['max_agg']} (the default): the rules seem to polymerise without bound. "
                "Set max_agg or max_stoich to bound aggregates, or max_iter to truncate the network",
                rule=cr.rule.name)
        if lim["max_stoich"]:
            counts = Counter(w.mtype[m] for m in comp)
            for mol, cap in lim["max_stoich"].items():
                if counts.get(mol, 0) > cap:
                    return None
        compartment = None
        if self.dims:
            compartment = self._infer_compartment([w.mcomp[m] for m in comp], cr, prod_index, reactants)
            if compartment is None:
                return None
        # a product met before is recognised by its tree key, without the canonical search
        key = _product_key(w, comp, compartment)
        idx = self.by_key.get(key) if key is not None else None
        if idx is not None:
            sp = self.species[idx]
        else:
            pos = {m: i for i, m in enumerate(comp)}
            mtype = [w.mtype[m] for m in comp]
            mcomp = [w.mcomp[m] for m in comp]
            if self.dims:
                mcomp = [c if c is not None else compartment for c in mcomp]
            cname = [w.cname[m] for m in comp]
            cstate = [list(w.cstate[m]) for m in comp]
            partner = [[None if p is None else (pos[p[0]], p[1]) for p in w.partner[m]] for m in comp]
            sp = canonicalise(mtype, mcomp, cname, cstate, partner, compartment, self.comp_order)
            sp.key = key
        if prod_index is not None:
            if prod_index in cr.exclude_p and any(embeddings(p, sp) for p in cr.exclude_p[prod_index]):
                return None
            if prod_index in cr.include_p and not any(embeddings(p, sp) for p in cr.include_p[prod_index]):
                return None
            want = cr.product_compartments[prod_index]
            if want is not None and compartment != want:
                return None
        return sp

    def _infer_compartment(self, mcomp, cr, prod_index, reactants):
        present = {c for c in mcomp if c is not None}
        surfaces = {c for c in present if self.dims[c] == 2}
        if len(surfaces) > 1:
            return None
        if surfaces:
            return surfaces.pop()
        if len(present) > 1:
            return None  # volumes not bridged by a surface
        if present:
            return present.pop()
        if prod_index is not None and cr.product_compartments[prod_index]:
            return cr.product_compartments[prod_index]
        comps = [s.compartment for s in reactants]
        for c in comps:
            if c is not None and self.dims[c] == 2:
                return c
        for c in comps:
            if c is not None:
                return c
        raise ModelError("cannot place a product in a compartment", origin=cr.rule.origin,
                         component=f"rule {cr.rule.name!r}",
                         hint="give the product pattern a compartment, e.g. 'B()@cyt'")

    def _seed_compartment(self, mcomp, seed):
        surfaces = {c for c in mcomp if self.dims[c] == 2}
        volumes = {c for c in mcomp if self.dims[c] == 3}
        if len(surfaces) > 1 or (not surfaces and len(volumes) > 1):
            raise ModelError(f"seed {seed.text!r} spans compartments that cannot hold one complex",
                             origin=seed.origin, component=f"seed {seed.text!r}")
        return (surfaces or volumes).pop()

    def add_species(self, sp: Species, cr=None) -> int:
        if sp.index >= 0:
            return sp.index  # a known species, recognised by make_species
        idx = self.by_label.get(sp.label)
        if idx is not None:
            if sp.key is not None:
                self.by_key[sp.key] = idx
            return idx
        idx = len(self.species)
        sp.index = idx
        self.species.append(sp)
        self.by_label[sp.label] = idx
        if sp.key is not None:
            self.by_key[sp.key] = idx
        if cr is not None:
            self.made_by[cr.rule.name] += 1
        if len(self.species) > self.limits["max_species"]:
            raise NetworkLimitError(self._growth_message("species", self.limits["max_species"], cr),
                                    rule=cr.rule.name if cr else None)
        return idx

    def _growth_message(self, what, limit, cr):
        top = self.made_by.most_common(1)
        name = top[0][0] if top else (cr.rule.name if cr else "?")
        return (f"network generation passed max_{what}={limit}: rule {name!r} keeps growing the network "
                f"(it made {self.made_by.get(name, 0)} of {len(self.species)} species). "
                "Bound it with max_agg, max_stoich or max_iter, or raise the limit")

    # ---------------- reactions
    def add_reaction(self, cr: CompiledRule, reactant_idx, product_idx, weight):
        ps = tuple(sorted(product_idx))
        if tuple(sorted(reactant_idx)) == ps:
            return
        # the MM() and Sat() laws read their reactants by position (MM: substrate, then enzyme)
        rs = tuple(reactant_idx) if cr.law else tuple(sorted(reactant_idx))
        vf, uf = self._volume_factor(cr, rs, ps)
        rate = cr.rule.rate.text
        if self.bngl and (cr.rule.total_rate or not _SHARED_RATE.match(rate)):
            # BioNetGen merges reactions of different rules only when their rate laws have the same
            # constants *by name* (RateLaw::equivalent): a rate that is a number or an expression
            # becomes a new _rateLawN of its rule, and so does any rate of a TotalRate rule (forced
            # into a function), so such reactions stay apart
            rate = (rate, cr.rule.name)
        key = (rs, ps, rate, vf, uf)
        entry = self.reactions.get(key)
        if entry is None:
            entry = [0.0, cr, None]  # weight, first rule, every contributing rule once a second one adds
            self.reactions[key] = entry
            self.reaction_order.append(key)
            if len(self.reactions) > self.limits["max_reactions"]:
                raise NetworkLimitError(self._growth_message("reactions", self.limits["max_reactions"], cr),
                                        rule=cr.rule.name)
        elif cr is not entry[1]:
            name, names = cr.rule.name, entry[2]
            if names is None:
                if name != entry[1].rule.name:
                    entry[2] = [entry[1].rule.name, name]
            elif name not in names:
                names.append(name)
        entry[0] += weight

    def _volume_factor(self, cr: CompiledRule, rs, ps) -> tuple[str, float]:
        """(volume-factor expression, unit factor) for a reaction of this rule."""
        order = len(rs)
        unit = cr.unit
        uf = 1.0 if unit is None else unit.scale
        if not self.dims or order == 1:
            if unit is not None and order != 1 and unit.dims != (MOLECULE ** (1 - order) * Unit(1.0, time=-1)).dims:
                raise UnitError(f"rate {cr.rule.rate.text!r} needs a compartment volume", origin=cr.rule.origin,
                                component=f"rule {cr.rule.name!r}")
            return "1", uf
        if order == 0:
            comps = [self.species[p].compartment for p in ps]
            where = comps[0] if comps else None
        else:
            comps = [self.species[r].compartment for r in rs]
        if unit is None and order >= 2:
            # BioNetGen's cBNGL convention: one reactant is the anchor (a surface one if any,
            # else a volume one); divide by the sizes of the others' compartments, so that
            # S + S is /S, S + V and V + V are /V, S + S + V is /S/V.
            surf = [c for c in comps if self.dims.get(c) == 2]
            vols = [c for c in comps if self.dims.get(c) == 3]
            if surf:
                surf = surf[1:]
            else:
                vols = vols[1:]
            return volume_divisor(surf + vols), uf
        if unit is not None:
            per_molecule = unit.dims == (MOLECULE ** (1 - order) * Unit(1.0, time=-1)).dims
            if per_molecule:
                return "1", uf
            want_dim = 3 if unit.length == -3 * (1 - order) or unit.length == 3 * (order - 1) else 2
            if order == 0:
                want_dim = 3 if unit.length == -3 else 2
            cands = [c for c in (comps if order else [where]) if c is not None and self.dims[c] == want_dim]
            if order and want_dim == 3 and not cands:
                cands = [c for c in comps if c is not None and self.dims[c] == 3]
            if not cands:
                raise UnitError(f"rate {cr.rule.rate.text!r} is per {'volume' if want_dim == 3 else 'area'} "
                                f"but no reactant lies in a {want_dim}-D compartment",
                                origin=cr.rule.origin, component=f"rule {cr.rule.name!r}",
                                hint="use a rate per molecule, or per area for membrane reactions")
            if len(set(cands)) > 1:
                raise UnitError(f"rate {cr.rule.rate.text!r}: reactants lie in different compartments "
                                f"({', '.join(sorted(set(cands)))}); the reaction volume is ambiguous",
                                origin=cr.rule.origin, component=f"rule {cr.rule.name!r}")
            where = cands[0]
        if where is None:
            return "1", uf
        if order == 0:
            return where, uf
        return volume_divisor([where] * (order - 1)), uf

    # ---------------- main loop
    def run(self) -> Network:
        model = self.model
        lim = self.limits
        for seed in model.seeds:
            sp = species_from_graph(seed.pattern, self.comp_order)
            if self.dims:
                mcomp = [c or sp.compartment for c in sp.mcomp]
                comp = sp.compartment or self._seed_compartment(mcomp, seed)
                sp = canonicalise(sp.mtype, mcomp, sp.cname, [list(s) for s in sp.cstate],
                                  sp.partner, comp, self.comp_order)
            idx = self.add_species(sp)
            self.initial[idx] = seed.amount
            self.initial_unit[idx] = seed.unit
            if seed.fixed:
                self.fixed.add(idx)
        rules = [compile_rule(model, r) for r in model.rules]
        matches = [[[] for _ in cr.patterns] for cr in rules]
        processed = 0
        iteration = 0
        while True:
            if iteration >= lim["max_iter"]:
                if len(self.species) > processed:
                    if not lim["max_iter_explicit"]:
                        raise NetworkLimitError(self._growth_message("iter", lim["max_iter"], None))
                    self.truncated = True
                    if lim.get("warn_truncation"):
                        warnings.warn(f"{model.source or model.name}: network generation stopped at max_iter="
                                      f"{lim['max_iter']} (BioNetGen's default) with species left to expand: "
                                      "the network is truncated, as BNG2.pl truncates it", stacklevel=2)
                break
            snapshot = len(self.species)
            if snapshot == processed and iteration > 0:
                break
            iteration += 1
            new = self.species[processed:snapshot]
            for ri, cr in enumerate(rules):
                self.current_rule = cr
                if not cr.patterns:
                    # zero-order rules fire once, in rule order during the first iteration;
                    # their products are new species for the second (as in BioNetGen)
                    if iteration == 1:
                        prods = _apply(cr, (), self)
                        if prods is not None:
                            self.add_reaction(cr, (), [self.add_species(p, cr) for p in prods], cr.factor)
                    continue
                for k in range(len(cr.patterns) - 1, -1, -1):
                    fresh = self._find(cr, k, new)
                    if not fresh:
                        continue
                    lists = [matches[ri][j] if j != k else fresh for j in range(len(cr.patterns))]
                    self._instances(cr, lists)
                    matches[ri][k].extend(fresh)
                self._check_time(cr)
            for sp in new:
                sp._features = None  # only _find needs them, and only while the species is new
            processed = snapshot
        return self._freeze(rules, iteration)

    def _find(self, cr: CompiledRule, k: int, new) -> list:
        pat = cr.patterns[k]
        centre = cr.centre[k]
        inc = cr.include.get(k)
        exc = cr.exclude.get(k)
        required = pat.required
        out = []
        for n, sp in enumerate(new):
            if not n & 1023:
                self._check_time(cr)   # one iteration can be long: the timeout holds inside it too
            if not required <= sp.features():
                continue  # cheap rejection (the species lacks a state, site or bond the pattern needs)
            if inc and not any(embeddings(p, sp) for p in inc):
                continue
            if exc and any(embeddings(p, sp) for p in exc):
                continue
            found = embeddings(pat, sp)
            if not found:
                continue
            seen = set()
            for molmap, cmap in found:
                image = tuple(("s",) if el[0] == "s" else (molmap[el[1]],) if el[0] == "m"
                              else (molmap[el[1]], cmap[el[1]][el[2]]) for el in centre)
                if image in seen:
                    continue
                seen.add(image)
                out.append((sp, molmap, cmap))
        return out

    def _instances(self, cr: CompiledRule, lists) -> None:
        # A rule with one product pattern puts every surviving molecule into that product, so
        # its size and stoichiometry are known before the instance is built: skip instances
        # that max_agg / max_stoich would discard (most instances of binding rules near the cap).
        merged = len(cr.product_members) == 1 and not cr.rule.delete_molecules and not cr.species_del
        stoich = self.limits["max_stoich"]
        for n, combo in enumerate(product(*lists)):
            if not n & 4095:
                self._check_time(cr)
            if merged:
                size = sum(len(m[0]) for m in combo) + len(cr.created) - len(cr.mol_del)
                if size > self.limits["max_agg"] and self.limits["max_agg_explicit"]:
                    continue
                if stoich and any(sum(m[0].stoich(t) for m in combo) > cap for t, cap in stoich.items()
                                  if not any(c[0] == t for c in cr.created)
                                  and not any(combo[pi][0].mtype[combo[pi][1][mi]] == t for pi, mi in cr.mol_del)):
                    continue
            if self.dims and len(combo) > 1 and not _interacting([m[0].compartment for m in combo], self.dims):
                continue
            prods = _apply(cr, combo, self)
            if prods is None:
                continue
            pidx = [self.add_species(p, cr) for p in prods]
            self.add_reaction(cr, [m[0].index for m in combo], pidx, cr.factor)

    def _check_time(self, cr):
        if time.monotonic() - self.t0 > self.limits["timeout"]:
            raise NetworkLimitError(
                f"network generation passed its timeout of {self.limits['timeout']:g} s while applying rule "
                f"{cr.rule.name!r} ({len(self.species)} species, {len(self.reactions)} reactions so far)",
                rule=cr.rule.name)

    def _freeze(self, rules, iterations) -> Network:
        model = self.model
        params = model.parameter_values()
        sizes = {}
        for c in model.compartments.values():
            v = c.size.evaluate(params)
            sizes[c.name] = v * (c.unit.scale if c.unit is not None else 1.0)
        species = []
        for sp in self.species:
            species.append(NetSpecies(sp.index, sp.label, self.initial.get(sp.index), sp.index in self.fixed,
                                      sp.compartment, tuple(sp.mtype), self.initial_unit.get(sp.index)))
        reactions = []
        vf_exprs: dict = {}
        for i, key in enumerate(self.reaction_order):
            weight, cr, names = self.reactions[key]
            rs, ps, _, vf, uf = key
            if vf not in vf_exprs:
                vf_exprs[vf] = Expr.parse(vf)
            reactions.append(NetReaction(i, rs, ps, cr.rule.rate, weight, uf, vf_exprs[vf], cr.functional,
                                         cr.rule.name, tuple(names or (cr.rule.name,)), cr.unit))
        observables = []
        for o in model.observables.values():
            weights = []
            pats = [CompiledPattern(g) for g in o.patterns]
            counts = o.counts or (None,) * len(pats)
            for sp in self.species:
                if o.kind == "molecules":
                    w = sum(len(embeddings(p, sp)) for p in pats)
                else:
                    # a count constraint (BNGL ``R==2``) compares the number of matches
                    w = sum(1 for p, c in zip(pats, counts)
                            if (_COUNT_OPS[c[0]](len(embeddings(p, sp)), c[1]) if c else embeddings(p, sp)))
                if w:
                    weights.append((sp.index, float(w)))
            observables.append(NetObservable(o.name, o.kind, tuple(weights)))
        functions = [NetFunction(f.name, f.expr) for f in model.functions.values()]
        stats = {"iterations": iterations, "seconds": round(time.monotonic() - self.t0, 6),
                 "truncated": self.truncated}
        info = ModelInfo(model.name, model.doc, model.source, tuple(model.parameters.values()),
                         tuple(model.compartments.values()), tuple(model.molecule_types.values()),
                         tuple(model.functions.values()), tuple(model.observables.values()),
                         tuple(model.rules), model.created)
        return Network(model.name, species, reactions, observables, functions, params, sizes, stats,
                       self.comp_order, info)


def volume_divisor(comps) -> str:
    """``1/EC``, ``1/EC^2`` or ``1/(EC*PM)`` for the compartments a rate is divided by."""
    if not comps:
        return "1"
    counts = Counter(comps)
    if len(counts) == 1:
        (name, n), = counts.items()
        return f"1/{name}" if n == 1 else f"1/{name}^{n}"
    return "1/(" + "*".join(sorted(comps)) + ")"


def _interacting(comps, dims) -> bool:
    """cBNGL: reactants may meet if they share at most one surface and one volume."""
    surfaces = {c for c in comps if c is not None and dims[c] == 2}
    volumes = {c for c in comps if c is not None and dims[c] == 3}
    return len(surfaces) <= 1 and len(volumes) <= 1


def generate_network(model: Model, *, max_iter: int | None = None, max_agg: int | None = None,
                     max_stoich: dict | None = None, max_species: int | None = None,
                     max_reactions: int | None = None, timeout: float | None = None) -> Network:
    """Expand ``model``'s rules into a frozen :class:`Network`.

    Arguments override the model's own ``generate_network_options``. ``max_iter``,
    ``max_agg`` and ``max_stoich`` truncate when given; left at their defaults they raise
    :class:`NetworkLimitError` naming the rule that keeps growing the network, except for a model
    read from BNGL, which gets BioNetGen's truncating defaults (``max_iter`` 100, ``max_agg``
    10^9; a warning says when ``max_iter`` truncated). ``max_species``, ``max_reactions`` and
    ``timeout`` (seconds) always raise.
    """
    ml = model.limits
    pick = lambda a, b: a if a is not None else b  # noqa: E731
    mi = pick(max_iter, ml.max_iter)
    ma = pick(max_agg, ml.max_agg)
    bng_defaults = getattr(model, "dialect", "dsl") == "bngl"
    warn_truncation = bng_defaults and mi is None
    if bng_defaults:
        # BNG2.pl's defaults truncate: they count as explicit limits
        mi = pick(mi, BNG_DEFAULT_MAX_ITER)
        ma = pick(ma, BNG_DEFAULT_MAX_AGG)
    limits = {
        "max_iter": mi if mi is not None else DEFAULT_MAX_ITER, "max_iter_explicit": mi is not None,
        "max_agg": ma if ma is not None else DEFAULT_MAX_AGG, "max_agg_explicit": ma is not None,
        "max_stoich": dict(max_stoich if max_stoich is not None else ml.max_stoich),
        "max_species": pick(pick(max_species, ml.max_species), DEFAULT_MAX_SPECIES),
        "max_reactions": pick(pick(max_reactions, ml.max_reactions), DEFAULT_MAX_REACTIONS),
        "timeout": pick(pick(timeout, ml.timeout), DEFAULT_TIMEOUT),
        "warn_truncation": warn_truncation,
    }
    return _Generator(model, limits).run()
