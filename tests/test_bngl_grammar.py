"""Real-world BNGL, read as BNG2.pl reads it (issue "Real-world BNGL", item 1).

* The three refusals of the issue are gone, each on a minimal BNGL file: a parameter called
  ``NA`` (and ``pi``, ``e``, ``t``, ``lambda``, ``inf``: ordinary names in BNGL; the SBML has a
  safe id where SBML needs one, keeps the name, and reads back and writes again the same
  bytes), a rate adding a parameter to an observable in a file without units, and ``MM()`` /
  ``Sat()`` rate laws (their semantics: tests/test_bngl_ratelaws.py).
* The expression grammar (precedence, left-to-right grouping, unary operators, numbers,
  every built-in function, whitespace) against BNG2.pl's own evaluation of the same text.
* The pattern grammar (bond labels, ``~?``, empty sites, labels and compartments in any
  order, species names, continuation lines) against BNG2.pl's network of the same file.
* What BNG2.pl refuses or mis-reads is refused by name, with the line.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from bngnet import assert_same_network
from test_bngl_bionetgen import bng2_path, run_bng

from il2sbml import generate_network
from il2sbml.formats.bngl import read_bngl, write_bngl
from il2sbml.formats.sbml import validate_sbml, write_sbml
from il2sbml.formats.sbmlread import read_sbml
from il2sbml.lang.errors import ModelError, NotSupportedError, PatternSyntaxError


def build_ok(net) -> str:
    """The network's SBML, with zero libSBML errors and zero warnings (units included)."""
    text = write_sbml(net)
    problems = validate_sbml(text)
    assert not problems, "\n".join(map(str, problems))
    return text


# ---------------------------------------------------------------- the three refusals

NAMES = """\
begin model
begin parameters
  NA      6.022e23     # Avogadro's number, as many published files define it
  V       1e-12
  pi      3            # ordinary parameters in BNGL, not constants
  e       2
  t       0.5
  inf     7
  kon     1e6/(NA*V)
  koff    pi*e*t*4/inf
end parameters
begin molecule types
  A(b)
end molecule types
begin seed species
  A(b)  100
end seed species
begin observables
  Molecules Atot A()
end observables
begin reaction rules
  A(b) + A(b) <-> A(b!1).A(b!1)  kon, koff
end reaction rules
end model
generate_network({overwrite=>1})
"""


def test_na_pi_e_t_are_ordinary_parameters_and_round_trip_through_sbml_with_safe_ids(tmp_path):
    path = tmp_path / "names.bngl"
    path.write_text(NAMES)
    model = read_bngl(path)
    values = model.parameter_values()
    assert values["kon"] == pytest.approx(1e6 / (6.022e23 * 1e-12), rel=1e-15)
    assert values["koff"] == pytest.approx(3 * 2 * 0.5 * 4 / 7, rel=1e-15)  # pi is 3 here, not 3.14159
    net = generate_network(model)
    assert_same_network(net, run_bng(NAMES, "names"), rel=1e-7)
    text = build_ok(net)
    # ids SBML would read as constants are made safe; the element keeps the BNGL name
    assert '<parameter metaid="meta_pi_" sboTerm="SBO:0000002" id="pi_" name="pi"' in text
    assert 'id="inf_" name="inf"' in text
    for plain in ("NA", "e_", "t", "kon"):
        assert f'id="{plain}"' in text
    assert 'id="e_" name="e"' in text
    # read back: the same values under the safe ids, and the same bytes written again
    back = read_sbml(text)
    by_name = {p.doc or p.name: back.parameters[p.name] for p in back.info.parameters}
    for name in ("NA", "pi", "e", "t", "inf", "kon", "koff"):
        assert by_name[name] == pytest.approx(values[name], rel=1e-15), name
    again = write_sbml(back)
    assert write_sbml(read_sbml(again)) == again
    assert not [p for p in validate_sbml(again) if p.severity == "error"]


def test_python_keywords_are_ordinary_bngl_names():
    """``lambda``, ``in``, ``None`` are BNGL names (il2sbml's expressions are parsed by Python)."""
    text = NAMES.replace("  inf     7\n", "  inf     7\n  lambda  2\n  in 3\n  None 5\n").replace(
        "koff    pi*e*t*4/inf", "koff    pi*e*t*lambda*in/None + _pi()*0")
    model = read_bngl(text, name="kw")
    assert model.parameter_values()["koff"] == pytest.approx(3 * 2 * 0.5 * 2 * 3 / 5)
    sbml = build_ok(generate_network(model))
    assert 'id="lambda"' in sbml and 'id="None"' in sbml
    assert "lambda" in write_bngl(model)


def test_parameter_plus_observable_in_a_file_without_units():
    """k3/(K4+G): BioNetGen adds a parameter and an observable count; no unit algebra."""
    text = """\
begin parameters
  k3 2.0
  K4 10
end parameters
begin molecule types
  G()
  X()
end molecule types
begin seed species
  G() 30
  X() 50
end seed species
begin observables
  Molecules G G()
end observables
begin reaction rules
  X() -> 0  k3/(K4+G)
end reaction rules
"""
    model = read_bngl(text, name="mix")
    net = generate_network(model)
    assert net.rate_value(0, {"G": 30.0}) == pytest.approx(2.0 / 40.0)
    assert_same_network(net, run_bng(text + "generate_network({overwrite=>1})\n", "mix"),
                        observable_values={"G": 30.0})
    sbml = build_ok(net)
    import roadrunner

    r = roadrunner.RoadRunner(sbml)
    assert r.getReactionRates()[0] == pytest.approx(2.0 / 40.0 * 50)   # flux k3/(K4+G) * X


def test_mm_and_sat_rate_laws_are_read_generated_and_written():
    text = """\
begin parameters
  kcat 1.0
  Km 30
end parameters
begin molecule types
  E(s)
  S()
  P()
end molecule types
begin seed species
  E(s) 10
  S() 100
end seed species
begin reaction rules
  S() + E(s) -> P() + E(s)  MM(kcat,Km)
  P() -> S()  Sat(kcat, Km)
end reaction rules
"""
    net = generate_network(read_bngl(text, name="mm"))
    assert [r.rate_string() for r in net.reactions] == ["MM kcat Km", "Sat kcat Km"]
    build_ok(net)


# ---------------------------------------------------------------- expressions, against BNG2.pl

# each expression is evaluated by BNG2.pl (a parameter of numbers is a 'Constant', whose value
# BNG2.pl writes into its SBML) and by il2sbml
EXPRESSIONS = {
    "p1": "2^3^2",                # left to right: (2^3)^2 = 64, not 2^9
    "p2": "-(2)^2",               # the unary minus binds to its operand: (-2)^2 = 4
    "p3": "-2^2",                 # a signed number: (-2)^2 = 4
    "p4": "2 - 3^2",              # binary minus: 2 - 9
    "p5": "1||0&&0",              # && and || share a level, left to right: (1||0)&&0 = 0
    "p6": "0&&0||1",
    "p7": "3>2>0.5",              # (3>2)>0.5 = 1
    "p8": "2 ** 3 * 2",
    "p9": "1 ~= 2",               # ~= is !=
    "p10": "rint(2.5) + rint(-2.5)*10",   # rint rounds half up: 3 + (-2)*10
    "p11": "5. + .5e1 + 3E2 + 1.5e-1",
    "p12": "avg(1,2,6) + sum(1,2)*10",
    "p13": "log2(8) + log10(100)*10 + ln(_e())*100",
    "p14": "asinh(1) + acosh(2) + atanh(0.5) + asin(0.5) + acos(0.5) + atan(1)",
    "p15": "sinh(1) * cosh(1) / tanh(1) + sqrt(16) + abs(-3) + exp(1)",
    "p16": "if(2>1, 10, 20) + max(1, 5, 3) + min(4, 2, 8)*10",
    "p17": "_pi() * 2",
    "p18": "2 - -3 * (4 / 2 / 2)",
    "p19": "sin (1) + cos(1) + tan( 1 )",
    "p20": "(1 <= 2) == 1 && (3 >= 4) != 1",
}


def bng_constant_values(exprs: dict) -> dict:
    """BNG2.pl's values of number-only parameter expressions (from its writeSBML)."""
    bng = bng2_path()
    params = "\n".join(f"  {k} {v}" for k, v in exprs.items())
    text = (f"begin model\nbegin parameters\n{params}\nend parameters\nbegin molecule types\n  A()\n"
            "end molecule types\nbegin seed species\n  A() 1\nend seed species\nbegin reaction rules\n"
            "  A() -> 0  p1\nend reaction rules\nend model\ngenerate_network({overwrite=>1})\nwriteSBML()\n")
    with tempfile.TemporaryDirectory(prefix="il2sbml-bng-") as tmp:
        path = Path(tmp) / "ex.bngl"
        path.write_text(text)
        proc = subprocess.run(["perl", bng, "-outdir", tmp, str(path)], capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 0, proc.stdout[-2000:]
        sbml = (Path(tmp) / "ex_sbml.xml").read_text()
    return {k: float(v) for k, v in re.findall(r'<parameter id="(\w+)" value="([^"]+)"', sbml)}


def test_expressions_evaluate_as_bionetgen_evaluates_them():
    bng = bng_constant_values(EXPRESSIONS)
    params = "\n".join(f"  {k} {v}" for k, v in EXPRESSIONS.items())
    model = read_bngl(f"begin parameters\n{params}\nend parameters\n", name="ex")
    ours = model.parameter_values()
    for k, text in EXPRESSIONS.items():
        assert ours[k] == pytest.approx(bng[k], rel=1e-7), f"{text}: ours {ours[k]}, BNG2.pl {bng[k]}"
    # the cases where BNGL and the DSL's Python-style reading differ
    assert (ours["p1"], ours["p2"], ours["p3"], ours["p5"]) == (64, 4, 4, 0)


def test_expression_text_is_the_bngl_reading_and_writes_back_to_bionetgen():
    """Where the DSL would read the text differently, the expression's text is BNG2.pl's
    reading (so nothing downstream can re-read it wrongly); written back as BNGL, BNG2.pl gets
    the same values."""
    model = read_bngl("begin parameters\n  a 2\n  b 3\n  c 2\n  p1 a^b^c\n  p2 -a^2\n  p3 a*-b^2\n"
                      "  p4 !a + 1\n  p5 k*2\n  k 0.5\nend parameters\n", name="t")
    p = model.parameters
    assert p["p1"].expr.text == "(a ** b) ** c" and p["p2"].expr.text == "(-a) ** 2"
    assert p["p5"].expr.text == "k*2"          # kept as written where both readings agree
    values = model.parameter_values()
    assert (values["p1"], values["p2"], values["p3"], values["p4"]) == (64, 4, 18, 1)


def test_whitespace_where_bionetgen_allows_it():
    text = """\
begin parameters
  k1 = 2 * 3 + 1
  k2   k1 / 2
  sa   4
  w    0.5
end parameters
begin compartments
  EC  3  sa * w * 10
  PM  2  sa * w   EC
end compartments
begin molecule types
  A(b)
end molecule types
begin seed species
  A(b)@EC   10 * 2
end seed species
begin reaction rules
  A(b)@EC + A(b)@EC -> A(b!1)@EC.A(b!1)@EC   k1 * 2
  A(b!1)@EC.A(b!1)@EC -> A(b)@EC + A(b)@EC   exp (0) * k2
end reaction rules
"""
    model = read_bngl(text, name="ws")
    assert model.compartments["PM"].parent == "EC"
    assert model.compartments["PM"].size.evaluate(model.parameter_values()) == 2.0
    assert model.parameter_values()["k1"] == 7
    assert_same_network(generate_network(model), run_bng(text + "generate_network({overwrite=>1})\n", "ws"), rel=1e-7)


# ---------------------------------------------------------------- patterns, against BNG2.pl

PATTERNS = """\
begin model
begin parameters
  k 1
end parameters
begin compartments
  EC  3  1
  End 3  2         # 'End' is a name: BNG2.pl's keywords are lower case
end compartments
begin molecule types
  A(b,c~0~1)
  B(a,x)
end molecule types
begin seed species
  Aseed: A(b,c~0)@EC     100    # a species name before the pattern
  B(a,,x)@EC 50                 # an empty site, skipped
  A(b!bond,c~1)@EC.B(a!bond,x)@EC \\
     5                          # a continuation line
end seed species
begin observables
  Molecules Ab A(b!+)
  Species  Any A(c~?)           # ~? : any state
end observables
begin reaction rules
  1 A%1@EC(b,c~0) -> A%1@EC(b,c~1)  k       # a rule index; label and compartment in any order
  A(b) + B(a) <-> A(b!x).B(a!x)  k, k       # a bond labelled with letters
  A(b!?,c~1) -> A(b!?,c~0)  k
  A(b!1).B(a!1,x) -> \\
     A(b) + B(a,x)  k
end reaction rules
end model
"""


def test_pattern_forms_give_bionetgens_network():
    model = read_bngl(PATTERNS, name="pat")
    assert "End" in model.compartments
    assert [r.name for r in model.rules][:2] == ["Rule1", "Rule2"]
    net = generate_network(model)
    assert_same_network(net, run_bng(PATTERNS + "generate_network({overwrite=>1})\n", "pat"))
    build_ok(net)


@pytest.mark.parametrize("pattern, words", [
    ("A(b!1!2).B(a!1).B(a!2)", ["2 bonds", "not supported", "BioNetGen accepts"]),
    ("A~0(b)", ["molecule's own state", "not supported"]),
    ("A!+(b)", ["molecule's own bond", "not supported"]),
    ("A(b@EC)", ["compartment of a site", "not supported"]),
    ("{MatchOnce}A(b)", ["attributes", "not supported"]),
    ("A(b!+!1).B(a!1)", ["wildcard", "other bonds"]),
    ("A(1)", ["cannot read site '1'"]),
])
def test_pattern_forms_il2sbml_does_not_model_are_refused_by_name(pattern, words, tmp_path):
    text = PATTERNS.replace("Molecules Ab A(b!+)", f"Molecules Ab {pattern}")
    path = tmp_path / "bad.bngl"
    path.write_text(text)
    with pytest.raises(PatternSyntaxError) as info:
        read_bngl(path)
    msg = str(info.value)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "Molecules Ab" in s)
    assert f"{path}:{line}: observable 'Ab'" in msg, msg
    for w in words:
        assert w in msg, msg


# ---------------------------------------------------------------- names

def test_only_bionetgens_built_in_names_are_reserved(tmp_path):
    base = ("begin parameters\n  k 1\n{extra}end parameters\nbegin molecule types\n  A()\nend molecule types\n"
            "begin observables\n  Molecules {obs} A()\nend observables\n{functions}")
    # an observable and a compartment may take a built-in's name (BNG2.pl allows it)
    m = read_bngl(base.format(extra="", obs="exp", functions="") + "begin reaction rules\n  A() -> 0 k*exp\n"
                  "end reaction rules\n", name="m")
    assert "exp" in m.observables
    for extra, obs, functions, words in [
        ("  exp 2\n", "Atot", "", ["parameter 'exp'", "built-in"]),
        ("", "Atot", "begin functions\n  min() = 2*k\nend functions\n", ["function 'min'", "built-in"]),
        ("  and 2\n", "Atot", "", ["parameter 'and'", "operator"]),
        ("", "time", "", ["observable 'time'", "the time"]),
    ]:
        with pytest.raises(ModelError) as info:
            read_bngl(base.format(extra=extra, obs=obs, functions=functions), name="m")
        for w in words:
            assert w in str(info.value), str(info.value)


@pytest.mark.parametrize("expr, exc, words", [
    ("log(2)", ModelError, ["log()", "ln(x)"]),
    ("pow(2,3)", ModelError, ["pow()", "a^b"]),
    ("floor(2.5)", ModelError, ["floor()", "rint"]),
    ("1d3", ModelError, ["'1d3'", "Fortran", "1e3"]),
    ("_pi", ModelError, ["'_pi'", "_pi()"]),
    ("mratio(1,2,0.5)", NotSupportedError, ["mratio()", "SBML"]),
    ("TFUN(Atot, 'f.dat')", NotSupportedError, ["TFUN()", "NFsim"]),
    ("exp(1,2)", ModelError, ["exp()", "1 argument"]),
    ("2 3", ModelError, ["unexpected '3'"]),
    ("(2", ModelError, ["missing ')'"]),
])
def test_what_bionetgen_refuses_or_misreads_is_refused_with_the_line(expr, exc, words, tmp_path):
    text = f"begin parameters\n  k0 1\n  k1 {expr}\nend parameters\n"
    path = tmp_path / "bad.bngl"
    path.write_text(text)
    with pytest.raises(exc) as info:
        read_bngl(path)
    msg = str(info.value)
    assert f"{path}:3:" in msg and "parameter 'k1'" in msg, msg
    for w in words:
        assert w in msg, msg


def test_what_bionetgen_accepts_with_a_warning_is_accepted_with_a_warning():
    text = ("=====\nbegin model\nbegin parameters\n  k 1\n  k 2\nend parameters\nbegin molecule types\n  A()\n"
            "end molecule types\nbegin seed species\n  A() 1\nend seed species\nbegin reaction rules\n"
            "  A() -> 0 k\nend reaction rules\nend model\n")
    with pytest.warns(UserWarning) as record:
        model = read_bngl(text, name="w")
    assert model.parameter_values()["k"] == 2          # the last definition, as in BNG2.pl
    assert [w.split(": ", 1)[0] for w in model.bngl_warnings] == ["<bngl>:1", "<bngl>:5"]
    assert "neither a block nor an action" in model.bngl_warnings[0]
    assert "defined again" in model.bngl_warnings[1]
    assert len(record) == 2


def test_dsl_models_keep_their_reserved_names_and_unit_checks():
    from il2sbml import Model

    m = Model("d")
    with pytest.raises(ModelError, match="reserved"):
        m.parameter("NA", 6e23)
    m.parameter("r", 2.0)
    assert m.parameter("area", "4*pi*r^2").expr.evaluate(m.parameter_values()) == pytest.approx(16 * math.pi)
    u = Model("u")
    u.parameter("k3", 1.0, "1/s")
    u.parameter("K4", 10.0)
    u.molecule_type("G()")
    u.observable("G", "G()")
    with pytest.raises(ModelError, match="different units"):
        u.rule("r", "G() -> 0", "k3/(K4+G)")


def test_written_bngl_of_a_bngl_model_reads_back_in_bionetgen():
    model = read_bngl(NAMES, name="names")
    text = write_bngl(model)
    assert "    pi  3\n" in text and "koff  pi*e*t*4/inf" in text
    assert_same_network(generate_network(model), run_bng(text, "names"), rel=1e-7)


def test_bionetgens_functions_reach_sbml_libroadrunner_and_the_ssa():
    """Every built-in BNG2.pl has is exported to MathML (rint as floor(x+0.5), log2 with base 2,
    sum and avg as sums) with the value il2sbml computes, in a constant rate (the SSA's
    rate constant) and in a global function of an observable (libRoadRunner's rate)."""
    import roadrunner

    from il2sbml.simulate.compile import compile_network

    body = ("rint(2.5) + rint(-0.5) + log2(8) + log10(100) + ln(2) + exp(0.5) + abs(-1) + sqrt(2) + "
            "sin(0.3) + cos(0.3) + tan(0.3) + asin(0.3) + acos(0.3) + atan(0.3) + sinh(0.3) + cosh(0.3) + "
            "tanh(0.3) + asinh(0.3) + acosh(1.3) + atanh(0.3) + if(2>1, 1, 0) + min(3, 1, 2) + max(3, 1, 2) + "
            "sum(1, 2, 3) + avg(1, 2, 6) + _pi() + _e()")
    text = (f"begin parameters\n  k {body}\nend parameters\nbegin molecule types\n  A()\n  B()\nend molecule types\n"
            "begin seed species\n  A() 10\n  B() 10\nend seed species\nbegin observables\n  Molecules Atot A()\n"
            f"end observables\nbegin functions\n  f() = ({body.replace('2.5', 'Atot/4')})/100\nend functions\n"
            "begin reaction rules\n  A() -> 0  k\n  B() -> 0  f()\nend reaction rules\n")
    net = generate_network(read_bngl(text, name="fns"))
    k = net.parameters["k"]
    assert k == pytest.approx(3 + 0 + 3 + 2 + math.log(2) + math.exp(0.5) + 1 + math.sqrt(2) + math.sin(0.3)
                              + math.cos(0.3) + math.tan(0.3) + math.asin(0.3) + math.acos(0.3) + math.atan(0.3)
                              + math.sinh(0.3) + math.cosh(0.3) + math.tanh(0.3) + math.asinh(0.3)
                              + math.acosh(1.3) + math.atanh(0.3) + 1 + 1 + 3 + 6 + 3 + math.pi + math.e)
    sbml = build_ok(net)
    r = roadrunner.RoadRunner(sbml)
    rates = r.getReactionRates()
    assert rates[0] == pytest.approx(k * 10, rel=1e-12)
    assert rates[1] == pytest.approx(net.rate_value(1, {"Atot": 10.0}) * 10, rel=1e-12)   # rint(10/4) = 3
    back = read_sbml(sbml)                     # the MathML reads back to the same values
    assert back.parameters["k"] == pytest.approx(k, rel=1e-15)
    ssa_net = generate_network(read_bngl(text.replace("  B() -> 0  f()\n", ""), name="fns"))
    assert compile_network(ssa_net).rates[0] == pytest.approx(k, rel=1e-15)
