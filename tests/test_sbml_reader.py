"""The SBML reader: the 20 semantic cases read, written and simulated in libRoadRunner and
COPASI match the SBML Test Suite's results; the curated BioModels round-trip; write → read →
write is byte-stable; constructs outside the core are refused by name; hostile input fails
fast and clearly."""

import csv
import time

import numpy as np
import pytest
import roadrunner

from bngnet import suite_dir

from il2sbml.lang.errors import NotSupportedError
from il2sbml.formats.sbml import SBMLError, validate_sbml, write_sbml
from il2sbml.formats.sbmlread import MAX_BYTES, read_sbml

from test_sbml_writer import copasi_run

SEMANTIC = ["00001", "00003", "00004", "00010", "00015", "00018", "00020", "00021", "00054", "00055",
            "00056", "00057", "00077", "00588", "00801", "00805", "00806", "00808", "00812", "01808"]


def case(cid):
    folder = suite_dir() / "semantic" / cid
    settings = {}
    for line in (folder / f"{cid}-settings.txt").read_text().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            settings[k.strip()] = v.strip()
    rows = list(csv.DictReader(open(folder / f"{cid}-results.csv", encoding="utf-8")))
    return folder / f"{cid}-sbml-l3v1.xml", settings, rows


def selections(settings, copasi=False):
    amount = [v.strip() for v in settings["amount"].split(",") if v.strip()]
    conc = [v.strip() for v in settings["concentration"].split(",") if v.strip()]
    others = [v.strip() for v in settings["variables"].split(",") if v.strip() and v.strip() not in amount + conc]
    return amount, conc, others


def reference(settings, rows):
    amount, conc, others = selections(settings)
    tkey = "time" if "time" in rows[0] else "Time"
    return np.array([[float(r[k]) for k in [tkey] + amount + conc + others] for r in rows])


def within(sim, ref, settings):
    ta, tr = float(settings["absolute"]), float(settings["relative"])
    return np.abs(sim - ref) <= ta + tr * np.abs(ref)


@pytest.mark.parametrize("cid", SEMANTIC)
def test_semantic_case_roundtrip_in_libroadrunner_and_copasi(cid, tmp_path):
    path, settings, rows = case(cid)
    written = write_sbml(read_sbml(str(path)))
    assert [p for p in validate_sbml(written) if p.severity == "error"] == []
    amount, conc, others = selections(settings)
    start, duration, steps = float(settings["start"]), float(settings["duration"]), int(settings["steps"])
    ref = reference(settings, rows)
    r = roadrunner.RoadRunner(written)
    r.integrator.relative_tolerance = 1e-10
    r.integrator.absolute_tolerance = 1e-14
    rr = np.array(r.simulate(start, start + duration, steps + 1,
                             ["time"] + amount + [f"[{c}]" for c in conc] + others))
    assert within(rr, ref, settings).all(), cid
    # COPASI reports species as amounts (particle numbers) in its time series: compare amounts,
    # and concentrations through the compartment volume
    # COPASI's time series holds species (amounts or concentrations), not constants
    n = 1 + len(amount) + len(conc)
    cp = copasi_run(written, duration, steps, amount + [f"[{c}]" for c in conc], tmp_path)
    assert within(cp, ref[:, :n], settings).all(), cid
    assert np.allclose(cp, rr[:, :n], rtol=1e-6, atol=float(settings["absolute"]) / 10)


def test_write_read_write_is_byte_identical():
    for cid in SEMANTIC:
        path, _, _ = case(cid)
        once = write_sbml(read_sbml(str(path)))
        assert write_sbml(read_sbml(once)) == once, cid


@pytest.mark.parametrize("name", ["statfactor", "michment", "test_fixed", "univ_synth", "blbr", "il2"])
def test_our_sbml_reads_back_and_writes_the_same_bytes(name):
    """Generated SBML (units, conversion constants, annotations, notes, SBO terms, history,
    observables as rules) survives read -> write unchanged, and simulates the same."""
    from test_sbml_writer import net_of

    first = write_sbml(net_of(name))
    net = read_sbml(first)
    assert write_sbml(net) == first


@pytest.mark.parametrize("cid", ["00001", "00019", "00027", "00028", "00033", "00034"])
def test_stochastic_cases_read(cid):
    """DSMTS models (rules, events, local parameters, non-mass-action laws) are read whole."""
    net = read_sbml(str(suite_dir() / "stochastic" / cid / f"{cid}-sbml-l3v1.xml"))
    written = write_sbml(net)
    assert [p for p in validate_sbml(written) if p.severity == "error"] == []
    again = read_sbml(written)
    assert [r.law.text for r in again.reactions] == [r.law.text for r in net.reactions]
    assert len(again.sbml.events) == len(net.sbml.events)


def test_event_semantics_are_kept():
    net = read_sbml(str(suite_dir() / "stochastic" / "00033" / "00033-sbml-l3v1.xml"))
    (ev,) = net.sbml.events
    assert ev.trigger.evaluate({"P2": 31}) and not ev.trigger.evaluate({"P2": 30})
    assert dict((v, e.evaluate({})) for v, e in ev.assignments) == {"P": 100.0, "P2": 0.0}


@pytest.mark.parametrize("name", ["BIOMD0000000009", "BIOMD0000000010"])
def test_curated_biomodels_reread_simulate_identically(name):
    path = suite_dir() / "biomodels" / f"{name}.xml"
    original = roadrunner.RoadRunner(str(path))
    rewritten = roadrunner.RoadRunner(write_sbml(read_sbml(str(path))))
    ids = list(original.model.getFloatingSpeciesIds())
    assert sorted(ids) == sorted(rewritten.model.getFloatingSpeciesIds())
    a = np.array(original.simulate(0, 3000, 301, ["time"] + ids))
    b = np.array(rewritten.simulate(0, 3000, 301, ["time"] + ids))
    assert np.allclose(a, b, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------ refusals and hostile input

CORE = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">
  <model id="m">
    <listOfCompartments><compartment id="c" spatialDimensions="3" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies>
      <species id="S" compartment="c" initialAmount="10" hasOnlySubstanceUnits="true"
               boundaryCondition="false" constant="false"/>
    </listOfSpecies>
    <listOfParameters><parameter id="k" value="1" constant="true"/></listOfParameters>
    {extra}
    <listOfReactions>
      <reaction id="r" reversible="false" fast="{fast}">
        <listOfReactants><speciesReference species="S" stoichiometry="{stoich}" constant="true"/></listOfReactants>
        <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k</ci><ci>S</ci></apply></math></kineticLaw>
      </reaction>
    </listOfReactions>
  </model>
</sbml>
"""


def core(extra="", fast="false", stoich="1"):
    return CORE.format(extra=extra, fast=fast, stoich=stoich)


def test_core_model_reads():
    net = read_sbml(core())
    assert [s.sbml_id for s in net.species] == ["S"] and net.reactions[0].law.text == "(k * S)"


@pytest.mark.parametrize("text,words", [
    (core(fast="true"), "fast reaction (r)"),
    (core(stoich="1.5"), "non-integer stoichiometry 1.5 (r)"),
    (core(extra='<listOfRules><algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML">'
                '<apply><minus/><ci>k</ci><cn>1</cn></apply></math></algebraicRule></listOfRules>'),
     "algebraic rule"),
    (core(extra='<listOfRules><rateRule variable="k"><math xmlns="http://www.w3.org/1998/Math/MathML">'
                '<cn>1</cn></math></rateRule></listOfRules>'), "rate rule (k)"),
])
def test_unsupported_constructs_are_refused_by_name(text, words):
    text = text.replace('<parameter id="k" value="1" constant="true"/>',
                        '<parameter id="k" value="1" constant="false"/>') if "rateRule" in text else text
    with pytest.raises(NotSupportedError) as info:
        read_sbml(text)
    assert words in str(info.value)


def test_delay_is_refused_by_name():
    text = core().replace("<apply><times/><ci>k</ci><ci>S</ci></apply>",
                          '<apply><times/><ci>k</ci><apply><csymbol encoding="text" '
                          'definitionURL="http://www.sbml.org/sbml/symbols/delay">delay</csymbol>'
                          '<ci>S</ci><cn>1</cn></apply></apply>')
    with pytest.raises(NotSupportedError, match="delay"):
        read_sbml(text)


def test_malformed_xml_names_the_line():
    with pytest.raises(SBMLError, match=r"SBML string:\d+: not valid SBML"):
        read_sbml(core().replace("</listOfSpecies>", ""))


def test_billion_laughs_is_refused_quickly():
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
            + ']>\n<sbml xmlns="http://www.sbml.org/sbml/level3/version1/core" level="3" version="1">'
              '<model id="m" name="&lol9;"/></sbml>')
    t0 = time.monotonic()
    with pytest.raises(SBMLError, match="entity"):
        read_sbml(bomb)
    assert time.monotonic() - t0 < 1.0


def test_oversized_file_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.xml"
    with open(big, "wb") as fh:
        fh.seek(MAX_BYTES + 1)
        fh.write(b"\0")
    t0 = time.monotonic()
    with pytest.raises(SBMLError, match="byte limit"):
        read_sbml(str(big))
    assert time.monotonic() - t0 < 1.0


def test_missing_file():
    with pytest.raises(SBMLError, match="cannot read"):
        read_sbml("/nonexistent/model.xml")


def test_mass_action_is_recognised_on_the_amount_basis():
    """law = c * prod(S^n) over exactly the reactants: c is the rate constant on amounts
    (a concentration symbol S in V contributes 1/V); anything else stays a general law."""
    net = read_sbml(str(suite_dir() / "semantic" / "00055" / "00055-sbml-l3v1.xml"))
    r1, r2, r3 = net.reactions
    assert r1.mass_action and net.rate_value(0) == pytest.approx(0.75)          # compartment*k1*S1*S2, V=1
    assert not r2.mass_action                                                    # k2*(S2 - S3)
    assert r3.mass_action and "compartment1" in r3.rate.text
    with pytest.raises(ValueError, match="general kinetic law"):
        net.rate_value(1)
    net = read_sbml(str(suite_dir() / "semantic" / "00021" / "00021-sbml-l3v1.xml"))   # V = 0.3, S2^2
    k = {r.sbml_id: net.rate_value(i) for i, r in enumerate(net.reactions) if r.mass_action}
    assert k == pytest.approx({"reaction1": 0.35, "reaction2": 180 / 0.3})
    stoch = read_sbml(str(suite_dir() / "stochastic" / "00030" / "00030-sbml-l3v1.xml"))
    assert [r.mass_action for r in stoch.reactions] == [False, True]               # k1*P*(P-1)/2 is not c*P^2
