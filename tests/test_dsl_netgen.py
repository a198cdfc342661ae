"""DSL features and generator conventions, each checked on a small hand-made model."""

import math

import pytest

from il2sbml import Model, generate_network, load_model
from il2sbml.lang.errors import ModelError, NotSupportedError, PatternSyntaxError
from il2sbml.lang.expr import Expr, ExprError
from il2sbml.lang.graph import parse_graph, species_from_graph
from il2sbml.lang.units import AVOGADRO, parse_unit


class Reactions(dict):
    """{(reactant labels, product labels): (stat_factor, rule)}, looked up with species in any BNGL order."""

    def __init__(self, net):
        self.net = net
        lab = [s.label for s in net.species]
        super().__init__({(tuple(sorted(lab[i] for i in r.reactants)), tuple(sorted(lab[i] for i in r.products))):
                          (r.stat_factor, r.rule) for r in net.reactions})

    def __getitem__(self, key):
        canon = tuple(tuple(sorted(self.net.canonical_label(t) for t in side)) for side in key)
        return super().__getitem__(canon)


def reactions(net):
    return Reactions(net)


# ---------------------------------------------------------------- symmetry conventions

def test_bivalent_ligand_binds_at_2k_and_symmetric_complex_breaks_at_2k():
    m = Model("biv")
    m.parameter("k", 1)
    m.molecule_type("L(r,r)")          # two identical sites
    m.molecule_type("R(l)")
    m.seed("L(r,r)", 10)
    m.seed("R(l)", 10)
    m.rule("bind", "L(r) + R(l) <-> L(r!1).R(l!1)", "k", "k")
    rx = reactions(generate_network(m))
    assert rx[(("L(r,r)", "R(l)"), ("L(r!1,r).R(l!1)",))] == (2.0, "bind")
    # L with both sites bound by R: two equivalent bonds, it breaks at 2k
    assert rx[(("L(r!1,r!2).R(l!1).R(l!2)",), ("L(r!1,r).R(l!1)", "R(l)"))] == (2.0, "bind_reverse")
    # the second R binds the one free site: 1*k
    assert rx[(("L(r!1,r).R(l!1)", "R(l)"), ("L(r!1,r!2).R(l!1).R(l!2)",))] == (1.0, "bind")


def test_catalyst_copies_are_not_divided():
    m = Model("cat")
    m.parameter("k", 1)
    m.molecule_type("E()")
    m.molecule_type("S(y~U~P)")
    m.seed("E()", 1)
    m.seed("S(y~U)", 10)
    m.rule("phos", "E() + S(y~U) -> E() + S(y~P)", "k")
    rx = reactions(generate_network(m))
    assert rx[(("E()", "S(y~U)"), ("E()", "S(y~P)"))] == (1.0, "phos")


def test_transphosphorylation_in_a_symmetric_dimer_counts_both_kinases():
    m = Model("trans")
    m.parameter("k", 1)
    m.molecule_type("K(d,y~U~P)")
    m.seed("K(d!1,y~U).K(d!1,y~U)", 1)
    m.rule("trans", "K(y~U).K(y~U) -> K(y~U).K(y~P)", "k")
    rx = reactions(generate_network(m))
    assert rx[(("K(d!1,y~U).K(d!1,y~U)",), ("K(d!1,y~P).K(d!1,y~U)",))] == (2.0, "trans")


# ---------------------------------------------------------------- degradation, synthesis

def _complex_model(delete_molecules):
    m = Model("deg")
    m.parameter("k", 1)
    m.molecule_type("A(b)")
    m.molecule_type("B(a)")
    m.seed("A(b!1).B(a!1)", 5)
    m.rule("degB", "B() -> 0", "k", delete_molecules=delete_molecules)
    return generate_network(m)


def test_degradation_removes_the_whole_species_by_default():
    rx = reactions(_complex_model(False))
    assert len(rx) == 1 and rx[(("A(b!1).B(a!1)",), ())] == (1.0, "degB")


def test_delete_molecules_removes_only_the_molecule():
    rx = reactions(_complex_model(True))
    assert len(rx) == 1 and rx[(("A(b!1).B(a!1)",), ("A(b)",))] == (1.0, "degB")


def test_synthesis_and_universal_synthesis():
    m = Model("syn")
    m.parameter("k", 2)
    m.molecule_type("G(s~off~on)")
    m.molecule_type("P()")
    m.seed("G(s~on)", 1)
    m.rule("basal", "0 -> P()", "k")
    m.rule("express", "G(s~on) -> G(s~on) + P()", "k")
    rx = reactions(generate_network(m))
    assert rx[((), ("P()",))] == (1.0, "basal")
    assert rx[(("G(s~on)",), ("G(s~on)", "P()"))] == (1.0, "express")


def test_include_and_exclude_reactants():
    m = Model("ctx")
    m.parameter("k1", 1)
    m.parameter("k2", 10)
    m.molecule_type("R(a,b)")
    m.molecule_type("X(r)")
    m.molecule_type("Y(r)")
    m.seed("R(a,b)", 1)
    m.seed("X(r)", 1)
    m.seed("Y(r)", 1)
    m.seed("R(a!1,b).X(r!1)", 1)
    m.rule("Ycyt", "R(b) + Y(r) -> R(b!1).Y(r!1)", "k1", exclude_reactants={1: "X()"})
    m.rule("Ymem", "R(b) + Y(r) -> R(b!1).Y(r!1)", "k2", include_reactants={1: ["X()"]})
    net = generate_network(m)
    rates = {r.reactants: r.rate.text for r in net.reactions}
    assert rates[tuple(sorted((net.species_index("R(a,b)"), net.species_index("Y(r)"))))] == "k1"
    assert rates[tuple(sorted((net.species_index("R(a!1,b).X(r!1)"), net.species_index("Y(r)"))))] == "k2"


# ---------------------------------------------------------------- compartments and units

def test_il2_model_converts_volume_and_surface_rates():
    net = generate_network(load_model("tests/models/il2_receptor.py"))
    p = net.parameters
    v_medium_l = 1e-3 / p["cells_per_mL"]
    k_bind = [i for i, r in enumerate(net.reactions) if r.rule == "IL2_binds_a"]
    assert len(k_bind) == 1
    assert net.rate_value(k_bind[0]) == pytest.approx(p["kon_L"] / (AVOGADRO * v_medium_l), rel=1e-12)
    k2d = [i for i, r in enumerate(net.reactions) if r.rule == "b_joins_IL2a"]
    assert net.rate_value(k2d[0]) == pytest.approx(p["kfwd"] / 60.0, rel=1e-12)  # 1/(molecule*min) -> 1/s
    assert net.species_index("@PM::IL2(a!1,b!2,g!3)@EC.IL2RA(l!1).IL2RB(l!2).IL2RG(l!3)") >= 0


def test_unitless_cbngl_volume_scaling():
    m = Model("vol")
    m.parameter("k", 3)
    m.parameter("V", 5)
    m.compartment("C", dimension=3, size="V")
    m.molecule_type("A(b)")
    m.seed("A(b)@C", 1)
    m.rule("make", "0 -> A(b)@C", "k")
    m.rule("dim", "A(b) + A(b) -> A(b!1).A(b!1)", "k")
    net = generate_network(m)
    got = {r.rule: net.rate_value(i) for i, r in enumerate(net.reactions)}
    assert got["make"] == pytest.approx(3 * 5)        # zero order: times the volume
    assert got["dim"] == pytest.approx(0.5 * 3 / 5)   # second order: over the volume


def test_derived_parameter_must_carry_its_declared_units():
    m = Model("u")
    m.parameter("cells_per_mL", 1e6, "1/mL")
    with pytest.raises(ModelError, match="not in 'L'"):
        m.parameter("V", "1/cells_per_mL", "L")       # it is in mL: 1000-fold wrong if accepted
    assert m.parameter("V", "1/cells_per_mL", "mL").unit == parse_unit("mL")
    with pytest.raises(ModelError, match="has units"):
        m.parameter("k", "cells_per_mL", "1/s")


def test_units_parse_and_convert():
    assert parse_unit("1/(M*s)").dims == (-1, -1, 3)
    assert parse_unit("nM").scale == pytest.approx(AVOGADRO * 1e-9 / 1e-3)
    assert parse_unit("1/min").scale == pytest.approx(1 / 60)
    assert parse_unit("um^3").scale == pytest.approx(1e-18)
    assert parse_unit("M^-1 s^-1") == parse_unit("1/(M*s)")
    for bad in ("furlong", "2/s", "1/(s", ""):
        with pytest.raises(ModelError):
            parse_unit(bad)


def test_require_units_rejects_unitless_parameter():
    m = Model("strict", require_units=True)
    with pytest.raises(ModelError, match="units are required"):
        m.parameter("k", 1)


def test_transport_rules_are_refused_by_name():
    m = Model("tr")
    m.parameter("k", 1)
    m.compartment("EC", dimension=3, size=1)
    m.compartment("CP", dimension=3, size=1)
    m.molecule_type("A()")
    with pytest.raises(NotSupportedError, match="transport"):
        m.rule("move", "A()@EC -> A()@CP", "k")


# ---------------------------------------------------------------- functions, observables

def test_functional_rate_uses_observable():
    m = Model("fn")
    m.parameter("kcat", 2)
    m.parameter("Km", 40)
    m.molecule_type("S(a~0~P)")
    m.molecule_type("E()")
    m.seed("S(a~0)", 100)
    m.seed("E()", 10)
    m.observable("Sa0", "S(a~0)")
    m.function("mm", "kcat/(Km + Sa0)")
    m.rule("cat", "S(a~0) + E() -> S(a~P) + E()", "mm()")
    net = generate_network(m)
    (r,) = net.reactions
    assert r.functional
    assert net.rate_value(0, {"Sa0": 60}) == pytest.approx(2 / 100)


def test_observable_kinds():
    m = Model("obs")
    m.parameter("k", 1)
    m.molecule_type("D(x,x)")
    m.seed("D(x!1,x).D(x!1,x)", 1)
    m.seed("D(x,x)", 1)
    m.observable("Dmol", "D()")
    m.observable("Dsp", "D()", kind="species")
    m.observable("Dfree", "D(x)")  # a free site: counted per matching site
    net = generate_network(m)
    w = {o.name: dict(o.weights) for o in net.observables}
    i_dim = net.species_index("D(x!1,x).D(x!1,x)")
    i_mono = net.species_index("D(x,x)")
    assert w["Dmol"] == {i_dim: 2.0, i_mono: 1.0}
    assert w["Dsp"] == {i_dim: 1.0, i_mono: 1.0}
    assert w["Dfree"] == {i_dim: 2.0, i_mono: 2.0}


def test_annotations_are_kept():
    m = Model("ann")
    mt = m.molecule_type("IL2(r)", uniprot="P60568")
    pip = m.molecule_type("PIP3()", chebi="16618")
    assert ("bqbiol:is", "http://identifiers.org/uniprot/P60568") in mt.annotations
    assert ("bqbiol:is", "http://identifiers.org/CHEBI:16618") in pip.annotations


# ---------------------------------------------------------------- labels and expressions

def test_canonical_labels_ignore_order_and_bond_numbers():
    order = {"L": {"r": 0}, "R": {"l": 0}}
    a = species_from_graph(parse_graph("L(r!1,r!2).R(l!2).R(l!1)"), order)
    b = species_from_graph(parse_graph("R(l!7).L(r!3,r!7).R(l!3)"), order)
    assert a.label == b.label
    ring = species_from_graph(parse_graph("D(x!1,x!2).D(x!2,x!3).D(x!3,x!1)"), {"D": {"x": 0}})
    chain = species_from_graph(parse_graph("D(x,x!2).D(x!2,x!3).D(x!3,x)"), {"D": {"x": 0}})
    assert ring.label != chain.label


def test_duplicate_seed_detected_up_to_isomorphism():
    m = Model("dup")
    m.molecule_type("A(b)")
    m.molecule_type("B(a)")
    m.seed("A(b!1).B(a!1)", 1)
    with pytest.raises(ModelError, match="duplicate seed"):
        m.seed("B(a!3).A(b!3)", 2)


def test_expressions_are_whitelisted():
    assert Expr.parse("2*k^2").evaluate({"k": 3}) == 18
    assert Expr.parse("if(x > 1, a, b)").evaluate({"x": 2, "a": 5, "b": 7}) == 5
    for bad in ("__import__('os')", "k.real", "[1, 2]", "lambda: 1"):
        with pytest.raises(ExprError):
            Expr.parse(bad)


def test_pattern_syntax_errors():
    for bad in ("A(b!1", "A(b~)", "A(b!x)", "1A()"):
        with pytest.raises(PatternSyntaxError):
            parse_graph(bad)


def test_network_output_is_deterministic():
    a = generate_network(load_model("tests/models/blbr.py")).to_net()
    b = generate_network(load_model("tests/models/blbr.py")).to_net()
    assert a == b


def test_rate_string_matches_bionetgen_style():
    net = generate_network(load_model("tests/models/statfactor.py"))
    assert [r.rate_string() for r in net.reactions[:3]] == ["0.5*k", "k", "0.5*k"]
    assert math.isclose(net.rate_value(0), 0.5)


def test_labels_are_canonical_against_the_independent_oracle():
    """Every species of every validation network (blbr grown to 14-molecule rings and chains):
    random relabellings give back our label, and no two of our species are isomorphic
    according to the oracle in tests/bngnet.py."""
    import random
    from pathlib import Path

    from bngnet import canonical_species, relabel_species

    rng = random.Random(20261126)
    for path in sorted(Path("tests/models").glob("*.py")):
        kw = {"max_stoich": {"R": 7, "L": 7}} if path.stem == "blbr" else {}
        net = generate_network(load_model(str(path)), **kw)
        keys = {}
        for s in net.species:
            key = canonical_species(s.label)
            assert key not in keys, (path.stem, s.label, keys[key])
            keys[key] = s.label
            for _ in range(10):
                text = relabel_species(s.label, rng)
                assert net.canonical_label(text) == s.label, (path.stem, text)


def test_cbngl_volume_surface_reaction_is_divided_by_the_volume():
    """BioNetGen's convention (Rxn.pm): the anchor is a surface reactant if any; the rate is
    divided by the other reactants' compartments: S+V -> /V, S+S -> /S, V+V -> /V."""
    m = Model("vs")
    m.parameter("k", 1)
    m.compartment("EC", dimension=3, size=10)
    m.compartment("PM", dimension=2, size=2, parent="EC")
    m.molecule_type("L(r)")
    m.molecule_type("R(l,d)")
    m.seed("L(r)@EC", 1)
    m.seed("R(l,d)@PM", 1)
    m.rule("bind", "L(r) + R(l) -> L(r!1).R(l!1)", "k")
    m.rule("dimer", "R(d) + R(d) -> R(d!1).R(d!1)", "k")
    net = generate_network(m, max_iter=1)
    got = {r.rule: r.volume_factor.text for r in net.reactions}
    assert got == {"bind": "1/EC", "dimer": "1/PM"}


def test_zero_order_rules_fire_in_the_first_iteration():
    m = Model("syn1")
    m.parameter("k", 1)
    m.molecule_type("B(b)")
    m.rule("make", "0 -> B(b)", "k")
    m.rule("dimer", "B(b) + B(b) -> B(b!1).B(b!1)", "k")
    assert [r.rule for r in generate_network(m, max_iter=1).reactions] == ["make"]
    assert [r.rule for r in generate_network(m, max_iter=2).reactions] == ["make", "dimer"]


# ---------------------------------------------------------------- parameter sets (cell types)

def _set_model():
    m = Model("ps", require_units=True)
    m.parameter("n", 100, "molecule")
    m.parameter("k", 0.1, "1/s")
    m.parameter("syn", "n*k", "molecule/s")
    m.molecule_type("A()")
    m.seed("A()", "n")
    m.rule("make", "0 -> A()", "syn")
    m.rule("lose", "A() -> 0", "k")
    return m


def test_parameter_set_gives_a_renamed_copy_and_leaves_the_model_alone():
    m = _set_model()
    m.parameter_set("big", {"n": 1000}, doc="ten times more")
    big = m.with_parameter_set("big")
    assert big.name == "ps_big" and "ten times more" in big.doc
    net = generate_network(big)
    assert net.parameters["syn"] == pytest.approx(100.0) and net.initial_amounts() == [1000.0]
    assert generate_network(m).parameters["n"] == 100.0


@pytest.mark.parametrize("values, message", [({"nope": 1}, "not a declared parameter"),
                                             ({"syn": 1}, "derived"), ({"n": "10"}, "not a finite number"),
                                             ({"n": float("nan")}, "not a finite number")])
def test_parameter_set_bad_values_are_refused_with_the_line(values, message):
    m = _set_model()
    with pytest.raises(ModelError) as exc:
        m.parameter_set("bad", values)
    assert message in str(exc.value) and "test_dsl_netgen.py:" in str(exc.value)


def test_unknown_parameter_set_names_the_choices():
    m = _set_model()
    m.parameter_set("big", {"n": 1000})
    with pytest.raises(ModelError, match="big"):
        m.with_parameter_set("huge")


def test_uniprot_accessions_are_checked():
    m = Model("u")
    m.molecule_type("S()", uniprot=("P42229", "P51692"))
    with pytest.raises(ModelError, match="not a UniProt accession"):
        m.molecule_type("T()", uniprot=("P42229", "STAT5B"))
