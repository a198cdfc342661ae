"""The BNGL reader and writer (il2sbml.formats.bngl), without BioNetGen itself.

* Each of the ten BioNetGen validation models, read from its own ``.bngl`` file, gives
  BioNetGen's reference network (tests/bngnet.py compares up to isomorphism, rate constants
  with statistical factors to 1e-12 relative).
* Actions are listed, not executed; ``generate_network`` options become limits.
* Bad input: every error names the BNGL file, the line and the construct.
* ``il2sbml network FILE.bngl --json`` works.
* A model written with :func:`write_bngl` and read back gives the same network.
(tests/test_bngl_bionetgen.py runs BNG2.pl on written and generated BNGL.)
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bngnet import BNGL_MODELS, assert_same_network, net_path, suite_dir

from il2sbml import generate_network, load_model
from il2sbml.formats.bngl import bngl_expr, read_bngl, write_bngl
from il2sbml.cli import main
from il2sbml.lang.errors import Il2sbmlError, ModelError, NotSupportedError, PatternSyntaxError
from il2sbml.lang.expr import Expr

MODELS = Path(__file__).parent / "models"


def bngl_file(name: str) -> Path:
    return suite_dir() / "bngl" / name / f"{name}.bngl"


def adjust_for_reference(name, net):
    """The two documented differences between a suite .bngl and its reference .net."""
    if name == "heise":
        # heise.bngl changes vu and vl with setParameter after its first simulation; the
        # reference .net was written after that (actions are not executed by the reader)
        net.parameters.update({"vu": 0.0, "vl": 1.0})
    if name == "toy-jim":
        # toy-jim.net predates the current toy-jim.bngl, which renamed X_tot to X_total
        old = {"L_total": "L_tot", "A_total": "A_tot", "K_total": "K_tot", "R_total": "R_tot"}
        net.observables = tuple(replace(o, name=old.get(o.name, o.name)) for o in net.observables)
    return net


# ---------------------------------------------------------------- the ten validation models

@pytest.mark.parametrize("name", BNGL_MODELS)
def test_suite_bngl_gives_reference_network(name):
    model = read_bngl(bngl_file(name))
    net = adjust_for_reference(name, generate_network(model))
    assert_same_network(net, net_path(name))


@pytest.mark.parametrize("name", BNGL_MODELS)
def test_load_model_reads_bngl(name):
    model = load_model(str(bngl_file(name)))
    assert model.source == str(bngl_file(name))
    assert model.name == name.replace("-", "_")


def test_molecule_types_inferred_as_bionetgen_does():
    """Haugh2b and toy-jim have no molecule types block: sites from the first appearance,
    states from every appearance (S2's Y~P appears only in rules)."""
    h = read_bngl(bngl_file("Haugh2b"))
    assert {n: t.declaration() for n, t in h.molecule_types.items()} == {
        "R": "R(KD,Y1~P)", "S1": "S1(PTP,SH2)", "S2": "S2(SH2,Y~U~P)"}
    t = read_bngl(bngl_file("toy-jim"))
    assert t.molecule_types["K"].declaration() == "K(a,Y~U~P)"
    assert t.molecule_types["Null"].declaration() == "Null()"


def test_rules_named_as_bionetgen_names_them():
    assert [r.name for r in read_bngl(bngl_file("statfactor")).rules] == [
        "R1", "R1_reverse", "R2", "R2_reverse", "R3", "R3_reverse"]
    model = read_bngl(bngl_file("blbr"))
    assert [r.name for r in model.rules] == ["Rule1", "Rule1_reverse", "Rule2", "Rule2_reverse",
                                             "Rule3", "Rule3_reverse"]
    # unnamed rules are numbered by their position among all rules (BioNetGen 2.2's RuleN)
    assert [r.name for r in read_bngl(MINIMAL, name="m").rules] == ["Rule1", "deg", "Rule3"]


def test_declarations_carry_their_bngl_lines():
    path = bngl_file("Haugh2b")
    lines = path.read_text().splitlines()
    model = read_bngl(path)
    rule = model.rules[0]
    assert rule.origin.file == str(path)
    assert "R(Y1~P) + S1(SH2) <-> R(Y1~P!1).S1(SH2!1)" in lines[rule.origin.line - 1]
    assert "kon_S1" in lines[model.parameters["kon_S1"].origin.line - 1]
    assert "S2(SH2,Y~U)" in lines[model.seeds[2].origin.line - 1]
    assert "S2_P_mem" in lines[model.observables["S2_P_mem"].origin.line - 1]
    assert model.rule_names["Rule1"] == rule.origin


# ---------------------------------------------------------------- actions and options

def test_actions_are_listed_not_executed():
    model = read_bngl(bngl_file("heise"))
    names = [a[1] for a in model.bngl_actions]
    assert names == ["generate_network", "simulate_ode", "setParameter", "setParameter", "simulate_ode"]
    line, _, args = model.bngl_actions[2]
    assert args == '"vu",0'
    assert 'setParameter("vu",0)' in bngl_file("heise").read_text().splitlines()[line - 1]
    assert model.parameter_values()["vu"] == 1  # not executed


def test_generate_network_options_become_limits():
    assert read_bngl(bngl_file("blbr")).limits.max_stoich == {"R": 5, "L": 5}
    assert read_bngl(bngl_file("tlbr")).limits.max_iter == 3
    m = read_bngl(MINIMAL.replace("generate_network({overwrite=>1})",
                                  "generate_network({overwrite=>1, max_agg=>3, max_iter=>\"2\",\n"
                                  "                  verbose=>1})"), name="m")
    assert (m.limits.max_agg, m.limits.max_iter) == (3, 2)
    assert m.bngl_actions[0][1] == "generate_network"


def test_simulate_and_friends_do_not_fail():
    text = MINIMAL + "\n".join([
        'simulate({method=>"ode",t_end=>10,n_steps=>100})',
        'simulate_ssa({suffix=>"ssa",t_end=>10})',
        "writeSBML()",
        'parameter_scan({parameter=>"k",par_min=>0.1,par_max=>1,n_scan_pts=>3,method=>"ode",t_end=>1})',
        'setOption("SpeciesLabel","HNauty");',
        "begin actions", "resetConcentrations()", "saveConcentrations()", "end actions"]) + "\n"
    m = read_bngl(text, name="m")
    assert [a[1] for a in m.bngl_actions] == [
        "generate_network", "simulate", "simulate_ssa", "writeSBML", "parameter_scan", "setOption",
        "resetConcentrations", "saveConcentrations"]


# ---------------------------------------------------------------- syntax coverage

MINIMAL = """\
# minimal model
begin model
begin parameters
    k   2*k0     # forward reference: declared after its use
    k0  0.5
end parameters
begin molecule types
    A(x,s~U~P)
end molecule types
begin seed species
    A(x,s~U)  100
end seed species
begin observables
    Molecules Atot A()
end observables
begin reaction rules
    A(x) + A(x) -> A(x!1).A(x!1)  k
    deg: A(s~P) -> 0  k0
    A(s~U) -> A(s~P) k0
end reaction rules
end model
generate_network({overwrite=>1})
"""


def test_parameters_in_dependency_order():
    m = read_bngl(MINIMAL, name="m")
    assert list(m.parameters) == ["k0", "k"]
    assert m.parameter_values()["k"] == 1.0


def test_compartments_fixed_species_functions_and_continuations():
    text = """\
begin parameters
  V 2
  kon 1
  koff 0.5
  ks 3
end parameters
begin compartments
  EC 3 V
  PM 2 1 EC
end compartments
begin molecule types
  L(r)
  R(l,y~U~P)
  Src()
end molecule types
begin seed species
  $L(r)@EC  10
  @PM::R(l,y~U) 5
  Src@PM() 1
end seed species
begin observables
  Molecules Lfree L(r)
  Species Rbound @PM::R(l!+), \\
          R(y~P)
end observables
begin functions
  kfun() = ks*Lfree/(1 + Lfree)
  twice = 2*kfun()
end functions
begin reaction rules
  bind: L(r) + R(l) <-> L(r!1).R(l!1) \\
        kon, koff
  phos: R(l!+,y~U) -> R(l!+,y~P) twice()
  0 -> Src()@PM kfun
end reaction rules
"""
    m = read_bngl(text, name="cell")
    assert m.compartments["PM"].parent == "EC" and m.compartments["PM"].dimension == 2
    assert m.seeds[0].fixed and not m.seeds[1].fixed
    assert m.seeds[1].pattern.compartment == "PM"
    assert m.observables["Rbound"].kind == "species" and len(m.observables["Rbound"].patterns) == 2
    assert [f for f in m.functions] == ["kfun", "twice"]
    assert m.rules[-1].rate.text == "kfun()"  # a bare function name is a call
    net = generate_network(m)
    assert any(s.fixed for s in net.species)
    assert len(net.reactions) >= 4


def test_bngl_path_objects_and_text_are_accepted(tmp_path):
    p = tmp_path / "my-model.bngl"
    p.write_text(MINIMAL)
    assert read_bngl(p).name == "my_model"
    assert read_bngl(str(p), name="other").name == "other"
    assert read_bngl(MINIMAL).name == "bngl_model"
    with pytest.raises(Il2sbmlError, match="no such BNGL file"):
        read_bngl(tmp_path / "missing.bngl")


def test_include_and_exclude_reactants_with_several_patterns():
    text = MINIMAL.replace(
        "A(x) + A(x) -> A(x!1).A(x!1)  k",
        "A(x) + A(x) -> A(x!1).A(x!1)  k include_reactants(1,A(s~U),A(s~P)) \\\n"
        "        exclude_reactants(2,A(s~P)) exclude_reactants(2, A(x!+))")
    r = read_bngl(text, name="m").rules[0]
    assert sorted(r.include_reactants) == [0] and len(r.include_reactants[0]) == 2
    assert sorted(r.exclude_reactants) == [1] and len(r.exclude_reactants[1]) == 2


def test_delete_molecules():
    text = MINIMAL.replace("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  k0 DeleteMolecules")
    assert read_bngl(text, name="m").rules[1].delete_molecules


# ---------------------------------------------------------------- bad input

def _line(text, needle):
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BAD = {
    # name: (replace this, with this, error type, needle on the bad line, words in the message)
    "energy patterns": ("begin observables", "begin energy patterns\nend energy patterns\nbegin observables",
                        NotSupportedError, "begin energy patterns", ["energy patterns"]),
    "unknown block": ("begin observables", "begin widgets\nend widgets\nbegin observables",
                      NotSupportedError, "begin widgets", ["block", "widgets"]),
    "local function": ("end model", "begin functions\n  f(x) = 2*k\nend functions\nend model",
                       NotSupportedError, "f(x) = 2*k", ["local function", "f(x)"]),
    "MoveConnected": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  k0 MoveConnected",
                      NotSupportedError, "MoveConnected", ["MoveConnected"]),
    "Sat with a number": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  Sat(k0,10)",
                          ModelError, "Sat(k0,10)", ["rule 'deg'", "Sat()", "parameter names", "'10'"]),
    "MM on one reactant": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  MM(k0,k)",
                           ModelError, "MM(k0,k)", ["rule 'deg'", "MM()", "2 reactants"]),
    "MM inside an expression": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  2*MM(k0,k)",
                                ModelError, "2*MM(k0,k)", ["rule 'deg'", "MM()", "whole rate"]),
    "Hill rate law": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  Hill(k0,k,k)",
                      NotSupportedError, "Hill(k0,k,k)", ["Hill()", "rate law"]),
    "mratio": ("k0  0.5", "k0  mratio(1,2,0.5)", NotSupportedError, "mratio(", ["mratio()", "parameter 'k0'"]),
    "log is not BNGL": ("k0  0.5", "k0  log(2)", ModelError, "log(2)", ["parameter 'k0'", "log()", "ln(x)"]),
    "Fortran exponent": ("k0  0.5", "k0  5d-1", ModelError, "5d-1", ["'5d-1'", "5e-1"]),
    "built-in as a parameter": ("k0  0.5", "k0  0.5\n    exp 2", ModelError, "exp 2",
                                ["parameter 'exp'", "built-in"]),
    "include_products": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  k0 include_products(1,A())",
                         NotSupportedError, "include_products", ["include_products"]),
    "pattern label": ("deg: A(s~P) -> 0  k0", "deg: %x:A(s~P) -> 0  k0",
                      NotSupportedError, "%x:A", ["%x:", "local functions"]),
    "molecule's own bond in a rule": ("deg: A(s~P) -> 0  k0", "deg: A(s~P)!+ -> A(s~U)!+  k0",
                                      Il2sbmlError, "A(s~P)!+", ["rule 'deg'", "molecule's own bond", "A!+"]),
    "count constraint in Molecules": ("Molecules Atot A()", "Molecules Big A()>=3",
                         NotSupportedError, "A()>=3", ["count constraint"]),
    "unknown option": ("generate_network({overwrite=>1})", "generate_network({overwrite=>1,check_iso=>0})",
                       NotSupportedError, "check_iso", ["generate_network option", "check_iso"]),
    "undeclared site": ("deg: A(s~P) -> 0  k0", "deg: A(t~P) -> 0  k0",
                        ModelError, "A(t~P)", ["rule 'deg'", "no site 't'"]),
    "undeclared molecule": ("deg: A(s~P) -> 0  k0", "deg: Q(s~P) -> 0  k0",
                            ModelError, "Q(s~P)", ["undeclared molecule type 'Q'", "molecule types block"]),
    "undeclared parameter": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  kx",
                             ModelError, "kx", ["rule 'deg'", "'kx'"]),
    "missing reverse rate": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) <-> A(s~U)  k0",
                             ModelError, "deg: A(s~P) <->", ["rule 'deg'", "reversible", "2 rates"]),
    "bond with one end": ("deg: A(s~P) -> 0  k0", "deg: A(x!1) -> A(x)  k0",
                          PatternSyntaxError, "A(x!1) -> A(x)", ["bond !1"]),
    "parameter cycle": ("k0  0.5", "k0  k/2", ModelError, "k   2*k0", ["cycle"]),
    "no value": ("k0  0.5", "k0  0.5\n    k1", ModelError, "k1", ["no value"]),
    "bad seed state": ("A(x,s~U)  100", "A(x,s~X)  100", ModelError, "A(x,s~X)", ["undeclared state 'X'"]),
    "unclosed block": ("end reaction rules\n", "", ModelError, "end model", ["end model", "reaction rules"]),
    "no arrow": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) 0  k0", ModelError, "deg: A(s~P) 0", ["no '->'"]),
    "junk after rate": ("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  k0 k0", ModelError, "k0 k0", ["rule 'deg'"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_reader_errors_name_file_line_and_construct(tmp_path, case):
    old, new, exc, needle, words = BAD[case]
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    path = tmp_path / "bad.bngl"
    path.write_text(text)
    with pytest.raises(exc) as info:
        read_bngl(path)
    msg = str(info.value)
    line = _line(text, needle) if needle else len(text.splitlines())
    assert f"{path}:{line}:" in msg, msg
    for w in words:
        assert w in msg, msg


def test_generator_refusals_carry_the_bngl_line():
    text = """begin parameters
  k 1
end parameters
begin compartments
  EC 3 1
  PM 2 1 EC
end compartments
begin molecule types
  A(x)
end molecule types
begin seed species
  A(x)@EC 1
end seed species
begin reaction rules
  A(x)@EC -> A(x)@PM k
end reaction rules
"""
    with pytest.raises(NotSupportedError) as info:
        read_bngl(text)
    assert str(info.value).startswith(f"<bngl>:{_line(text, 'A(x)@EC ->')}: rule 'Rule1': moves A")


def test_inferred_molecule_type_rejects_a_site_missing_from_its_first_appearance():
    text = MINIMAL.replace("begin molecule types\n    A(x,s~U~P)\nend molecule types\n", "")
    text = text.replace("A(s~U) -> A(s~P) k0", "A(s~U,y) -> A(s~P,y) k0")
    with pytest.raises(ModelError) as info:
        read_bngl(text)
    msg = str(info.value)
    assert f"<bngl>:{_line(text, 'A(s~U,y)')}:" in msg
    assert "no site 'y'" in msg and "first appearance" in msg


def test_cli_reports_error_with_line(tmp_path, capsys):
    path = tmp_path / "bad.bngl"
    text = MINIMAL.replace("deg: A(s~P) -> 0  k0", "deg: A(s~P) -> 0  k0 MoveConnected")
    path.write_text(text, encoding="utf-8")
    assert main(["network", str(path), "--json"]) != 0
    err = capsys.readouterr().err
    assert f"{path}:{_line(text, 'MoveConnected')}:" in err and "MoveConnected" in err


# ---------------------------------------------------------------- CLI

def test_cli_network_json_on_bngl(capsys):
    path = bngl_file("toy-jim")
    assert main(["network", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["species"], data["reactions"]) == (25, 101)
    assert main(["network", str(bngl_file("blbr")), "--json", "--full"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["species"], data["reactions"]) == (20, 92)


def test_cli_network_json_lists_actions_not_executed(capsys):
    assert main(["network", str(bngl_file("heise")), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in data["actions"]] == ["simulate_ode", "setParameter", "setParameter", "simulate_ode"]
    assert data["actions"][1]["args"] == '"vu",0'


# ---------------------------------------------------------------- writer

def same_network(a, b):
    """Two il2sbml networks with the same species (by canonical label), reactions and rates."""
    obs = {o.name: 1.3 + 0.1 * i for i, o in enumerate(a.observables)}

    def rxns(net):
        lab = [s.label for s in net.species]
        return sorted((tuple(sorted(lab[i] for i in r.reactants)), tuple(sorted(lab[i] for i in r.products)),
                       round(net.rate_value(i, obs), 9)) for i, r in enumerate(net.reactions))

    assert sorted(s.label for s in a.species) == sorted(s.label for s in b.species)
    assert sorted(s.label for s in a.species if s.fixed) == sorted(s.label for s in b.species if s.fixed)
    assert rxns(a) == rxns(b)
    assert {o.name: sorted((a.species[i].label, w) for i, w in o.weights) for o in a.observables} == \
        {o.name: sorted((b.species[i].label, w) for i, w in o.weights) for o in b.observables}


@pytest.mark.parametrize("name", sorted(p.stem for p in MODELS.glob("*.py")))
def test_written_bngl_reads_back_to_the_same_network(name):
    model = load_model(str(MODELS / f"{name}.py"))
    text = write_bngl(model)
    assert write_bngl(model) == text  # deterministic
    back = read_bngl(text, name=model.name)
    assert back.limits == model.limits
    assert [r.name for r in back.rules] == [r.name for r in model.rules]
    same_network(generate_network(model), generate_network(back))


def test_expressions_written_in_bngl_syntax():
    assert bngl_expr(Expr.parse("2**k")) == "2^k"
    assert bngl_expr(Expr.parse("-x**2")) == "-(x^2)"
    assert bngl_expr(Expr.parse("a-(b-c)")) == "a-(b-c)"
    assert bngl_expr(Expr.parse("a/(b*c)")) == "a/(b*c)"
    assert bngl_expr(Expr.parse("(a+b)*c")) == "(a+b)*c"
    assert bngl_expr(Expr.parse("if(x>1 && y<2, log(a), _pi)")) == "if((x>1)&&(y<2),ln(a),_pi())"
    assert bngl_expr(Expr.parse("pi*NA")) == "pi*NA"  # names, not constants (a BNGL parameter may be called pi)
    assert bngl_expr(Expr.parse("floor(x)+ceil(x/2)+pow(a,b)")) == "rint((x)-0.5)+(-rint(-(x/2)-0.5))+(a)^(b)"
    assert bngl_expr(Expr.parse("kcat/(Km + Sa0)")) == "kcat/(Km+Sa0)"
    assert bngl_expr(Expr.parse("f()*2")) == "f()*2"
    assert bngl_expr(Expr.parse("1e-3")) == "0.001"


def _chain_bngl(n: int) -> str:
    """M1-M2-...-Mn assembled one link at a time from M1: n monomers and n-1 chains, the
    last of n molecules (more than the DSL's max_agg of 30 when n > 30)."""
    types = "\n".join(f"M{i}(l,r)" for i in range(1, n + 1))
    seeds = "\n".join(f"M{i}(l,r) 10" for i in range(1, n + 1))
    rules = ["M1(r) + M2(l) -> M1(r!1).M2(l!1) k"]
    rules += [f"M{i}(l!+,r) + M{i + 1}(l) -> M{i}(l!+,r!1).M{i + 1}(l!1) k" for i in range(2, n)]
    return ("begin model\nbegin parameters\nk 1\nend parameters\n"
            f"begin molecule types\n{types}\nend molecule types\n"
            f"begin seed species\n{seeds}\nend seed species\n"
            "begin reaction rules\n" + "\n".join(rules) + "\nend reaction rules\nend model\n")


def test_bngl_gets_bionetgens_max_agg_default():
    """BioNetGen's default max_agg is 10^9: a BNGL complex of 35 molecules is not an error
    (the DSL's fail-fast default of 30 would refuse it), and nothing is cut off."""
    model = read_bngl(_chain_bngl(35), name="chain")
    net = generate_network(model)
    assert (len(net.species), len(net.reactions)) == (35 + 34, 34)
    assert max(len(s.molecules) for s in net.species) == 35
    assert not net.stats["truncated"]


def test_dsl_keeps_its_fail_fast_max_agg():
    from il2sbml.lang.dsl import Model
    from il2sbml.lang.errors import NetworkLimitError
    m = Model("chain")
    m.parameter("k", 1)
    n = 35
    for i in range(1, n + 1):
        m.molecule_type(f"M{i}(l,r)")
        m.seed(f"M{i}(l,r)", 10)
    m.rule("r1", "M1(r) + M2(l) -> M1(r!1).M2(l!1)", "k")
    for i in range(2, n):
        m.rule(f"r{i}", f"M{i}(l!+,r) + M{i + 1}(l) -> M{i}(l!+,r!1).M{i + 1}(l!1)", "k")
    with pytest.raises(NetworkLimitError, match="max_agg=30"):
        generate_network(m)


def test_bngl_default_max_iter_truncates_with_a_warning():
    """BioNetGen stops at max_iter 100 by default and keeps what it has: a chain that grows
    by one molecule per iteration has 101 species after 100 iterations."""
    text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
            "begin molecule types\nA(h,t)\nend molecule types\n"
            "begin seed species\nA(h,t) 10\nend seed species\n"
            "begin reaction rules\nA(h) + A(h,t) -> A(h!1).A(h,t!1) k\nend reaction rules\nend model\n")
    with pytest.warns(UserWarning, match="max_iter=100"):
        net = generate_network(read_bngl(text, name="grow"))
    assert len(net.species) == 101 and net.stats["truncated"]


def test_bngl_merges_reactions_of_rules_only_when_rates_are_names():
    """BioNetGen (RxnList::add, RateLaw::equivalent) merges the same reaction made by two rules
    only when their rate constants have the same *names*: a number or an expression becomes its
    rule's own _rateLawN. (RuleHub's ComplexDegradation: 10 reactions, not 7.)"""
    def net(r1, r2):
        text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
                "begin molecule types\nA(b)\nend molecule types\n"
                "begin seed species\nA(b) 1\nend seed species\n"
                f"begin reaction rules\nA(b) -> 0 {r1}\nA() -> 0 {r2}\nend reaction rules\nend model\n")
        return generate_network(read_bngl(text, name="m"))
    by_name = net("k", "k")
    assert len(by_name.reactions) == 1 and by_name.reactions[0].stat_factor == 2
    assert by_name.reactions[0].rules == ("Rule1", "Rule2")
    for r1, r2 in (("1", "1"), ("2*k", "2*k"), ("k", "1")):
        apart = net(r1, r2)
        assert [r.rule for r in apart.reactions] == ["Rule1", "Rule2"], (r1, r2)


TOTALRATE = """begin model
begin parameters
k 2
Km 1
end parameters
begin molecule types
A(s~U~P)
end molecule types
begin seed species
A(s~U) 10
end seed species
begin reaction rules
{rules}
end reaction rules
end model
"""


def test_totalrate_is_kept_as_bionetgens_network_generation_keeps_it(tmp_path):
    """BNG2.pl's generate_network ignores TotalRate for the rates (RxnRule.pm: "TODO: implement
    TotalRate feature for Network simulations"): each reaction gets the rule's rate times its
    reactants. Its one effect there is that the rule's rate becomes a function of its own, so
    its reactions do not merge with another rule's. Read with a warning naming the line."""
    path = tmp_path / "m.bngl"
    path.write_text(TOTALRATE.format(rules="A(s~U) -> A(s~P) k TotalRate\nA(s~U) -> A(s~P) k"), encoding="utf-8")
    with pytest.warns(UserWarning, match=r"m\.bngl:13: rule 'Rule1': TotalRate is ignored"):
        model = read_bngl(path)
    assert [r.total_rate for r in model.rules] == [True, False]
    net = generate_network(model)
    assert [(r.rule, r.stat_factor, r.rate.text) for r in net.reactions] == [("Rule1", 1.0, "k"),
                                                                              ("Rule2", 1.0, "k")]
    assert "k TotalRate" in write_bngl(model)
    # without TotalRate the two rules' reactions merge (same rate name), as in BioNetGen
    merged = generate_network(read_bngl(TOTALRATE.format(rules="A(s~U) -> A(s~P) k\nA(s~U) -> A(s~P) k"),
                                        name="m"))
    assert [(r.rules, r.stat_factor) for r in merged.reactions] == [(("Rule1", "Rule2"), 2.0)]


def test_totalrate_with_a_rate_law_is_refused_as_bionetgen_refuses_it(tmp_path):
    path = tmp_path / "m.bngl"
    path.write_text(TOTALRATE.format(rules="A(s~U) -> A(s~P) MM(k,Km) TotalRate"), encoding="utf-8")
    with pytest.raises(ModelError, match=r"m\.bngl:13: .*TotalRate cannot be used with the MM\(\) rate law"):
        read_bngl(path)


def test_species_observables_with_count_constraints(tmp_path):
    """``Species X A()==2`` counts the species with exactly two matches of A() (BNG2.pl's
    Observable.pm compares the number of matches; ``=`` means ``==``). A chain A-A-A... grows
    to three molecules here; species: A, A2, A3."""
    text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
            "begin molecule types\nA(l,r)\nend molecule types\n"
            "begin seed species\nA(l,r) 10\nend seed species\n"
            "begin observables\n"
            "Species Two A()==2\nSpecies Many A>1\nSpecies Few A()<2, A(l!+)=1\nSpecies Any A()\n"
            "Molecules Mols A()\n"
            "end observables\n"
            "begin reaction rules\nA(r) + A(l) -> A(r!1).A(l!1) k\nend reaction rules\nend model\n"
            "generate_network({overwrite=>1,max_agg=>3})\n")
    model = read_bngl(text, name="m")
    net = generate_network(model)
    size = {s.index: len(s.molecules) for s in net.species}
    assert sorted(size.values()) == [1, 2, 3]
    obs = {o.name: {size[i]: w for i, w in o.weights} for o in net.observables}
    assert obs["Two"] == {2: 1.0}
    assert obs["Many"] == {2: 1.0, 3: 1.0}
    # per pattern: A()<2 holds for the monomer; A(l!+)=1 for the dimer (one A with l bound)
    assert obs["Few"] == {1: 1.0, 2: 1.0}
    assert obs["Any"] == {1: 1.0, 2: 1.0, 3: 1.0}
    assert obs["Mols"] == {1: 1.0, 2: 2.0, 3: 3.0}
    assert model.observables["Two"].texts == ("A()==2",)
    again = generate_network(read_bngl(write_bngl(model), name="m"))
    assert [o.weights for o in again.observables] == [o.weights for o in net.observables]


def test_count_constraints_elsewhere_are_refused_by_name(tmp_path):
    path = tmp_path / "m.bngl"
    path.write_text(MINIMAL.replace("end observables", "Molecules Two A()==2\nend observables"), encoding="utf-8")
    with pytest.raises(NotSupportedError, match=r"m\.bngl:\d+: the count constraint in 'A\(\)==2'"):
        read_bngl(path)


def test_a_bngl_rule_that_changes_nothing_makes_no_reaction_with_a_warning(tmp_path):
    """BNG2.pl accepts ``A(s~U) -> A(s~U) k`` and drops its reactions (reactants equal products);
    a DSL model still refuses such a rule at its declaration."""
    path = tmp_path / "m.bngl"
    path.write_text(TOTALRATE.format(rules="A(s~U) -> A(s~U) k\nA(s~U) -> A(s~P) k"), encoding="utf-8")
    model = read_bngl(path)
    with pytest.warns(UserWarning, match=r"m\.bngl:13: rule 'Rule1' changes nothing"):
        net = generate_network(model)
    assert [r.rule for r in net.reactions] == ["Rule2"]
    from il2sbml.lang.dsl import Model
    m = Model("m")
    m.parameter("k", 1)
    m.molecule_type("A(s~U~P)")
    with pytest.raises(ModelError, match="changes nothing"):
        m.rule("r", "A(s~U) -> A(s~U)", "k")


def test_bngl_molecule_with_other_sites_in_the_product_is_replaced_as_in_bionetgen(tmp_path):
    """BNG2.pl maps a reactant molecule only to a product molecule with the same sites; otherwise
    the reactant is deleted (here its whole species) and the product created, which must then
    list every site (BNG2.pl 2.9.3's network for this file: 1 -> 4 and 2 -> 4, the bound A
    untouched). A DSL rule like it is refused."""
    text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
            "begin molecule types\nA(s~U~P,t~U~P,b)\nB(a)\nend molecule types\n"
            "begin seed species\nA(s~U,t~U,b) 1\nA(s~U,t~P,b) 1\nA(s~U,t~U,b!1).B(a!1) 1\nend seed species\n"
            "begin reaction rules\nA(s~U,b) -> A(s~P,t~P,b) k\nend reaction rules\nend model\n")
    net = generate_network(read_bngl(text, name="m"))
    labels = [s.label for s in net.species]
    assert len(labels) == 4 and labels[3] == "A(s~P,t~P,b)"
    assert sorted((r.reactants, r.products, r.stat_factor) for r in net.reactions) == [((0,), (3,), 1.0),
                                                                                      ((1,), (3,), 1.0)]
    path = tmp_path / "m.bngl"
    path.write_text(text.replace("A(s~U,b) -> A(s~P,t~P,b) k", "A(s~U) -> A(s~P,t~P) k"), encoding="utf-8")
    with pytest.raises(ModelError, match=r"m\.bngl:\d+: rule 'Rule1': new molecule A must list every site; "
                                         r"'b' is missing \(no reactant A has the same sites"):
        generate_network(read_bngl(path))
    from il2sbml.lang.dsl import Model
    m = Model("m")
    m.parameter("k", 1)
    m.molecule_type("A(s~U~P,t~U~P,b)")
    with pytest.raises(ModelError, match="appear on one side of the rule only"):
        m.rule("r", "A(s~U,b) -> A(s~P,t~P,b)", "k")


def test_bngl_bond_moved_in_one_step_is_broken_and_made_as_in_bionetgen():
    """``A(b!1).B(a!1) + C(a) -> A(b!1).C(a!1) + B(a)``: BNG2.pl breaks A-B and makes A-C in one
    reaction; so does a BNGL model (the DSL asks for two rules)."""
    text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
            "begin molecule types\nA(b)\nB(a)\nC(a)\nend molecule types\n"
            "begin seed species\nA(b!1).B(a!1) 1\nC(a) 1\nend seed species\n"
            "begin reaction rules\nA(b!1).B(a!1) + C(a) -> A(b!1).C(a!1) + B(a) k\nend reaction rules\nend model\n")
    net = generate_network(read_bngl(text, name="m"))
    labels = [s.label for s in net.species]
    assert sorted(labels) == sorted(["A(b!1).B(a!1)", "C(a)", "A(b!1).C(a!1)", "B(a)"])
    (r,) = net.reactions
    assert ({labels[i] for i in r.reactants}, {labels[i] for i in r.products}, r.stat_factor) == (
        {"A(b!1).B(a!1)", "C(a)"}, {"A(b!1).C(a!1)", "B(a)"}, 1.0)
    from il2sbml.lang.dsl import Model
    m = Model("m")
    m.parameter("k", 1)
    for t in ("A(b)", "B(a)", "C(a)"):
        m.molecule_type(t)
    with pytest.raises(ModelError, match="moved to a new partner"):
        m.rule("r", "A(b!1).B(a!1) + C(a) -> A(b!1).C(a!1) + B(a)", "k")


def test_bngl_wildcard_bond_written_free_on_the_right_is_left_as_it_is():
    """``A(l!?,t!1).T(b!1) -> A(l,t) DeleteMolecules``: BNG2.pl keeps A's l bond (species
    A.L.T gives A.L), and refuses ``!+`` to free ("illegal wildcard bond breaking")."""
    rules = "A(l!?,t!1).T(b!1) -> A(l,t) k DeleteMolecules"
    text = ("begin model\nbegin parameters\nk 1\nend parameters\n"
            "begin molecule types\nA(l,t)\nL(a)\nT(b)\nend molecule types\n"
            "begin seed species\nA(l!2,t!1).T(b!1).L(a!2) 1\nA(l,t!1).T(b!1) 1\nend seed species\n"
            "begin reaction rules\n{}\nend reaction rules\nend model\n")
    net = generate_network(read_bngl(text.format(rules), name="m"))
    labels = [s.label for s in net.species]
    assert sorted((labels[r.reactants[0]], labels[r.products[0]]) for r in net.reactions) == [
        ("A(l!1,t!2).L(a!1).T(b!2)", "A(l!1,t).L(a!1)"), ("A(l,t!1).T(b!1)", "A(l,t)")]
    with pytest.raises(ModelError, match=r"changes from !\+ to free; a wildcard bond cannot be made or broken"):
        generate_network(read_bngl(text.format(rules.replace("l!?", "l!+")), name="m"))
