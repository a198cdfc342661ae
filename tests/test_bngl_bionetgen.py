"""BioNetGen (BNG2.pl from the PyPI ``bionetgen`` package, run as a subprocess) as a differential oracle.

* Every DSL validation model, written out by :func:`il2sbml.formats.bngl.write_bngl`, is read by BNG2.pl
  and expands to the network our generator makes from the model itself.
* Random small rule sets (hypothesis: molecule types with 1-3 sites, 0-3 states, binding,
  unbinding, homodimerisation, ring closure, state change, synthesis and degradation, with
  ``max_agg``/``max_iter`` limits) written as BNGL give the same network through
  :func:`il2sbml.formats.bngl.read_bngl` + our generator as through BNG2.pl: same species and
  reactions up to isomorphism, same rate constants with statistical factors, same observable
  weights (tests/bngnet.py, which shares no code with il2sbml).
* Where BioNetGen is known to be wrong (bionetgen#90), the test says so and asserts the
  correct answer.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bngnet import assert_same_network, parse_net

from il2sbml import generate_network, load_model
from il2sbml.formats.bngl import read_bngl, write_bngl

MODELS = Path(__file__).parent / "models"


def bng2_path() -> str:
    """BNG2.pl shipped with the ``bionetgen`` package (skip when absent; fail under CI)."""
    env = os.environ.get("BNG2_PL")
    candidates = [env] if env else []
    spec = importlib.util.find_spec("bionetgen")
    if spec and spec.submodule_search_locations:
        root = Path(list(spec.submodule_search_locations)[0])
        candidates += [str(root / "bng-linux" / "BNG2.pl"), str(root / "bng-mac" / "BNG2.pl")]
    for c in candidates:
        if c and os.path.exists(c) and shutil.which("perl"):
            return c
    message = "BNG2.pl (pip package 'bionetgen') or perl not found"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run_bng(text: str, name: str = "model"):
    """Run BNG2.pl on BNGL text in a scratch folder; return its parsed .net file."""
    bng = bng2_path()
    with tempfile.TemporaryDirectory(prefix="il2sbml-bng-") as tmp:
        folder = Path(tmp)
        path = folder / f"{name}.bngl"
        path.write_text(text)
        proc = subprocess.run(["perl", bng, "-outdir", str(folder), str(path)], capture_output=True,
                              text=True, timeout=120)
        net = folder / f"{name}.net"
        if "no reactions were found" in proc.stdout + proc.stderr:
            return None  # BNG2.pl refuses to write a network without reactions
        if proc.returncode != 0 or not net.exists():
            raise AssertionError(f"BNG2.pl failed on\n{text}\n--- output ---\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        return parse_net(net)


# ---------------------------------------------------------------- the writer, checked by BNG2.pl

@pytest.mark.parametrize("name", sorted(p.stem for p in MODELS.glob("*.py")))
def test_written_bngl_expands_to_our_network_in_bionetgen(name):
    model = load_model(str(MODELS / f"{name}.py"))
    net = run_bng(write_bngl(model), name)
    # BioNetGen prints rate factors with 8 significant digits
    assert_same_network(generate_network(model), net, rel=1e-7)


def test_model_with_units_and_compartments_is_written_in_bionetgen_convention(tmp_path):
    """Units converted to molecules/seconds; a per-molecule surface rate and a per-molar rate
    against a membrane species get the factors that cancel BioNetGen's volume scaling."""
    src = tmp_path / "cell.py"
    src.write_text(
        "from il2sbml import Model\n"
        "m = Model('cell')\n"
        "m.parameter('kon', 1e6, '1/(M*s)')\n"
        "m.parameter('koff', 0.1, '1/s')\n"
        "m.parameter('k2d', 0.06, '1/(molecule*min)')\n"
        "m.parameter('vol', 2, 'pL')\n"
        "m.parameter('area', 100, 'um^2')\n"
        "m.compartment('EC', dimension=3, size='vol', units='pL')\n"
        "m.compartment('PM', dimension=2, size='area', units='um^2', parent='EC')\n"
        "m.molecule_type('L(r)')\n"
        "m.molecule_type('R(l,d)')\n"
        "m.seed('L(r)@EC', 1000)\n"
        "m.seed('R(l,d)@PM', 500)\n"
        "m.rule('bind', 'L(r) + R(l) <-> L(r!1).R(l!1)', 'kon', 'koff')\n"
        "m.rule('dimer', 'R(d) + R(d) <-> R(d!1).R(d!1)', 'k2d', 'koff')\n"
        "model = m\n")
    model = load_model(str(src))
    text = write_bngl(model)
    assert "_size_PM" in text
    assert_same_network(generate_network(model), run_bng(text, "cell"), rel=1e-7)


def test_compartment_sizes_in_expressions_are_written_as_parameters():
    """BNGL expressions cannot name a compartment; the writer gives each such size a parameter."""
    text = """
begin parameters
  k 0.5
end parameters
begin compartments
  EC 3 4
  PM 2 2 EC
end compartments
begin molecule types
  A(b)
end molecule types
begin seed species
  A(b)@EC  3*EC
end seed species
begin observables
  Molecules Atot A()
end observables
begin functions
  kf() = k*PM/(1+Atot)
end functions
begin reaction rules
  A(b) + A(b) <-> A(b!1).A(b!1)  kf(), k
  0 -> A(b)@EC  k*EC
end reaction rules
"""
    model = read_bngl(text, name="sizes")
    written = write_bngl(model)
    assert "_size_EC" in written and "_size_PM" in written
    assert_same_network(generate_network(model), run_bng(written, "sizes"), rel=1e-7)


# ---------------------------------------------------------------- bionetgen#90

BNG90 = """
begin parameters
  k 1
end parameters
begin molecule types
  S(a,b,c)
  A(b,s)
  B(a,s)
  C(c,s)
end molecule types
begin seed species
  S(a!0,b!1,c!2).A(b,s!0).B(a,s!1).C(c,s!2)  2
end seed species
begin reaction rules
  A(b).B(a).C(c) + A(b).B(a).C(c) -> A(b!0).B(a!1).C(c!2).A(b!1).B(a!0).C(c!2)  k
end reaction rules
generate_network({overwrite=>1})
"""


def test_implicit_bonds_symmetry_bionetgen_issue_90():
    """bionetgen#90: two reactant patterns with implicit bonds (molecules joined by '.' but no
    bond in the pattern). Two copies of the same species react; the rule's symmetry group has
    order 2 (swap the reactant patterns), so the factor is 1/2. BioNetGen (still in 2.9.3)
    reports 1/4: it counts the pattern's internal automorphisms as if the implicitly-bonded
    molecules could be permuted independently. We assert the correct 1/2, and that BNG's
    answer differs from ours by exactly that factor of 2 and nothing else."""
    ours = generate_network(read_bngl(BNG90, name="bng90"))
    assert [r.stat_factor for r in ours.reactions] == [0.5]
    bng = run_bng(BNG90, "bng90")
    assert len(bng.species) == len(ours.species) == 2 and len(bng.reactions) == 1
    assert bng.rate_value(0, {}) * 2 == pytest.approx(ours.rate_value(0))


# ---------------------------------------------------------------- random rule sets

TYPES = ("A", "B", "C")
SITES = ("p", "q", "r")
STATES = ("U", "P", "Z")


@st.composite
def bngl_models(draw):
    """A small random BNGL model (text) with bounded network generation."""
    ntypes = draw(st.integers(1, 3))
    mtypes = {}
    for t in TYPES[:ntypes]:
        sites = draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=3))
        states = {}
        for s in sorted(set(sites)):
            k = draw(st.sampled_from([0, 0, 1, 2, 2, 3]))
            if k:
                states[s] = STATES[:k]
        mtypes[t] = (sites, states)

    def decl(t):
        sites, states = mtypes[t]
        return f"{t}({','.join(s + ''.join('~' + v for v in states.get(s, ())) for s in sites)})"

    def monomer(t, bond=None):
        """The free molecule, all states first; ``bond``: its first such site carries bond !1."""
        sites, states = mtypes[t]
        comps = []
        for s in sites:
            c = s + ("~" + states[s][0] if s in states else "")
            if s == bond:
                c, bond = c + "!1", None
            comps.append(c)
        return f"{t}({','.join(comps)})"

    def context(t, exclude, bond_ok=True):
        """Optional extra constraint on another site of t: a state, or free/bound."""
        sites, states = mtypes[t]
        others = sorted(set(sites) - {exclude})
        if not others or not draw(st.booleans()):
            return ""
        s = draw(st.sampled_from(others))
        opts = [f"{s}~{v}" for v in states.get(s, ())]
        if bond_ok:
            opts += [s, f"{s}!+"]
        return "," + draw(st.sampled_from(opts)) if opts else ""

    site_of = st.sampled_from([(t, s) for t in mtypes for s in sorted(set(mtypes[t][0]))])

    def partner(t, pattern_sites):
        """Optional context: the molecule is already bound, through a site the pattern does not
        mention yet, to a partner."""
        left = Counter(mtypes[t][0]) - Counter(pattern_sites)
        if not left or not draw(st.integers(0, 3)) == 0:
            return "", ""
        o = draw(st.sampled_from(sorted(left)))
        t2, s2 = draw(site_of)
        return f",{o}!9", f".{t2}({s2}!9)"

    rules = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["bind", "bind", "homodimer", "unbind", "ring", "state", "state",
                                     "synth", "degrade"]))
        rev = draw(st.booleans())
        if kind in ("bind", "homodimer"):
            t1, s1 = draw(site_of)
            if kind == "homodimer":
                t2, s2 = t1, s1
            else:
                t2, s2 = draw(site_of)
            c1, c2 = context(t1, s1), context(t2, s2)
            b1, m1 = partner(t1, [s1] + [c.split("~")[0].split("!")[0] for c in c1.split(",")[1:]])
            lhs = f"{t1}({s1}{c1}{b1}){m1} + {t2}({s2}{c2})"
            rhs = f"{t1}({s1}!1{c1}{b1}){m1}.{t2}({s2}!1{c2})"
            mods = ""
            if draw(st.integers(0, 4)) == 0:
                t3 = draw(st.sampled_from(sorted(mtypes)))
                which = draw(st.sampled_from(["include", "exclude"]))
                mods = f" {which}_reactants({draw(st.integers(1, 2))},{t3}())"
            rules.append(f"{lhs} {'<->' if rev else '->'} {rhs}  kf{', kr' if rev else ''}{mods}")
        elif kind == "unbind":
            t1, s1 = draw(site_of)
            t2, s2 = draw(site_of)
            c1 = context(t1, s1)
            rules.append(f"{t1}({s1}!1{c1}).{t2}({s2}!1) -> {t1}({s1}{c1}) + {t2}({s2})  kr")
        elif kind == "ring":
            # ring closure inside one complex: the two molecules are joined by '.' without a
            # bond (an implicit bond) in a single reactant pattern, which BioNetGen handles
            t1, s1 = draw(site_of)
            t2, s2 = draw(site_of)
            rules.append(f"{t1}({s1}).{t2}({s2}) {'<->' if rev else '->'} {t1}({s1}!1).{t2}({s2}!1)  kc"
                         f"{', kr' if rev else ''}")
        elif kind == "state":
            cands = [(t, s) for t in mtypes for s, v in mtypes[t][1].items() if len(v) >= 2]
            if not cands:
                continue
            t, s = draw(st.sampled_from(cands))
            a, b = draw(st.permutations(mtypes[t][1][s]))[:2]
            c = context(t, s)
            rules.append(f"{t}({s}~{a}{c}) {'<->' if rev else '->'} {t}({s}~{b}{c})  kp{', kr' if rev else ''}")
        elif kind == "synth":
            t = draw(st.sampled_from(sorted(mtypes)))
            rules.append(f"0 -> {monomer(t)}  ks")
        else:
            t, s = draw(site_of)
            bound = draw(st.sampled_from(["", "!+"]))
            rules.append(f"{t}({s}{bound}) -> 0  kd" + (" DeleteMolecules" if draw(st.booleans()) else ""))
    if not rules:
        t, s = draw(site_of)
        rules.append(f"{t}({s}) + {t}({s}) -> {t}({s}!1).{t}({s}!1)  kf")
    observables = [f"Molecules  tot_{t}  {t}()" for t in mtypes]
    t, s = draw(site_of)
    observables.append(f"Species  bound_{t}_{s}  {t}({s}!+)")
    observables.append(f"Molecules  free_{t}_{s}  {t}({s})")
    t2, s2 = draw(site_of)
    observables.append(f"Molecules  pair  {t}({s}!1).{t2}({s2}!1), {t2}({s2}!?)")
    max_agg = draw(st.integers(2, 4))
    max_iter = draw(st.integers(1, 4))
    stoich = ""
    if draw(st.integers(0, 3)) == 0:
        stoich = f",max_stoich=>{{'{draw(st.sampled_from(sorted(mtypes)))}'=>{draw(st.integers(1, 2))}}}"
    lines = ["begin model", "begin parameters",
             "  kf 1.5", "  kr 0.25", "  kc 3", "  kp 0.7", "  ks 2", "  kd 0.1",
             "end parameters", "begin molecule types"]
    lines += [f"  {decl(t)}" for t in mtypes]
    lines += ["end molecule types", "begin seed species"]
    lines += [f"  {monomer(t)}  {10 * (i + 1)}" for i, t in enumerate(mtypes)]
    if draw(st.booleans()):  # a dimer seed
        t, s = draw(site_of)
        t2, s2 = draw(site_of)
        if (t, s) != (t2, s2) or mtypes[t][0].count(s) == 1:
            lines.append(f"  {monomer(t, bond=s)}.{monomer(t2, bond=s2)}  5")
    lines += ["end seed species", "begin observables"] + [f"  {o}" for o in observables]
    lines += ["end observables", "begin reaction rules"] + [f"  {r}" for r in rules]
    lines += ["end reaction rules", "end model",
              f"generate_network({{overwrite=>1,max_agg=>{max_agg},max_iter=>{max_iter}{stoich}}})"]
    return "\n".join(lines) + "\n"


@settings(max_examples=25, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bngl_models())
def test_random_rule_sets_expand_as_in_bionetgen(text):
    bng2_path()
    model = read_bngl(text, name="random")
    ours = generate_network(model)
    bng = run_bng(text, "random")
    if bng is None:
        assert not ours.reactions
        return
    assert_same_network(ours, bng, rel=1e-7)


# ---------------------------------------------------------------- compartments (cBNGL)

COMPARTMENTS = """begin compartments
  EC 3 10
  PM 2 2 EC
  CP 3 3 PM
end compartments
"""
SIZES = {"EC": 10.0, "PM": 2.0, "CP": 3.0}


@st.composite
def cbngl_models(draw):
    """A random model as above, its seeds placed in a volume (EC, CP) or on the membrane between
    them (PM), synthesis into the seed's compartment or another one."""
    lines = draw(bngl_models()).splitlines()
    start, end = lines.index("begin seed species"), lines.index("end seed species")
    home = {}
    for i in range(start + 1, end):
        pattern, amount = lines[i].split()
        where = draw(st.sampled_from(sorted(SIZES)))
        if "." in pattern:
            lines[i] = f"  @{where}::{pattern}  {amount}"
        else:
            lines[i] = f"  {pattern}@{where}  {amount}"
            home[pattern.split("(")[0]] = where
    for i, line in enumerate(lines):
        if line.startswith("  0 -> "):
            product, rate = line[len("  0 -> "):].split()
            where = draw(st.sampled_from([home[product.split("(")[0]], "EC", "PM"]))
            lines[i] = f"  0 -> {product}@{where}  {rate}"
    text = "\n".join(lines) + "\n"
    return text.replace("begin molecule types", COMPARTMENTS + "begin molecule types")


@settings(max_examples=15, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cbngl_models())
def test_random_compartment_models_expand_as_in_bionetgen(text):
    """cBNGL: the same network as BioNetGen, rate constants with volume factors included."""
    bng2_path()
    ours = generate_network(read_bngl(text, name="random"))
    bng = run_bng(text, "random")
    if bng is None:
        assert not ours.reactions
        return
    assert_same_network(ours, bng, rel=1e-7)


VOLUME_SURFACE = """
begin parameters
  k 1
end parameters
begin compartments
  EC 3 10
  PM 2 2 EC
end compartments
begin molecule types
  L(r)
  R(l)
end molecule types
begin seed species
  L(r)@EC 5
  R(l)@PM 1
end seed species
begin reaction rules
  L(r) + R(l) -> L(r!1).R(l!1) k
end reaction rules
generate_network({overwrite=>1})
"""


def test_volume_surface_binding_rate_as_in_bionetgen():
    """A volume molecule binding a membrane one: k/EC (BioNetGen's convention), not k/PM.
    Found by the random cBNGL test before the generator followed BioNetGen here."""
    ours = generate_network(read_bngl(VOLUME_SURFACE, name="vs"))
    assert [r.volume_factor.text for r in ours.reactions] == ["1/EC"]
    assert_same_network(ours, run_bng(VOLUME_SURFACE, "vs"), rel=1e-7)


def test_volume_surface_model_written_for_bionetgen_keeps_our_rate():
    """write_bngl compensates for BioNetGen's volume convention, so BNG2.pl reproduces our network."""
    model = read_bngl(VOLUME_SURFACE, name="vs")
    assert_same_network(generate_network(model), run_bng(write_bngl(model), "vs"), rel=1e-7)


SYNTHESIS_THEN_BINDING = """
begin parameters
  k 1
end parameters
begin molecule types
  A()
  B(x)
end molecule types
begin seed species
  A() 1
end seed species
begin reaction rules
  0 -> B(x) k
  B(x) + B(x) -> B(x!1).B(x!1) k
end reaction rules
generate_network({overwrite=>1,max_iter=>1})
"""


def test_synthesis_counts_as_first_iteration_as_in_bionetgen():
    """Zero-order rules fire in the first iteration, so with max_iter=>1 the synthesised B is
    not dimerised yet. Found by the random cBNGL test before the generator followed BioNetGen."""
    ours = generate_network(read_bngl(SYNTHESIS_THEN_BINDING, name="synth"))
    assert len(ours.species) == 2
    assert_same_network(ours, run_bng(SYNTHESIS_THEN_BINDING, "synth"), rel=1e-7)
