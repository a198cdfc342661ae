"""Property tests of network generation (foundation issue, acceptance item).

Generating the same model twice, or with its rules and molecule types declared in another
order, gives the same network up to relabelling.

:func:`model_specs` is a hypothesis strategy that draws small random but valid models as a
declarative *spec* (plain data: molecule types, parameters, seeds, observables, rules as
BNGL text); :func:`build` turns a spec into a :class:`~il2sbml.Model`, declaring everything
in a random dependency-respecting order when ``order_seed`` is given. Generation is always
bounded (``max_agg=4``, ``max_iter=4``: explicit limits truncate instead of raising). As a
guard against a drawn model that explodes, ``max_species`` raises beyond 400 species and
the example is skipped (none of the derandomised examples hits it today).
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from il2sbml import Model
from il2sbml.lang.errors import NetworkLimitError
from il2sbml.lang.graph import parse_graph, species_from_graph, tree_key
from il2sbml.generate.netgen import generate_network

try:  # tests/ as a package
    from .bngnet import canonical_species
except ImportError:  # tests/ on sys.path (pytest's default rootdir-relative import)
    from bngnet import canonical_species

LIMITS = dict(max_agg=4, max_iter=4)
MAX_SPECIES = 400  # larger networks are skipped (see the module docstring)
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)

TYPE_NAMES = ("A", "B", "C")
SITE_NAMES = ("x", "y", "s")
STATE_SETS = ((), ("0", "1"), ("0", "1", "2"))
RATE_VALUES = (0.001, 0.5, 1, 2, 3.5)


# ------------------------------------------------------------------------------------------
# Spec strategy
# ------------------------------------------------------------------------------------------

def _remove_one(slots, site):
    out = list(slots)
    out.remove(site)
    return out


def _mol(name, comps):
    return f"{name}({','.join(comps)})"


@st.composite
def _molecule_types(draw):
    """1-3 molecule types; 0-3 sites each (repeats allowed, e.g. ``L(r,r)``); some with states."""
    names = draw(st.lists(st.sampled_from(TYPE_NAMES), min_size=1, max_size=3, unique=True))
    mtypes = []
    for name in names:
        slots = [draw(st.sampled_from(SITE_NAMES)) for _ in range(draw(st.sampled_from((1, 2, 3, 0))))]
        states = {s: draw(st.sampled_from(STATE_SETS)) for s in dict.fromkeys(slots)}
        mtypes.append({"name": name, "sites": slots, "states": {s: v for s, v in states.items() if v}})
    return mtypes


def _context(draw, mt, slots):
    """Optional context on one remaining site slot: free, bound (``!+``) or a state."""
    if not slots or not draw(st.booleans()):
        return [], slots
    c = draw(st.sampled_from(slots))
    rest = _remove_one(slots, c)
    options = ["free", "bound"] + (["state"] if c in mt["states"] else [])
    kind = draw(st.sampled_from(options))
    if kind == "free":
        return [c], rest
    if kind == "bound":
        return [f"{c}!+"], rest
    return [f"{c}~{draw(st.sampled_from(mt['states'][c]))}"], rest


def _bind_rule(draw, mtypes):
    """``A(a) + B(b) -> A(a!1).B(b!1)`` (homotypic allowed), its reverse, or ``<->``."""
    ends = [(mt, s) for mt in mtypes for s in dict.fromkeys(mt["sites"])]
    (ma, a), (mb, b) = draw(st.sampled_from(ends)), draw(st.sampled_from(ends))
    ca, _ = _context(draw, ma, _remove_one(ma["sites"], a))
    cb, _ = _context(draw, mb, _remove_one(mb["sites"], b))
    lhs = f"{_mol(ma['name'], [a] + ca)} + {_mol(mb['name'], [b] + cb)}"
    rhs = f"{_mol(ma['name'], [a + '!1'] + ca)}.{_mol(mb['name'], [b + '!1'] + cb)}"
    direction = draw(st.sampled_from(["bind", "unbind", "reversible"]))
    types = [ma["name"], mb["name"]]
    if direction == "bind":
        return {"kind": "bind", "text": f"{lhs} -> {rhs}", "nrates": 1, "types": types}
    if direction == "unbind":
        return {"kind": "unbind", "text": f"{rhs} -> {lhs}", "nrates": 1, "types": types}
    return {"kind": "bind<->", "text": f"{lhs} <-> {rhs}", "nrates": 2, "types": types}


def _close_rule(draw, mtypes):
    """Intramolecular binding: ``A(a!1,c).B(b!1,d) -> A(a!1,c!2).B(b!1,d!2)`` (rings) or
    ``A(c,d) -> A(c!1,d!1)`` (a bond within one molecule), maybe reversible."""
    two = [mt for mt in mtypes if len(mt["sites"]) >= 2]
    ma = draw(st.sampled_from(two))
    if draw(st.booleans()):
        mb = draw(st.sampled_from(two))
        a = draw(st.sampled_from(ma["sites"]))
        c = draw(st.sampled_from(_remove_one(ma["sites"], a)))
        b = draw(st.sampled_from(mb["sites"]))
        d = draw(st.sampled_from(_remove_one(mb["sites"], b)))
        lhs = f"{_mol(ma['name'], [a + '!1', c])}.{_mol(mb['name'], [b + '!1', d])}"
        rhs = f"{_mol(ma['name'], [a + '!1', c + '!2'])}.{_mol(mb['name'], [b + '!1', d + '!2'])}"
        types = [ma["name"], mb["name"]]
    else:
        c = draw(st.sampled_from(ma["sites"]))
        d = draw(st.sampled_from(_remove_one(ma["sites"], c)))
        lhs = _mol(ma["name"], [c, d])
        rhs = _mol(ma["name"], [c + "!1", d + "!1"])
        types = [ma["name"]]
    if draw(st.booleans()):
        return {"kind": "close<->", "text": f"{lhs} <-> {rhs}", "nrates": 2, "types": types}
    return {"kind": "close", "text": f"{lhs} -> {rhs}", "nrates": 1, "types": types}


def _state_rule(draw, mtypes):
    """``A(s~0) -> A(s~1)``, optionally with context: another site (free, bound, a state),
    a bound partner ``A(s~0,c!1).B(b!1)``, or a catalyst ``A(s~0) + B() -> A(s~1) + B()``."""
    cands = [(mt, s) for mt in mtypes for s in dict.fromkeys(mt["sites"]) if s in mt["states"]]
    mt, s = draw(st.sampled_from(cands))
    vals = mt["states"][s]
    i = draw(st.sampled_from(vals))
    j = draw(st.sampled_from([v for v in vals if v != i]))
    rest = _remove_one(mt["sites"], s)
    ctx, rest = _context(draw, mt, rest)
    types = [mt["name"]]
    extra = draw(st.sampled_from(["none", "partner", "catalyst"]))
    left = _mol(mt["name"], [f"{s}~{i}"] + ctx)
    right = _mol(mt["name"], [f"{s}~{j}"] + ctx)
    ends = [(m, b) for m in mtypes for b in dict.fromkeys(m["sites"])]
    if extra == "partner" and rest and ends:
        c = draw(st.sampled_from(rest))
        mb, b = draw(st.sampled_from(ends))
        partner = _mol(mb["name"], [f"{b}!1"])
        left = f"{_mol(mt['name'], [f'{s}~{i}'] + ctx + [c + '!1'])}.{partner}"
        right = f"{_mol(mt['name'], [f'{s}~{j}'] + ctx + [c + '!1'])}.{partner}"
        types.append(mb["name"])
    elif extra == "catalyst":
        cat = draw(st.sampled_from(mtypes))["name"]
        left, right = f"{left} + {cat}()", f"{right} + {cat}()"
        types.append(cat)
    return {"kind": "state", "text": f"{left} -> {right}", "nrates": 1, "types": types}


def _synth_rule(draw, mtypes):
    """``0 -> A(...)`` of a complete molecule (every site, a state where it has states)."""
    mt = draw(st.sampled_from(mtypes))
    comps = [f"{s}~{draw(st.sampled_from(mt['states'][s]))}" if s in mt["states"] else s for s in mt["sites"]]
    return {"kind": "synth", "text": f"0 -> {_mol(mt['name'], comps)}", "nrates": 1, "types": [mt["name"]]}


def _degrade_rule(draw, mtypes):
    """``A() -> 0``, maybe with context (``A(x!+) -> 0``), maybe deleting only the molecule."""
    mt = draw(st.sampled_from(mtypes))
    ctx, _ = _context(draw, mt, list(mt["sites"]))
    delete = bool(ctx) and draw(st.booleans())
    return {"kind": "degrade", "text": f"{_mol(mt['name'], ctx)} -> 0", "nrates": 1, "types": [mt["name"]],
            "delete_molecules": delete}


# (maker, weight, applicable to these molecule types?): a maker is only drawn where it
# applies, so no draw is wasted. Simplest first (hypothesis shrinks
# towards the first); the weight repeats a maker in the list drawn from, so that binding,
# the rule that builds complexes, is drawn most often.
RULE_MAKERS = (
    (_degrade_rule, 1, lambda mts: True),
    (_synth_rule, 1, lambda mts: True),
    (_state_rule, 2, lambda mts: any(mt["states"] for mt in mts)),
    (_bind_rule, 3, lambda mts: any(mt["sites"] for mt in mts)),
    (_close_rule, 1, lambda mts: any(len(mt["sites"]) >= 2 for mt in mts)),
)


def _observable(draw, mtypes, i):
    mt = draw(st.sampled_from(mtypes))
    ctx, _ = _context(draw, mt, list(mt["sites"]))
    pats = [_mol(mt["name"], ctx)]
    if draw(st.booleans()):
        other = draw(st.sampled_from(mtypes))
        pats.append(_mol(other["name"], []))
    kind = draw(st.sampled_from(["molecules", "species"]))
    types = sorted({p.split("(")[0] for p in pats})
    return {"name": f"o{i}", "patterns": pats, "kind": kind, "types": types}


@st.composite
def model_specs(draw):
    """A small random valid model as plain data (see the module docstring)."""
    mtypes = draw(_molecule_types())
    makers = [make for make, weight, applicable in RULE_MAKERS if applicable(mtypes) for _ in range(weight)]
    rules = []
    for _ in range(draw(st.integers(1, 4))):
        r = draw(st.sampled_from(makers))(draw, mtypes)
        r.setdefault("delete_molecules", False)
        rules.append(r)
    # rate parameters k1..kn, in first-use order; a later rate may reuse an earlier parameter
    params, n_k = [], 0
    for idx, r in enumerate(rules):
        r["name"] = f"R{idx + 1}"
        rates = []
        for _ in range(r["nrates"]):
            pick = draw(st.integers(0, n_k)) if n_k and draw(st.integers(0, 4)) == 0 else n_k
            if pick == n_k:
                n_k += 1
                if n_k > 1 and draw(st.integers(0, 3)) == 0:  # an expression of an earlier one
                    value = f"2*k{draw(st.integers(1, n_k - 1))}"
                else:
                    value = draw(st.sampled_from(RATE_VALUES))
                params.append({"name": f"k{n_k}", "value": value})
            rates.append(f"k{pick + 1}")
        r["rates"] = rates
    seeds = []
    for mt in mtypes:
        comps = [f"{s}~{mt['states'][s][0]}" if s in mt["states"] else s for s in mt["sites"]]
        amount = draw(st.sampled_from([100, 1000, None]))
        if amount is None:
            params.append({"name": f"{mt['name']}_0", "value": 50})
            amount = f"{mt['name']}_0"
        seeds.append({"species": _mol(mt["name"], comps), "amount": amount, "types": [mt["name"]]})
    observables = [_observable(draw, mtypes, i + 1) for i in range(draw(st.integers(0, 2)))]
    return {"molecule_types": mtypes, "parameters": params, "seeds": seeds,
            "observables": observables, "rules": rules}


# ------------------------------------------------------------------------------------------
# Building a model from a spec
# ------------------------------------------------------------------------------------------

def _declaration(mt):
    return _mol(mt["name"], [s + "".join("~" + v for v in mt["states"].get(s, ())) for s in mt["sites"]])


def declarations(spec, *, order_seed=None) -> list:
    """The spec's declarations as ``(Model method, args, kwargs)``, in spec order or, with
    ``order_seed``, in a random order that still declares every parameter and molecule type
    before its first use."""
    items = []  # (key, dependencies, call)
    for mt in spec["molecule_types"]:
        items.append((("mt", mt["name"]), [], ("molecule_type", (_declaration(mt),), {})))
    for p in spec["parameters"]:
        deps = [("p", p["value"].split("*", 1)[1])] if isinstance(p["value"], str) else []
        items.append((("p", p["name"]), deps, ("parameter", (p["name"], p["value"]), {})))
    for s in spec["seeds"]:
        deps = [("mt", t) for t in s["types"]]
        if isinstance(s["amount"], str):
            deps.append(("p", s["amount"]))
        items.append((("seed", s["species"]), deps, ("seed", (s["species"], s["amount"]), {})))
    for o in spec["observables"]:
        kw = {"kind": o["kind"]} if o["kind"] != "molecules" else {}
        items.append((("obs", o["name"]), [("mt", t) for t in o["types"]],
                      ("observable", (o["name"], o["patterns"]), kw)))
    for r in spec["rules"]:
        deps = [("mt", t) for t in r["types"]] + [("p", k) for k in r["rates"]]
        kw = {"delete_molecules": True} if r["delete_molecules"] else {}
        items.append((("rule", r["name"]), deps, ("rule", (r["name"], r["text"], *r["rates"]), kw)))
    if order_seed is None:
        return [it[2] for it in items]
    rng = random.Random(order_seed)
    done, order, pending = set(), [], list(items)
    while pending:
        it = rng.choice([it for it in pending if all(d in done for d in it[1])])
        pending.remove(it)
        order.append(it[2])
        done.add(it[0])
    return order


def build(spec, *, order_seed=None) -> Model:
    """The spec as a :class:`Model`, declared in spec order or permuted (see :func:`declarations`)."""
    m = Model("prop")
    for method, args, kw in declarations(spec, order_seed=order_seed):
        getattr(m, method)(*args, **kw)
    return m


def model_code(spec, order_seed=None) -> str:
    """The spec as DSL source in its declaration order (for failure reports)."""
    lines = ['m = Model("prop")']
    for method, args, kw in declarations(spec, order_seed=order_seed):
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kw.items()]
        lines.append(f"m.{method}({', '.join(parts)})")
    return "\n".join(lines) + "\n"


def generate(spec, order_seed=None):
    """The built model and its network; skips the example if the network is too large."""
    model = build(spec, order_seed=order_seed)
    try:
        return model, generate_network(model, max_species=MAX_SPECIES, **LIMITS)
    except NetworkLimitError:
        # The species count only grows, and after each iteration it is independent of the
        # declaration order, so every build of one spec is skipped alike.
        event(f"skipped: more than {MAX_SPECIES} species")
        assume(False)


# ------------------------------------------------------------------------------------------
# Network comparison up to relabelling
# ------------------------------------------------------------------------------------------

def relabelled(net) -> dict:
    labels = [s.label for s in net.species]
    return {
        "species": sorted(labels),
        "initial": sorted((s.label, None if s.initial is None else s.initial.text) for s in net.species),
        "reactions": sorted(Counter(
            (tuple(sorted(labels[i] for i in r.reactants)), tuple(sorted(labels[i] for i in r.products)),
             r.rate.text, r.stat_factor) for r in net.reactions).items()),
        "observables": {o.name: {labels[i]: w for i, w in o.weights} for o in net.observables},
        "parameters": dict(sorted(net.parameters.items())),
    }


def comp_order_of(model) -> dict:
    return {name: {s: i for i, s in reversed(list(enumerate(mt.sites)))}
            for name, mt in model.molecule_types.items()}


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

@SETTINGS
@given(spec=model_specs(), order_seed=st.none() | st.integers(0, 2**32 - 1))
def test_generation_is_deterministic(spec, order_seed):
    _, a = generate(spec, order_seed)
    _, b = generate(spec, order_seed)
    assert a.to_net() == b.to_net()


@SETTINGS
@given(spec=model_specs(), order_seed=st.integers(0, 2**32 - 1))
def test_declaration_order_gives_same_network_up_to_relabelling(spec, order_seed):
    for r in spec["rules"]:
        event(f"rule kind {r['kind']}")
    _, a = generate(spec)
    _, b = generate(spec, order_seed)
    n = len(a.species)
    event("species: " + ("1" if n == 1 else "2-5" if n <= 5 else "6-20" if n <= 20 else ">20"))
    event(f"truncated: {a.stats['truncated']}")
    ra, rb = relabelled(a), relabelled(b)
    for key in ra:
        assert ra[key] == rb[key], (
            f"{key} differ between declaration orders\n--- spec order:\n{model_code(spec)}\n"
            f"--- permuted (order_seed={order_seed}):\n{model_code(spec, order_seed)}\n"
            f"--- spec order net:\n{a.to_net()}--- permuted net:\n{b.to_net()}")


@SETTINGS
@given(spec=model_specs())
def test_species_labels_are_canonical_fixed_points(spec):
    model, net = generate(spec)
    order = comp_order_of(model)
    for s in net.species:
        assert species_from_graph(parse_graph(s.label), order).label == s.label


@SETTINGS
@given(spec=model_specs())
def test_no_two_species_are_isomorphic(spec):
    _, net = generate(spec)
    keys = Counter(canonical_species(s.label) for s in net.species)
    dups = {k: [s.label for s in net.species if canonical_species(s.label) == k] for k, n in keys.items() if n > 1}
    assert not dups, f"isomorphic species in one network: {dups}\n{net.to_net()}"


def _shuffled(sp, rng):
    """The species' graph with molecules and each molecule's sites in a random order."""
    n = len(sp.mtype)
    order = list(range(n))
    rng.shuffle(order)
    newpos = {old: new for new, old in enumerate(order)}
    corder = []
    for m in range(n):
        c = list(range(len(sp.cname[m])))
        rng.shuffle(c)
        corder.append(c)
    cpos = [{old: new for new, old in enumerate(c)} for c in corder]
    partner = []
    for o in order:
        row = []
        for c in corder[o]:
            p = sp.partner[o][c]
            row.append(None if p is None else (newpos[p[0]], cpos[p[0]][p[1]]))
        partner.append(row)
    return ([sp.mtype[o] for o in order], [sp.mcomp[o] for o in order],
            [[sp.cname[o][c] for c in corder[o]] for o in order],
            [[sp.cstate[o][c] for c in corder[o]] for o in order], partner)


@SETTINGS
@given(spec=model_specs(), seed=st.integers(0, 2**32 - 1))
def test_tree_keys_are_complete_invariants(spec, seed):
    """The generator recognises known products by graph.tree_key (skipping canonical
    labelling), so the key must not depend on molecule or site order, and two different
    species must never share one (a shared key would merge them silently)."""
    model, net = generate(spec)
    order = comp_order_of(model)
    rng = random.Random(seed)
    owner: dict = {}
    for s in net.species:
        sp = species_from_graph(parse_graph(s.label), order)
        nodes = list(range(len(sp.mtype)))
        key = tree_key(nodes, sp.mtype, sp.mcomp, sp.cname, sp.cstate, sp.partner, sp.compartment)
        if key is None:
            event("a ring-shaped species (no tree key)")
            continue
        assert tree_key(nodes, *_shuffled(sp, rng), sp.compartment) == key, s.label
        assert owner.setdefault(key, s.label) == s.label, f"{s.label} and {owner[key]} share a tree key"
