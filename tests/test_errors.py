"""Bad input: each error names the model file, the line and the component, and the CLI exits non-zero."""

import subprocess
import sys
import textwrap
import time

import pytest

from il2sbml import Model, generate_network, load_model
from il2sbml.cli import main
from il2sbml.lang.errors import Il2sbmlError, ModelError, NetworkLimitError, UnitError

HEADER = "from il2sbml import Model\nm = Model('bad')\n"


def write_model(tmp_path, body: str):
    path = tmp_path / "bad_model.py"
    path.write_text(HEADER + textwrap.dedent(body) + "model = m\n")
    return path


def line_of(path, needle: str) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


CASES = {
    "undeclared molecule": (
        """
        m.parameter("k", 1)
        m.molecule_type("A(b)")
        m.rule("bind", "A(b) + Q(a) -> A(b!1).Q(a!1)", "k")
        """, "Q(a)", ["rule 'bind'", "undeclared molecule type 'Q'"]),
    "undeclared site": (
        """
        m.parameter("k", 1)
        m.molecule_type("A(b)")
        m.rule("bind", "A(c) + A(b) -> A(c!1).A(b!1)", "k")
        """, "A(c) +", ["rule 'bind'", "no site 'c'", "A(b)"]),
    "undeclared state": (
        """
        m.molecule_type("A(s~U~P)")
        m.seed("A(s~X)", 10)
        """, "A(s~X)", ["seed 'A(s~X)'", "undeclared state 'X'", "allowed: U, P"]),
    "bond with one end": (
        """
        m.parameter("k", 1)
        m.molecule_type("A(b)")
        m.rule("bind", "A(b) + A(b) -> A(b!1).A(b)", "k")
        """, "A(b!1).A(b)", ["rule 'bind'", "bond !1", "1 end"]),
    "duplicate parameter": (
        """
        m.parameter("k", 1)
        m.parameter("k", 2)
        """, '"k", 2', ["duplicate name 'k'", "parameter"]),
    "duplicate molecule type": (
        """
        m.molecule_type("A(b)")
        m.molecule_type("A(c)")
        """, "A(c)", ["duplicate molecule type 'A'"]),
    "duplicate rule": (
        """
        m.parameter("k", 1)
        m.molecule_type("A(s~U~P)")
        m.rule("r", "A(s~U) -> A(s~P)", "k")
        m.rule("r", "A(s~P) -> A(s~U)", "k")
        """, 'A(s~P) -> A(s~U)', ["duplicate rule name 'r'"]),
    "missing rate": (
        """
        m.molecule_type("A(s~U~P)")
        m.rule("phos", "A(s~U) -> A(s~P)")
        """, "phos", ["rule 'phos'", "no rate"]),
    "missing reverse rate": (
        """
        m.parameter("k", 1)
        m.molecule_type("A(s~U~P)")
        m.rule("phos", "A(s~U) <-> A(s~P)", "k")
        """, "phos", ["rule 'phos'", "no reverse rate"]),
    "wrong rate units": (
        """
        m.parameter("kon", 1e6, "1/s")
        m.compartment("cyt", dimension=3, size=1e-12, units="L")
        m.molecule_type("A(b)")
        m.rule("bind", "A(b) + A(b) -> A(b!1).A(b!1)", "kon")
        """, '"bind"', ["rule 'bind'", "units 1/s", "2 reactants"]),
    "non-positive compartment": (
        """
        m.compartment("cyt", dimension=3, size=0, units="L")
        """, "cyt", ["compartment 'cyt'", "size must be positive"]),
    "negative compartment by expression": (
        """
        m.parameter("V", -1)
        m.compartment("cyt", dimension=3, size="2*V")
        """, "cyt", ["compartment 'cyt'", "size must be positive", "-2"]),
    "rate uses undeclared name": (
        """
        m.molecule_type("A(s~U~P)")
        m.rule("phos", "A(s~U) -> A(s~P)", "kcat")
        """, "phos", ["rule 'phos'", "'kcat'", "not declared"]),
    "unknown unit": (
        """
        m.parameter("k", 1, "furlongs")
        """, "furlongs", ["parameter 'k'", "unknown unit symbol 'furlongs'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_names_file_line_and_component(tmp_path, case, capsys):
    body, needle, fragments = CASES[case]
    path = write_model(tmp_path, body)
    with pytest.raises(ModelError) as info:
        load_model(str(path))
    msg = str(info.value)
    assert f"bad_model.py:{line_of(path, needle)}:" in msg, msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    # and through the CLI: non-zero exit, the same message on stderr, nothing on stdout
    rc = main(["network", str(path), "--json"])
    out, err = capsys.readouterr()
    assert rc != 0
    assert f"bad_model.py:{line_of(path, needle)}:" in err
    assert out == ""


def test_missing_model_file_exits_nonzero(capsys):
    assert main(["network", "/nonexistent/model.py"]) != 0
    assert "no such model file" in capsys.readouterr().err


def test_file_without_model(tmp_path, capsys):
    p = tmp_path / "empty.py"
    p.write_text("x = 1\n")
    assert main(["network", str(p)]) != 0
    assert "defines no Model" in capsys.readouterr().err


def polymer(branching=False):
    """Head-to-tail polymerisation: unbounded unless a limit stops it."""
    m = Model("polymer")
    m.parameter("k", 1)
    m.molecule_type("A(h,t,s)" if branching else "A(h,t)")
    m.seed("A(h,t,s)" if branching else "A(h,t)", 100)
    m.rule("grow", "A(h) + A(t) -> A(h!1).A(t!1)", "k")
    if branching:
        m.rule("branch", "A(s) + A(t) -> A(s!1).A(t!1)", "k")
    return m


def test_unbounded_polymerisation_fails_fast_naming_the_rule():
    m = polymer()
    t0 = time.monotonic()
    with pytest.raises(NetworkLimitError) as info:
        generate_network(m)
    assert time.monotonic() - t0 < 60
    assert "'grow'" in str(info.value)
    assert info.value.rule == "grow"


def test_explicit_limits_truncate_instead():
    m = polymer()
    net = generate_network(m, max_agg=4)
    assert max(s.label.count("A(") for s in net.species) == 4
    # chains of 1..4 molecules; no rings, since closing one is not a bimolecular step
    assert len(net.species) == 4


def test_max_species_limit_names_rule():
    m = polymer()
    with pytest.raises(NetworkLimitError, match="max_species=5.*'grow'"):
        generate_network(m, max_species=5)


def test_timeout_is_enforced():
    """The timeout holds inside an iteration too (one iteration of this network makes ~10^6
    species on a fast machine: checking only between iterations overran it by minutes)."""
    m = polymer(branching=True)
    t0 = time.monotonic()
    with pytest.raises(NetworkLimitError, match="timeout"):
        generate_network(m, timeout=0.2, max_agg=60, max_species=10**8, max_reactions=10**9)
    assert time.monotonic() - t0 < 5.0


def test_cli_script_installed_and_reports_json(tmp_path):
    path = write_model(tmp_path, """
        m.parameter("k", 1)
        m.molecule_type("A(b)")
        m.seed("A(b)", 10)
        m.rule("bind", "A(b) + A(b) <-> A(b!1).A(b!1)", "k", "k")
        m.observable("Atot", "A()")
        """)
    res = subprocess.run([sys.executable, "-m", "il2sbml.cli", "network", str(path), "--json"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    import json
    data = json.loads(res.stdout)
    assert (data["species"], data["reactions"], data["observables"]) == (2, 2, 1)


def test_units_wrong_dimension_for_compartment():
    m = Model("u")
    with pytest.raises(UnitError, match="not a volume"):
        m.compartment("cyt", dimension=3, size=1, units="um^2")


def test_errors_are_il2sbml_errors():
    assert issubclass(ModelError, Il2sbmlError) and issubclass(NetworkLimitError, Il2sbmlError)
