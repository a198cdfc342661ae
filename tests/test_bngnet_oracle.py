"""Tests of the independent BioNetGen network oracle in tests/bngnet.py (not of il2sbml)."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:  # tests/ as a package
    from . import bngnet
except ImportError:  # tests/ on sys.path (pytest's default rootdir-relative import)
    import bngnet

Component, Molecule, Species = bngnet.Component, bngnet.Molecule, bngnet.Species
canonical_species, format_species, parse_species = (
    bngnet.canonical_species,
    bngnet.format_species,
    bngnet.parse_species,
)

# Species and reaction counts from the suite README, section 3.
EXPECTED_SIZES = {
    "simple_system": (4, 4),
    "statfactor": (6, 14),
    "heise": (5, 8),
    "michment": (5, 6),
    "Haugh2b": (12, 29),
    "tlbr": (19, 29),
    "blbr": (20, 92),
    "toy-jim": (25, 101),
    "test_fixed": (12, 18),
    "univ_synth": (9, 12),
}


@pytest.fixture(scope="module")
def nets() -> dict[str, bngnet.NetFile]:
    return {name: bngnet.parse_net(bngnet.net_path(name)) for name in bngnet.BNGL_MODELS}


# --------------------------------------------------------------------------------------------
# .net parsing and expression evaluation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", bngnet.BNGL_MODELS)
def test_parse_sizes(nets, model):
    net = nets[model]
    assert (len(net.species), len(net.reactions)) == EXPECTED_SIZES[model]
    for rxn in net.reactions:
        assert all(0 <= i < len(net.species) for i in rxn.reactants + rxn.products)


@pytest.mark.parametrize("model", bngnet.BNGL_MODELS)
def test_species_keys_are_distinct_within_a_file(nets, model):
    # BioNetGen never lists a species twice, so distinct keys here show that the canonical form
    # does not merge non-isomorphic species (rings vs chains in blbr/tlbr, states in toy-jim).
    keys = [canonical_species(s.label) for s in nets[model].species]
    assert len(set(keys)) == len(keys)


def test_parameters_functions_and_rates(nets):
    tf = nets["test_fixed"]
    assert tf.parameters["_rateLaw3"] == 20.0  # 10*k_bind, evaluated from an earlier parameter
    assert [s.fixed for s in tf.species[:4]] == [True, True, True, False]
    assert tf.groups[4].name == "D_tot"
    assert tf.groups[4].weights == ((8, 1.0), (9, 2.0), (10, 3.0), (11, 3.0))
    assert tf.reactions[1].reactants == () and tf.reactions[1].products == (4,)
    obs = {"B_tot": 3.0, "D3c": 0.25}
    assert tf.rate_value(1, obs) == 3.0  # _rateLaw1 = k_synthcat*B_tot
    assert tf.rate_value(4, obs) == 2.5  # _rateLaw2 = k_degrcat*D3c
    assert tf.rate_value(15, obs) == 20.0  # bare parameter name _rateLaw3

    sf = nets["statfactor"]
    assert [sf.rate_value(i) for i in (0, 1, 5, 6)] == [0.5, 1.0, 0.25, 0.5]
    assert sf.reactions[5].rules == ("R3",)
    assert not sf.has_groups

    mm = nets["michment"]
    assert mm.rate_value(0, {"Sa0": 10.0}) == pytest.approx(2.0 / 50.0, rel=1e-15)

    us = nets["univ_synth"]
    assert us.compartments["PM"] == (2, 0.1, "EC")
    assert us.rate_value(0) == 10.0

    assert nets["toy-jim"].reactions[5].rules == ()  # old file: no rule names
    assert nets["blbr"].evaluate("2^3 + if(kp1 > 0, 1, 2) + exp(0) + _pi*0") == 10.0


# --------------------------------------------------------------------------------------------
# canonical_species
# --------------------------------------------------------------------------------------------

SAME = [
    ("R(r,r!1).L(l!1)", "L(l!1).R(r!1,r)"),
    ("B(c1~0,c1~1)", "B(c1~1,c1~0)"),
    ("X(p~0,y)", "X(y,p~0)"),
    ("$A()", "A()"),
    ("@EC::A()", "A()@EC"),
    ("@PM::L(r!1)@EC.R(l!1)", "@PM::R(l!7).L(r!7)@EC"),
    ("@PM::L(r!1)@EC.R(l!1)", "@PM::L(r!1)@EC.R(l!1)@PM"),
    ("D(x!1,x!2).D(x!1,x!3).D(x!2,x!3)", "D(x!3,x!1).D(x!2,x!3).D(x!1,x!2)"),
    ("L(l!1,l!2).L(l,l!3).R(r!1,r!3).R(r,r!2)", "R(r!9,r).L(l!4,l).R(r!4,r!5).L(l!5,l!9)"),
]

DIFFERENT = [
    ("D(x!1,x!2).D(x!1,x!3).D(x!2,x!3)", "D(x!1,x).D(x!1,x!2).D(x!2,x)"),  # 3-ring vs 3-chain
    ("A(b~0!1).A(b~1!1)", "A(b~0!1).A(b~0!1)"),
    ("B(c1~0,c1~1)", "B(c1~0,c1~0)"),
    ("@EC::A()", "@PM::A()"),
    ("@PM::L(r!1)@EC.R(l!1)", "@PM::L(r!1).R(l!1)@EC"),
    ("A(x!1,y!1)", "A(x!1,y).A(x,y!1)"),  # intramolecular vs intermolecular bond
    ("A(x!1,y).A(x,y!1)", "A(x!1,y!2).A(x!2,y!1)"),  # chain vs 2-ring
    ("A(x!1,x).B(y!1)", "A(x!1,x!2).B(y!1).B(y!2)"),
    # two 6-rings of identical molecules vs one 12-ring (same colour-refinement colours)
    (
        ".".join(f"D(x!{i},x!{i % 6 + 1})" for i in range(1, 7))
        + "."
        + ".".join(f"D(x!{i},x!{(i - 6) % 6 + 7})" for i in range(7, 13)),
        ".".join(f"D(x!{i},x!{i % 12 + 1})" for i in range(1, 13)),
    ),
]


@pytest.mark.parametrize("a, b", SAME)
def test_canonical_same(a, b):
    assert canonical_species(a) == canonical_species(b)


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_canonical_different(a, b):
    assert canonical_species(a) != canonical_species(b)


def test_canonical_key_is_a_species_string():
    key = canonical_species("L(l!1,l!2).L(l,l!3).R(r!1,r!3).R(r,r!2)")
    assert canonical_species(key) == key
    assert not canonical_species("$A()").startswith("$")


@pytest.mark.parametrize("bad", ["A(x!1)", "A(x!1).B(y!1).C(z!1)", "A(x!+)"])
def test_canonical_rejects_broken_species(bad):
    with pytest.raises(ValueError):
        canonical_species(bad)


def test_canonical_large_symmetric_species_is_fast():
    hub = "H(" + ",".join(f"s!{i}" for i in range(1, 13)) + ")"
    star = hub + "." + ".".join(f"S(h!{i})" for i in range(1, 13))
    ring = ".".join(f"D(x!{i},x!{i % 20 + 1})" for i in range(1, 21))
    assert canonical_species(star) == canonical_species(bngnet.relabel_species(star, random.Random(1)))
    assert canonical_species(ring) == canonical_species(bngnet.relabel_species(ring, random.Random(2)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_relabelling_preserves_key_on_suite_species(nets, data, seed):
    labels = [s.label for net in nets.values() for s in net.species]
    label = data.draw(st.sampled_from(labels))
    assert canonical_species(bngnet.relabel_species(label, random.Random(seed))) == canonical_species(label)


# -- random small species graphs, checked against brute-force isomorphism --------------------


@st.composite
def small_species(draw, max_molecules: int = 3) -> Species:
    """Random species (not necessarily connected) over a tiny alphabet, so that isomorphic and
    nearly isomorphic pairs are common."""
    n = draw(st.integers(1, max_molecules))
    comps: list[list[list]] = []  # per molecule: [name, state] lists
    names = []
    for _ in range(n):
        names.append(draw(st.sampled_from("AB")))
        k = draw(st.integers(0, 3))
        comps.append(
            [[draw(st.sampled_from("xy")), draw(st.sampled_from([None, "0", "1"]))] for _ in range(k)]
        )
    slots = [(i, j) for i in range(n) for j in range(len(comps[i]))]
    order = draw(st.permutations(slots))
    n_bonds = draw(st.integers(0, len(slots) // 2))
    bonds = {}
    for b in range(n_bonds):
        bonds[order[2 * b]] = b + 1
        bonds[order[2 * b + 1]] = b + 1
    molecules = tuple(
        Molecule(names[i], tuple(Component(c[0], c[1], bonds.get((i, j))) for j, c in enumerate(comps[i])))
        for i in range(n)
    )
    return Species(molecules)


def _brute_force_isomorphic(a: Species, b: Species) -> bool:
    """Reference check at the component level: try every molecule bijection and every
    bijection of components inside each molecule; bonds must map onto bonds."""
    ma, mb = a.molecules, b.molecules
    if len(ma) != len(mb):
        return False
    for perm in itertools.permutations(range(len(mb))):
        if any(
            ma[i].name != mb[p].name or len(ma[i].components) != len(mb[p].components)
            for i, p in enumerate(perm)
        ):
            continue
        choices = [itertools.permutations(range(len(m.components))) for m in ma]
        for comp_perms in itertools.product(*[list(c) for c in choices]):
            bond_map: dict[int, int] = {}
            ok = True
            for i, cp in enumerate(comp_perms):
                for j, k in enumerate(cp):
                    ca, cb = ma[i].components[j], mb[perm[i]].components[k]
                    if ca.name != cb.name or ca.state != cb.state or (ca.bond is None) != (cb.bond is None):
                        ok = False
                        break
                    if ca.bond is not None and bond_map.setdefault(ca.bond, cb.bond) != cb.bond:
                        ok = False
                        break
                if not ok:
                    break
            if ok and len(set(bond_map.values())) == len(bond_map):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(species=small_species(max_molecules=5), seed=st.integers(0, 2**32 - 1))
def test_relabelling_preserves_key_on_random_species(species, seed):
    label = format_species(species)
    assert canonical_species(bngnet.relabel_species(label, random.Random(seed))) == canonical_species(label)
    assert parse_species(label) == species


@st.composite
def regular_species(draw) -> Species:
    """4-10 identical D(x,x,x) molecules whose components are paired at random (self-bonds and
    double bonds allowed, possibly disconnected).  Every molecule looks alike to colour
    refinement, so only a real search over individualisations gives an invariant key."""
    n = draw(st.integers(2, 5)) * 2
    ends = draw(st.permutations([(i, j) for i in range(n) for j in range(3)]))
    bonds = {end: k // 2 + 1 for k, end in enumerate(ends)}
    molecules = [Molecule("D", tuple(Component("x", None, bonds[(i, j)]) for j in range(3))) for i in range(n)]
    return Species(tuple(molecules))


@settings(max_examples=150, deadline=None)
@given(species=regular_species(), seed=st.integers(0, 2**32 - 1))
def test_relabelling_preserves_key_on_regular_species(species, seed):
    label = format_species(species)
    assert canonical_species(bngnet.relabel_species(label, random.Random(seed))) == canonical_species(label)


@pytest.mark.parametrize("seed", range(6))
def test_disconnected_rings_key_is_invariant(seed):
    # a 3-ring and a 6-ring of D(x,x): all molecules get one colour from refinement alone
    rings = ".".join(f"D(x!{i},x!{i % 3 + 1})" for i in range(1, 4)) + "." + ".".join(
        f"D(x!{i},x!{(i - 3) % 6 + 4})" for i in range(4, 10)
    )
    assert canonical_species(bngnet.relabel_species(rings, random.Random(seed))) == canonical_species(rings)


@settings(max_examples=200, deadline=None)
@given(species=small_species())
def test_key_describes_the_same_species(species):
    # The key is a BNGL rendering of the input graph, so non-isomorphic species cannot collide.
    key = canonical_species(format_species(species))
    assert _brute_force_isomorphic(parse_species(key), species)
    assert canonical_species(key) == key


@settings(max_examples=300, deadline=None)
@given(a=small_species(), b=small_species())
def test_key_equality_matches_brute_force_isomorphism(a, b):
    same_key = canonical_species(format_species(a)) == canonical_species(format_species(b))
    assert same_key == _brute_force_isomorphic(a, b)


@settings(max_examples=200, deadline=None)
@given(a=small_species(), data=st.data())
def test_one_edit_away_matches_brute_force(a, data):
    """Pairs that differ by one state or one bond are the hard cases for a canonical form."""
    mols = [list(m.components) for m in a.molecules]
    slots = [(i, j) for i, comps in enumerate(mols) for j in range(len(comps))]
    if slots:
        i, j = data.draw(st.sampled_from(slots))
        c = mols[i][j]
        if data.draw(st.booleans()):
            mols[i][j] = dataclasses.replace(c, state="1" if c.state == "0" else "0")
        else:  # move one bond end to another unbound component, if any
            free = [(k, l) for k, l in slots if mols[k][l].bond is None]
            if c.bond is not None and free:
                k, l = data.draw(st.sampled_from(free))
                mols[i][j] = dataclasses.replace(c, bond=None)
                mols[k][l] = dataclasses.replace(mols[k][l], bond=c.bond)
    b = Species(tuple(dataclasses.replace(m, components=tuple(cs)) for m, cs in zip(a.molecules, mols)))
    same_key = canonical_species(format_species(a)) == canonical_species(format_species(b))
    assert same_key == _brute_force_isomorphic(a, b)


# --------------------------------------------------------------------------------------------
# compare / assert_same_network
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", bngnet.BNGL_MODELS)
@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_network_equals_its_shuffled_self(nets, model, seed):
    net = nets[model]
    fake = bngnet.network_from_netfile(net, shuffle_seed=seed)
    assert bngnet.compare(fake, net) == []
    bngnet.assert_same_network(fake, net.path)


def test_shuffle_really_respells(nets):
    net = nets["blbr"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=3)
    assert sorted(s.label for s in fake.species) != sorted(s.label for s in net.species)


@pytest.mark.parametrize("model", ["statfactor", "blbr", "test_fixed", "michment"])
def test_rate_perturbation_is_reported(nets, model):
    net = nets[model]
    fake = bngnet.network_from_netfile(net, shuffle_seed=5)
    fake.reactions[3].factor = 1 + 1e-6
    diffs = bngnet.compare(fake, net)
    assert len(diffs) == 1 and "ours" in diffs[0] and "BNG" in diffs[0]


def test_statfactor_message_format(nets):
    net = nets["statfactor"]
    fake = bngnet.network_from_netfile(net)
    fake.reactions[0].factor = 2.0
    assert bngnet.compare(fake, net) == [
        "statfactor R1: A(b~0) + A(b~0) -> A(b~0!1).A(b~0!1): ours 1.0, BNG 0.5 (ours rxn 0, BNG rxn 1)"
    ]


def test_rate_tolerance(nets):
    net = nets["tlbr"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=1)
    fake.reactions[0].factor = 1 + 1e-14
    assert bngnet.compare(fake, net) == []
    fake.reactions[0].factor = 1 + 1e-9
    assert bngnet.compare(fake, net, rel=1e-8) == []
    assert len(bngnet.compare(fake, net)) == 1


@pytest.mark.parametrize("model", ["heise", "toy-jim", "univ_synth"])
def test_dropped_reaction_is_reported(nets, model):
    net = nets[model]
    fake = bngnet.network_from_netfile(net, shuffle_seed=7)
    del fake.reactions[2]
    diffs = bngnet.compare(fake, net)
    assert len(diffs) == 1 and "missing reaction" in diffs[0]


@pytest.mark.parametrize("model", ["Haugh2b", "tlbr"])
def test_duplicated_reaction_is_reported(nets, model):
    net = nets[model]
    fake = bngnet.network_from_netfile(net, shuffle_seed=8)
    fake.reactions.append(dataclasses.replace(fake.reactions[4]))
    diffs = bngnet.compare(fake, net)
    assert len(diffs) == 1 and "duplicate reaction" in diffs[0]


def test_functional_rate_uses_observables(nets):
    net = nets["michment"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=2)
    # Both sides see the same observable values, so they agree for any values...
    assert bngnet.compare(fake, net, observable_values={"Sa0": 3.0}) == []

    # ...but a network whose functional rate ignores the observable is caught.
    class Frozen(bngnet.FakeNetwork):
        def rate_value(self, i, observables):
            return super().rate_value(i, {**observables, "Sa0": 0.0})

    frozen = Frozen(fake.net, fake.species, fake.reactions, fake.observables)
    assert len(bngnet.compare(frozen, net)) == 2  # the two michment reactions


def test_non_isomorphic_species_swap_is_reported(nets):
    net = nets["test_fixed"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=4)
    ring_key = canonical_species("D(x!1,x!2).D(x!1,x!3).D(x!2,x!3)")
    (ring,) = [s for s in fake.species if canonical_species(s.label) == ring_key]
    ring.label = "D(x!1,x).D(x!1,x!2).D(x!2,x)"  # the open trimer instead of the cyclic one
    diffs = bngnet.compare(fake, net)
    text = "\n".join(diffs)
    assert "missing species D(x!1,x!2).D(x!1,x!3).D(x!2,x!3)" in text
    assert "test_fixed: duplicate species D(" in text
    assert "observable D3c" in text  # weights now land on the wrong species
    assert any("reaction" in d for d in diffs)


def test_fixed_flag_and_observable_weight_are_reported(nets):
    net = nets["test_fixed"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=6)
    fake.species[0].fixed = not fake.species[0].fixed
    (d_tot,) = [o for o in fake.observables if o.name == "D_tot"]
    d_tot.weights = d_tot.weights[:-1] + ((d_tot.weights[-1][0], 4.0),)
    fake.observables.append(bngnet.FakeObservable("Bogus", "species", ()))
    diffs = bngnet.compare(fake, net)
    assert len(diffs) == 3
    assert any("fixed ours" in d for d in diffs)
    assert any("observable D_tot" in d and "ours 4, BNG 3" in d for d in diffs)
    assert any("extra observable Bogus" in d for d in diffs)


def test_assert_same_network_truncates(nets):
    net = nets["blbr"]
    fake = bngnet.network_from_netfile(net, shuffle_seed=9)
    for rxn in fake.reactions:
        rxn.factor = 2.0
    with pytest.raises(AssertionError) as info:
        bngnet.assert_same_network(fake, net.path)
    message = str(info.value)
    assert "92 difference(s)" in message and "... and 62 more" in message
    assert len(message.splitlines()) == 1 + 30 + 1


def test_suite_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("IL2SBML_SUITE", str(tmp_path))
    assert bngnet.suite_dir() == tmp_path
    monkeypatch.setenv("IL2SBML_SUITE", str(tmp_path / "absent"))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        bngnet.suite_dir()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        bngnet.suite_dir()
