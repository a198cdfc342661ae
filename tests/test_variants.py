"""The table of engineered IL-2 variants (model_src/variants.py over data/variants/WTmutAffData.csv)."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module():
    spec = importlib.util.spec_from_file_location("il2_variants", ROOT / "model_src" / "variants.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


V = _module()


def test_every_row_of_the_measured_table_is_a_variant_or_refused_by_name():
    with open(V.TABLE, newline="", encoding="utf-8-sig") as fh:
        labels = [r["Mutein"] for r in csv.DictReader(fh)]
    table = V.read_table()
    assert len(labels) == 10
    assert sorted(table) == sorted(V.variant_name(label) for label in labels if label != "IL15")
    assert V.variant_name("WT N-term") == "WT_N_term"
    assert V.variant_name("F42Q N-Term") == "F42Q_N_Term"
    assert V.variant_name("R38Q/H16N") == "R38Q_H16N"
    assert V.variant_name("IL2") == "WT"
    # the rows that are not Octet measurements of a fusion say so
    assert "literature" in table["WT"].measured and "combination" in table["R38Q_H16N"].measured
    assert table["N88D_C_term"].measured.startswith("Octet")
    assert all("b074e92c" in v.citation for v in table.values())


def test_factors_are_ratios_to_the_wild_type_fusion_on_the_same_terminus():
    table = V.read_table()
    for name in ("WT", "WT_N_term", "WT_C_term"):
        assert table[name].factors(table) == {"Kd_a": 1.0, "Kd_b": 1.0, "K2_b_La": 1.0}
    r38q = table["R38Q_N_term"].factors(table)
    assert r38q["Kd_a"] == pytest.approx(0.71 / 0.19)
    assert r38q["Kd_b"] == r38q["K2_b_La"] == pytest.approx(3.9949 / 5.296)
    n88d = table["N88D_C_term"].factors(table)        # a C-term variant: against WT C-term
    assert n88d["Kd_b"] == pytest.approx(24.0166 / 3.043)
    assert table["R38Q_H16N"].reference == "WT_N_term"


def test_unknown_and_refused_names(tmp_path):
    with pytest.raises(V.VariantError, match=r"unknown variant 'R38X'; known: F42Q_N_Term, H16N_N_term, N88D_C_term"):
        V.variant("R38X")
    with pytest.raises(V.VariantError, match=r"variant 'IL15' is refused: IL-15 is not an IL-2 variant"):
        V.variant("IL15")
    assert V.variant("V91K_C_term").kd_betagamma_nM == pytest.approx(7.5586)


@pytest.mark.parametrize("value, message", [
    ("-0.7", r"Kd '-0.7' must be a positive number of nM"),
    ("", r"missing Kd; give the measured value in nM"),
    ("strong", r"'strong' is not a number; give the Kd in nM"),
])
def test_bad_table_rows_name_file_row_and_column(tmp_path, value, message):
    bad = tmp_path / "aff.csv"
    bad.write_text(f"Mutein,IL2RaKD,IL2RBGKD\nWT N-term,0.19,5.296\nR38Q N-term,{value},3.99\n")
    with pytest.raises(V.VariantError, match=rf"aff.csv:3: variant 'R38Q N-term', column IL2RaKD: {message}"):
        V.read_table(str(bad))


def test_a_table_without_its_reference_or_columns_is_refused(tmp_path):
    bad = tmp_path / "aff.csv"
    bad.write_text("Mutein,IL2RaKD,IL2RBGKD\nR38Q N-term,0.71,3.99\n")
    with pytest.raises(V.VariantError, match=r"needs the wild-type fusion 'WT_N_term' as its reference"):
        V.read_table(str(bad))
    bad.write_text("Mutein,IL2RaKD\nWT N-term,0.19\n")
    with pytest.raises(V.VariantError, match=r"missing column\(s\) IL2RBGKD"):
        V.read_table(str(bad))


# ---------------------------------------------------------------- variants in the IL-2 model and the CLI

IL2 = str(ROOT / "model_src" / "il2.py")


def test_a_wild_type_fusion_is_the_calibrated_model_exactly():
    """WT_N_term has the wild-type constants (ratio 1 to itself): same network, same parameter
    values, same pSTAT5 time course, bit for bit; WT is the model itself."""
    import numpy as np

    from il2sbml import generate_network, load_model
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    wt = load_model(IL2).with_parameter_set("Treg")
    fusion = load_model(IL2, ligand="WT_N_term", valency=1)
    assert fusion.name == "il2_WT_N_term" and list(fusion.parameter_sets) == list(load_model(IL2).parameter_sets)
    fusion = fusion.with_parameter_set("Treg")
    assert fusion.parameter_values() == wt.parameter_values()
    a, b = generate_network(wt), generate_network(fusion)
    assert [s.label for s in a.species] == [s.label for s in b.species]
    assert [(r.reactants, r.products, r.rate.text) for r in a.reactions] == \
        [(r.reactants, r.products, r.rate.text) for r in b.reactions]
    runs = [Simulator(write_sbml(n)).time_course(1800, 7, ["pSTAT5"], IL2_pM=30.0)["pSTAT5"] for n in (a, b)]
    assert np.array_equal(runs[0], runs[1]) and runs[0][-1] > 0
    assert load_model(IL2, ligand="WT") is not None and load_model(IL2, ligand="WT").name == "il2"


def test_build_writes_a_valid_variant_with_the_same_contract(tmp_path):
    """`il2sbml build model_src/il2.py --ligand R38Q_N_term --cell-type Treg`: zero libSBML
    problems, the wild-type file's species and parameter ids, and the variant's constants."""
    import libsbml

    from il2sbml.cli import main
    from il2sbml.formats.sbml import validate_sbml

    assert main(["build", IL2, "--ligand", "R38Q_N_term", "--valency", "1", "--cell-type", "Treg",
                 "-o", str(tmp_path)]) == 0
    path = tmp_path / "il2_R38Q_N_term_Treg.xml"
    text = path.read_text(encoding="utf-8")
    assert validate_sbml(text) == []
    var = libsbml.readSBMLFromString(text).getModel()
    wt = libsbml.readSBMLFromFile(str(ROOT / "build" / "il2_Treg.xml")).getModel()
    ids = lambda lst: [x.getId() for x in lst]  # noqa: E731
    assert ids(var.getListOfSpecies()) == ids(wt.getListOfSpecies())
    assert ids(var.getListOfParameters()) == ids(wt.getListOfParameters())
    p = lambda m, name: m.getParameter(name).getValue()  # noqa: E731
    assert p(var, "Kd_a") == pytest.approx(p(wt, "Kd_a") * 0.71 / 0.19, rel=1e-12)
    assert p(var, "Kd_b") == pytest.approx(p(wt, "Kd_b") * 3.9949 / 5.296, rel=1e-12)
    assert p(var, "K2_b_La") == pytest.approx(p(wt, "K2_b_La") * 3.9949 / 5.296, rel=1e-12)
    assert p(var, "K2_g_Lb") == p(wt, "K2_g_Lb") and p(var, "CD25_per_cell") == p(wt, "CD25_per_cell")


@pytest.mark.parametrize("args, message", [
    (["--ligand", "R38X"], r"unknown variant 'R38X'; known: F42Q_N_Term"),
    (["--ligand", "IL15"], r"variant 'IL15' is refused"),
    (["--ligand", "WT", "--valency", "3"], r"valency 3: a ligand carries 1 or 2 IL-2 moieties"),
    (["--ligand", "WT", "--valency", "2"], r"'WT' is unfused IL-2, one moiety: it has no bivalent form"),
])
def test_bad_variant_options_exit_non_zero_with_the_reason(tmp_path, capsys, args, message):
    import re

    from il2sbml.cli import main

    assert main(["build", IL2, "--cell-type", "Treg", "-o", str(tmp_path)] + args) != 0
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_options_for_a_model_file_without_build_model_are_refused(tmp_path):
    from il2sbml import Il2sbmlError, load_model

    plain = tmp_path / "m.py"
    plain.write_text("from il2sbml import Model\nmodel = Model('m')\n")
    with pytest.raises(Il2sbmlError, match=r"m.py: options --ligand need a build_model\(\.\.\.\) in the model file"):
        load_model(str(plain), ligand="WT")


# ---------------------------------------------------------------- selectivity

def test_variant_by_overrides_is_the_variants_own_sbml():
    """The selectivity analysis runs variants as parameter overrides of one compiled wild-type
    model; the variant's own SBML gives the same pSTAT5 (libRoadRunner, 1e-9 relative)."""
    import numpy as np

    from il2sbml import generate_network, load_model
    from il2sbml.analysis.selectivity import _models
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    wt, overrides, folds = _models(IL2, "N88D_C_term", 1)
    assert set(overrides) == {"Kd_a", "Kd_b", "K2_b_La"} and folds["Kd_b"] == pytest.approx(24.0166 / 3.043)
    nk = wt.parameter_sets["NK"].as_dict()
    doses = [1.0, 100.0, 1e4]
    own = Simulator(write_sbml(generate_network(load_model(IL2, ligand="N88D_C_term").with_parameter_set("NK"))))
    by_override = Simulator(write_sbml(generate_network(wt.with_parameter_set("Treg"))))
    a = own.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800)["pSTAT5"]
    b = by_override.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800, **nk, **overrides)["pSTAT5"]
    assert np.allclose(a, b, rtol=1e-9, atol=0) and a[-1] > 10 * a[0]


def test_removing_alpha_binding_is_a_cd25_knockout():
    """A ligand that cannot bind IL-2Ralpha (Kd_a x 1e8) gives Tregs the pSTAT5 of Tregs without
    CD25 (within 1e-3 relative), and both far below wild-type Tregs at a low dose (more than
    10-fold at 10 pM: 13.5-fold in the published fit, whose Tregs carry 4,700 IL-2Rbeta)."""
    import numpy as np

    from il2sbml import generate_network, load_model
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    wt = load_model(IL2)
    sim = Simulator(write_sbml(generate_network(wt.with_parameter_set("Treg"))))
    treg = wt.parameter_sets["Treg"].as_dict()
    doses = [10.0, 1e3, 1e5]
    no_alpha = sim.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800, **treg,
                                 Kd_a=wt.parameter_values()["Kd_a"] * 1e8)["pSTAT5"]
    knockout = sim.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800, **{**treg, "CD25_per_cell": 0.0})["pSTAT5"]
    normal = sim.dose_response("IL2_pM", doses, ["pSTAT5"], time=1800, **treg)["pSTAT5"]
    assert np.allclose(no_alpha, knockout, rtol=1e-3)
    assert normal[0] > 10 * knockout[0]


def test_selectivity_command_tables_and_a_small_map(tmp_path, capsys):
    """`il2sbml selectivity --ligand WT --ligand N88D_C_term --map 3`: the wild type's Treg EC50
    and NK/Treg index are the calibrated model's (tests/test_il2_model.py), weakening IL-2Rbeta
    binding (N88D) makes every effector's index larger, and the map has 3 x 3 points."""
    import math

    from il2sbml.cli import main

    out = tmp_path / "sel"
    assert main(["selectivity", IL2, "--ligand", "WT", "--ligand", "N88D_C_term", "--map", "3",
                 "--processes", "1", "--out", str(out)]) == 0
    lines = (out / "selectivity.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# pSTAT5 at 1800 s") and lines[1] == "ligand,cell,EC50_pM,max_pSTAT5_molecules,EC50_over_Treg"
    rows = {(r.split(",")[0], r.split(",")[1]): [float(x) for x in r.split(",")[2:]] for r in lines[2:]}
    assert len(rows) == 10
    assert 10 < rows["WT", "Treg"][0] < 80 and rows["WT", "NK"][2] >= 20
    for eff in ("CD4_helper", "CD8", "NK"):
        assert rows["N88D_C_term", eff][2] > rows["WT", eff][2]
    grid = (out / "design_map.csv").read_text(encoding="utf-8").splitlines()
    assert len(grid) == 2 + 9
    assert (out / "design_map.png").stat().st_size > 5000
    corner = [float(x) for x in grid[2].split(",")]          # 0.01-fold alpha and beta Kds: strong binder
    assert corner[0] == pytest.approx(0.01) and all(math.isfinite(v) for v in corner[2:])
    assert "N88D_C_term" in capsys.readouterr().out


def test_selectivity_refuses_a_bad_time_and_unfused_bivalent_il2(capsys):
    from il2sbml.cli import main

    assert main(["selectivity", IL2, "--time", "soon"]) != 0
    assert "--time: not a duration: 'soon'" in capsys.readouterr().err
    assert main(["selectivity", IL2, "--ligand", "WT", "--valency", "2"]) != 0
    assert "'WT' is unfused IL-2, one moiety: it has no bivalent form" in capsys.readouterr().err
    assert main(["selectivity", IL2, "--map", "1"]) != 0
    assert "--map 1: the design map needs at least 2 x 2 points" in capsys.readouterr().err


def test_responses_at_several_times_equal_selectivity_time_by_time():
    """One integration per dose for 30 min and 1 h (what the plate checks use) gives the EC50s,
    maxima and curves of selectivity() run once per time, within the integrator's tolerance."""
    from il2sbml.analysis.selectivity import SelectivityError, responses_at, selectivity

    both = responses_at(IL2, "R38Q_N_term", "Treg", [3600.0, 1800.0])
    assert sorted(both) == [1800.0, 3600.0]
    for t, res in both.items():
        one = selectivity(IL2, "R38Q_N_term", time_s=t, cells=("Treg",)).cells["Treg"]
        assert res.ec50_pM == pytest.approx(one.ec50_pM, rel=1e-4)
        assert np.allclose(res.pSTAT5, one.pSTAT5, rtol=1e-4) and res.doses_pM == one.doses_pM
    assert both[3600.0].pSTAT5 != both[1800.0].pSTAT5
    with pytest.raises(SelectivityError, match="times must be finite and > 0 s"):
        responses_at(IL2, "WT", "Treg", [0.0])
    with pytest.raises(SelectivityError, match="no cell type 'Tcell'"):
        responses_at(IL2, "WT", "Tcell", [1800.0])


def test_bivalent_selectivity_runs_on_the_fusions_own_model(tmp_path):
    """--valency 2: the wild-type fusion's pair-approximated model (pSTAT5 rules only), a
    variant's constants as values on it (bit for bit its own model's pSTAT5); avidity: two
    moieties make every cell type respond at a lower dose than one."""
    import numpy as np

    from il2sbml import load_model
    from il2sbml.analysis.selectivity import CELLS, _models, _wild_type_sbml, selectivity
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.generate.netgen import generate_network
    from il2sbml.simulate.ode import Simulator

    one = selectivity(IL2, "R38Q_N_term", valency=1)
    two = selectivity(IL2, "R38Q_N_term", valency=2)
    assert two.folds == one.folds and two.folds["Kd_a"] == pytest.approx(0.71 / 0.19, rel=1e-12)
    for cell in CELLS:
        assert 0 < two.cells[cell].ec50_pM < one.cells[cell].ec50_pM, cell
    wt, overrides, _ = _models(IL2, "R38Q_N_term", 2)
    own = load_model(IL2, ligand="R38Q_N_term", valency=2, downstream=False)
    values = dict(IL2_pM=30.0, **wt.parameter_sets["NK"].as_dict())
    by_values = Simulator(_wild_type_sbml(wt, 2)).time_course(1800, 3, ["pSTAT5"], **values, **overrides)
    by_own = Simulator(write_sbml(generate_network(own))).time_course(1800, 3, ["pSTAT5"], **values)
    assert np.allclose(by_values["pSTAT5"], by_own["pSTAT5"], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- held-out variant data

def test_variant_predictions_against_held_out_plates(tmp_path, capsys):
    """`il2sbml validate-variants`: a row per plate, variant, cell type and time (30 min, 1 h);
    ratios to the plate's wild-type fusion (12/5/2019 has none: its reference is R38Q N-term);
    H16L, without affinities, is measured but not predicted; misses are kept, with the reason
    where a measured curve has no EC50."""
    import math

    from il2sbml.analysis import variant_check as vc
    from il2sbml.cli import main

    out = tmp_path / "var"
    assert main(["validate-variants", IL2, "--out", str(out)]) == 0
    lines = (out / "variant_ratios.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines[2:]]
    assert len(rows) == 6 * 4 * 2                # (H16N, H16L; V91K; F42Q, N88D, H16L) x 4 cells x 2 times
    refs = {(r[0], r[2]) for r in rows}
    assert refs == {("11/8/2019", "WT_N_term"), ("11/27/2019", "WT_C_term"), ("12/5/2019", "R38Q_N_term")}
    h16l = [r for r in rows if r[1] == "H16L N-term"]
    assert h16l and all(r[6] == "nan" and "not predictable" in r[8] for r in h16l)
    scored = [r for r in rows if r[7] != "nan"]
    assert len(scored) >= 8 and all(float(r[7]) >= 1 for r in scored)
    assert all(r[8] != '""' for r in rows if r[5] == "nan")     # a missing measured ratio says why
    assert (out / "variant_curves.png").stat().st_size > 10_000
    assert "rank correlation" in capsys.readouterr().out
    # the rank correlation: perfect on a made-up monotone set, NaN below three variants
    made = [vc.Row("p", f"v{i}", "ref", "Treg", 1800.0, m, p, 1.0, "")
            for i, (m, p) in enumerate([(1.0, 2.0), (3.0, 2.5), (9.0, 7.0)])]
    assert vc.rank_correlation(made) == (1.0, 3)
    assert math.isnan(vc.rank_correlation(made[:2])[0])


def test_bivalent_plates_time_labels_are_checked_against_the_vendor_file(monkeypatch):
    """The known defect of the bivalent plates: on 2019-05-02 several blocks carry wrong time
    labels. The check against the vendor's curves finds, in all four populations alike, WT
    N-term's 2nd and 3rd blocks labelled 4 h to be 2 h and 1 h, R38Q's 2nd block labelled 2 h
    and H16N's 2nd labelled 1 h to be 30 min; every 2019-04-19 label stands or is dropped."""
    from collections import Counter

    from il2sbml.analysis.bivalent_check import load_bivalent_curves, time_labels

    checks = time_labels()
    assert len(checks) == 126
    moved = Counter((c.date, c.ligand, c.label_h, c.time_h) for c in checks if c.verdict == "relabelled")
    assert moved == {("5/2/2019", "WT N-term", 4.0, 2.0): 4, ("5/2/2019", "WT N-term", 4.0, 1.0): 4,
                     ("5/2/2019", "R38Q N-term", 2.0, 0.5): 4, ("5/2/2019", "H16N N-term", 1.0, 0.5): 4}
    assert all(c.verdict in ("kept", "unresolved") for c in checks if c.date == "4/19/2019")
    used = sorted(c.r2 for c in checks if c.verdict != "unresolved")
    assert used[len(used) // 2] > 0.95                 # the median block fits its vendor curve closely
    curves, _ = load_bivalent_curves()
    keys = {(c.plate, c.ligand, c.cell, c.time_s) for c in curves}
    assert ("5/2/2019", "WT N-term", "Treg", 3600.0) in keys and ("5/2/2019", "H16N N-term", "NK", 1800.0) in keys
    # the check can fail: matched against another population's curves, blocks are no longer kept
    import il2sbml.analysis.bivalent_check as B
    monkeypatch.setattr(B, "VENDOR_CELLS", dict(B.VENDOR_CELLS, Treg=B.VENDOR_CELLS["Thelper"],
                                                Thelper=B.VENDOR_CELLS["Treg"]))
    assert sum(c.verdict == "kept" for c in time_labels()) < 100


def test_bivalent_plates_and_valency_test_against_predictions(tmp_path):
    """Ratios within each physical plate (never across), predicted by the bivalent model, and the
    11/8/2019 valency test (dimer over monomer of the same fusion), through the report's part
    (its page text, CSVs and figure); Tregs at 1 h here (the report runs every population at
    30 min, the CLI at 30 min and 1 h)."""
    import csv
    import math

    from il2sbml.analysis.bivalent_check import PLATES, VALENCY_PLATE
    from il2sbml.analysis.report import _bivalent_html, _Log, _Page

    lines = []
    page = _Page(str(tmp_path))
    body = _bivalent_html(IL2, page, _Log(lines.append), cells=["Treg"], times_s=(3600.0,))
    with open(tmp_path / "bivalent_ratios.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(x for x in fh if not x.startswith("#")))
    pairs = {(r["plate"], r["variant"], r["reference"]) for r in rows if r["plate"] != VALENCY_PLATE}
    assert pairs == {(p, v.replace(" ", "_").replace("-", "_").replace("/", "_"),
                      ref.replace(" ", "_").replace("-", "_").replace("/", "_"))
                     for p, prs in PLATES.items() for ref, v in prs}
    assert {(r["cell"], r["time_min"]) for r in rows} == {("Treg", "60")}
    valency = [r for r in rows if r["plate"] == VALENCY_PLATE]
    assert len(valency) == 1 and 0 < float(valency[0]["predicted_ratio"]) < 1   # two moieties: a lower EC50
    assert all(math.isfinite(float(r["predicted_ratio"])) for r in rows)
    assert (tmp_path / "time_labels.csv").read_text().count("relabelled") == 16
    assert any("within 3-fold" in line for line in lines)
    assert "16 of" in body and "within 3-fold" in body and "bivalent_curves.png" in body
    assert re.search(r"Treg rank correlation 60 min: -?[0-9.]+ over 4 ratios", body)   # 4 Treg plate ratios at 1 h
    assert {"time_labels.csv", "bivalent_ratios.csv", "bivalent_curves.png"} <= set(page.files)
    assert (tmp_path / "bivalent_curves.png").stat().st_size > 10_000


def test_bad_bivalent_plate_files_name_file_and_row(tmp_path):
    """The time-label check refuses, naming file and line: a non-numeric value, a block that is
    not 12 doses, a block the vendor file has no curves for, and a short vendor row."""
    from il2sbml import Il2sbmlError
    from il2sbml.analysis.bivalent_check import BIVALENT_FILE, VENDOR_FILE, time_labels

    head, *body = (ROOT / BIVALENT_FILE).read_text(encoding="utf-8-sig").splitlines()
    cols = head.split(",")
    block = body[:12]

    def write(name, lines):
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    def replaced(line, column, value):
        cells = line.split(",")
        cells[cols.index(column)] = value
        return ",".join(cells)

    vendor = str(ROOT / VENDOR_FILE)
    bad = write("nan.csv", [head] + block[:3] + [replaced(block[3], "Mean", "high")] + block[4:])
    with pytest.raises(Il2sbmlError, match=r"nan.csv:5: cannot read the row"):
        time_labels(bad, vendor)
    short = write("short.csv", [head] + block[:11])
    with pytest.raises(Il2sbmlError, match=r"short.csv:2: a block of 11 doses, not 12"):
        time_labels(short, vendor)
    other = write("date.csv", [head] + [replaced(x, "Date", "1/1/2020") for x in block])
    with pytest.raises(Il2sbmlError, match=r"date.csv:2: block 1/1/2020 .* has no counterpart in"):
        time_labels(other, vendor)
    vhead, *vbody = (ROOT / VENDOR_FILE).read_text(encoding="utf-8-sig").splitlines()
    vbad = write("vendor.csv", [vhead, vbody[0], ",".join(vbody[1].split(",")[:8])])
    with pytest.raises(Il2sbmlError, match=r"vendor.csv:3: cannot read the row .*12 doses"):
        time_labels(str(ROOT / BIVALENT_FILE), vbad)


def test_a_bad_held_out_row_names_file_and_row(tmp_path):
    from il2sbml import Il2sbmlError
    from il2sbml.analysis.variant_check import load_curves

    bad = tmp_path / "m.csv"
    bad.write_text("Ligand,Dose,Time,Cell,Mean,Date,Bivalent\nWT N-term,84,0.5,Treg,many,11/8/2019,0\n")
    with pytest.raises(Il2sbmlError, match=r"m.csv:2: cannot read the row"):
        load_curves(str(bad))


# ---------------------------------------------------------------- the bivalent Fc fusion

def _il2_module():
    import runpy

    return runpy.run_path(IL2)


def test_bivalent_binding_rules_expand_as_in_bionetgen():
    """The two-moiety ligand's rules (3-D capture, 2-D crosslinking, whole-complex
    internalisation), receptors and trafficking without signalling, written as BNGL and expanded
    by BNG2.pl: the same species and reactions, rate factors included."""
    from bngnet import assert_same_network
    from test_bngl_bionetgen import run_bng

    from il2sbml import generate_network
    from il2sbml.formats.bngl import write_bngl

    model = _il2_module()["_build"](2, signalling=False, bivalent="full").with_parameter_set("Treg")
    ours = generate_network(model)
    assert len(ours.species) > 30 and any("fc!" in s.label for s in ours.species)
    assert_same_network(ours, run_bng(write_bngl(model), "bivalent"), rel=1e-7)


def test_bivalent_pair_rules_expand_as_in_bionetgen():
    """The pair approximation is rules too (its closure a rate function of observables): written
    as BNGL and expanded by BNG2.pl, receptors and trafficking without signalling, it gives the
    same species and reactions, rate factors included (the medium's fusion binds with 2 x kon_L)."""
    from bngnet import assert_same_network
    from test_bngl_bionetgen import run_bng

    from il2sbml import generate_network
    from il2sbml.formats.bngl import write_bngl

    model = _il2_module()["_build"](2, signalling=False).with_parameter_set("Treg")
    ours = generate_network(model)
    assert len(ours.species) > 40 and any("fc~ABG" in s.label for s in ours.species)
    assert_same_network(ours, run_bng(write_bngl(model), "bivalent_pair"), rel=1e-7)


def test_bivalent_binding_cycles_obey_detailed_balance():
    """Wegscheider's condition on every reversible pair of the bivalent binding network: ln K
    is a difference of free energies per species (least-squares residual 0), including the
    cycles that bind the two moieties in either order."""
    import numpy as np

    from il2sbml import generate_network

    from test_il2_model import wegscheider_system

    model = _il2_module()["_build"](2, signalling=False, bivalent="full")
    net = generate_network(model.with_parameter_set("NK_CD56bright"))
    a, b = wegscheider_system(net)
    assert len(a) > len(net.species) - 10             # more pairs than free energies: cycles exist
    assert np.linalg.matrix_rank(a) < len(a)
    mu = np.linalg.lstsq(a, b, rcond=None)[0]
    assert np.max(np.abs(a @ mu - b)) < 1e-8
    # and the check can fail: rate constants that break the cycles leave a residual
    b2 = b + np.random.default_rng(0).normal(0.0, 0.1, size=b.size)
    assert np.max(np.abs(a @ np.linalg.lstsq(a, b2, rcond=None)[0] - b2)) > 1e-3


def test_bivalent_pair_approximation_is_exact_without_signalling():
    """Without signalling every chain's joining and leaving is set by the two moieties'
    binding configurations, which the pair approximation tracks: it must then equal the full
    two-moiety network (36 species) on every receptor and ligand observable, in cells with
    and without IL-2Ralpha and gamma-c, at low and high doses (libRoadRunner, rtol 1e-8)."""
    import numpy as np

    from il2sbml import generate_network
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    build = _il2_module()["_build"]
    full = generate_network(build(2, signalling=False, bivalent="full").with_parameter_set("NK_CD56bright"))
    pair = generate_network(build(2, signalling=False).with_parameter_set("NK_CD56bright"))
    assert any("fc!" in s.label for s in full.species) and all("fc!" not in s.label for s in pair.species)
    sims = Simulator(write_sbml(full)), Simulator(write_sbml(pair))
    obs = ["IL2_bound_surface", "IL2_high_affinity", "IL2_intermediate", "IL2_internal", "IL2_free"]
    for cell in ({}, {"CD132_per_cell": 0.0}, {"CD25_per_cell": 0.0}):
        for dose in (1.0, 1000.0):
            a, b = (s.time_course(7200, 5, obs, IL2_pM=dose, **cell) for s in sims)
            assert a["IL2_bound_surface"][-1] > 0.1
            for k in obs:
                assert np.allclose(b[k], a[k], rtol=2e-6, atol=1e-6), (cell, dose, k, a[k], b[k])


def test_the_downstream_cut_is_exact_for_pstat5():
    """build_model(downstream=False) leaves out what only pAkt and ppERK read: pSTAT5 and the
    receptor observables are those of the whole model; pAkt is no longer made."""
    import numpy as np

    from il2sbml import generate_network, load_model
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    nets = [generate_network(load_model(IL2, ligand="WT", downstream=d)) for d in (True, False)]
    assert len(nets[1].species) < len(nets[0].species) and len(nets[1].reactions) < len(nets[0].reactions)
    whole, cut = (Simulator(write_sbml(n)).time_course(3600, 7, ["pSTAT5", "IL2_bound_surface", "CISH_total",
                                                                  "pAkt"], IL2_pM=100.0) for n in nets)
    for k in ("pSTAT5", "IL2_bound_surface", "CISH_total"):
        assert np.allclose(cut[k], whole[k], rtol=1e-6, atol=1e-6), k
    assert whole["pAkt"][-1] > 1.0 and cut["pAkt"][-1] == 0.0


def test_bivalent_variants_and_their_refusals():
    from il2sbml import ModelError, load_model

    biv = load_model(IL2, ligand="R38Q_N_term", valency=2)
    assert biv.name == "il2_R38Q_N_term_bivalent" and "Treg" in biv.parameter_sets
    assert "fc" in str(biv.molecule_types["IL2"])
    with pytest.raises(ValueError, match="bivalent='half': 'full' or 'pair'"):
        _il2_module()["_build"](2, bivalent="half")
    with pytest.raises(ModelError, match=r"'WT' is unfused IL-2, one moiety: it has no bivalent form"):
        load_model(IL2, ligand="WT", valency=2)


def test_build_writes_a_valid_bivalent_variant_with_the_same_contract(tmp_path):
    """`il2sbml build --ligand R38Q_N_term --valency 2` for every cell type: the Treg file has zero
    libSBML problems and every parameter and observable id of the monovalent contract; every
    other cell type's file is the same model with other numbers (so the same checks hold)."""
    import libsbml

    from il2sbml.cli import main
    from il2sbml.formats.load import load_model
    from il2sbml.formats.sbml import validate_sbml

    every = list(load_model(IL2).parameter_sets)
    assert main(["build", IL2, "--ligand", "R38Q_N_term", "--valency", "2", "--cell-type", ",".join(every),
                 "-o", str(tmp_path)]) == 0
    text = (tmp_path / "il2_R38Q_N_term_bivalent_Treg.xml").read_text(encoding="utf-8")
    assert validate_sbml(text) == []
    files = sorted(tmp_path.glob("il2_R38Q_N_term_bivalent_*.xml"))
    assert len(files) == len(every)
    for path in files:
        assert _skeleton(path.read_text(encoding="utf-8")) == _skeleton(text), path.name
    var = libsbml.readSBMLFromString(text).getModel()
    wt = libsbml.readSBMLFromFile(str(ROOT / "build" / "il2_Treg.xml")).getModel()
    params = {x.getId() for x in var.getListOfParameters()}
    contract = {x.getId() for x in wt.getListOfParameters()}
    assert contract <= params and "pair_eps" in params
    assert 500 < var.getNumSpecies() < 1000


# ---------------------------------------------------------------- every variant: valid SBML, COPASI agrees

def _variant_names():
    return sorted(V.read_table())


def _skeleton(text):
    """Everything of an SBML file but its numbers: ids, units, laws, rules, assignments."""
    import libsbml

    m = libsbml.readSBMLFromString(text).getModel()
    math = lambda x: libsbml.formulaToL3String(x.getMath()) if x.isSetMath() else None  # noqa: E731
    return ([(x.getId(), x.getCompartment(), x.getSubstanceUnits(), x.getHasOnlySubstanceUnits(),
              x.getBoundaryCondition()) for x in m.getListOfSpecies()],
            [(x.getId(), x.getUnits(), x.getConstant()) for x in m.getListOfParameters()],
            [(x.getId(), x.getUnits(), x.getSpatialDimensions()) for x in m.getListOfCompartments()],
            [(x.getId(), [(r.getSpecies(), r.getStoichiometry()) for r in x.getListOfReactants()],
              [(r.getSpecies(), r.getStoichiometry()) for r in x.getListOfProducts()],
              math(x.getKineticLaw())) for x in m.getListOfReactions()],
            [(x.getVariable(), math(x)) for x in m.getListOfRules()],
            [(x.getSymbol(), math(x)) for x in m.getListOfInitialAssignments()],
            [libsbml.UnitDefinition.printUnits(u) for u in m.getListOfUnitDefinitions()])


def test_every_variant_builds_for_every_cell_type_with_zero_libsbml_problems(tmp_path):
    """`il2sbml build --ligand X` (monovalent) for every variant of the table (every cell type
    for R38Q_N_term, Treg and NK for the others): the Treg file passes every libSBML consistency check, units included, and every other
    cell type's file is the same model with other numbers (every id, unit, law, rule and
    assignment the same; only values differ), so the same checks hold for it (a full check of
    all 80 files would cost minutes)."""
    from il2sbml.cli import main
    from il2sbml.formats.sbml import validate_sbml
    from il2sbml.formats.load import load_model

    every = list(load_model(IL2).parameter_sets)
    for name in _variant_names():
        out = tmp_path / name
        # every cell type for one variant; a CD4 and an NK cell type for the others (time)
        cell_types = every if name == "R38Q_N_term" else ["Treg", "NK"]
        assert main(["build", IL2, "--ligand", name, "--valency", "1", "--cell-type", ",".join(cell_types),
                     "-o", str(out)]) == 0, name
        files = sorted(out.glob("*.xml"))
        assert len(files) == len(cell_types), (name, files)
        texts = {p.name: p.read_text(encoding="utf-8") for p in files}
        treg = next(text for fname, text in texts.items() if fname.endswith("_Treg.xml"))
        assert validate_sbml(treg) == [], name
        for fname, text in texts.items():
            assert _skeleton(text) == _skeleton(treg), fname


def test_copasi_agrees_with_libroadrunner_on_a_bivalent_variant(tmp_path):
    """The bivalent fusion's SBML (pair approximation, closure rates as kinetic laws of
    observables) in COPASI against libRoadRunner: every observable over 1 h at 1 nM of the R38Q
    fusion in a Treg, within 1e-4 relative (measured 2.4e-7). Minutes: COPASI imports 774
    species."""
    from il2sbml.formats.load import load_model

    ode = _copasi_against_roadrunner(load_model(IL2, ligand="R38Q_N_term", valency=2).with_parameter_set("Treg"),
                                     tmp_path)
    assert ode["pSTAT5"][-1] > 1000 and ode["IL2_high_affinity"][-1] > 10


@pytest.mark.parametrize("name", ["R38Q_N_term", "N88D_C_term"])   # an IL-2Ralpha and an IL-2Rbeta change
def test_copasi_agrees_with_libroadrunner_on_variants(name, tmp_path):
    """COPASI on a variant's SBML against libRoadRunner, every observable over 1 h at 1 nM (near
    the effectors' EC50s), in a Treg and an NK cell (the files of one variant differ only in
    receptor numbers, which the contract test checks), within 1e-4 relative."""
    from il2sbml.formats.load import load_model

    base = load_model(IL2, ligand=name, valency=1)
    for cell in ("Treg", "NK"):
        _copasi_against_roadrunner(base.with_parameter_set(cell), tmp_path, label=(name, cell))


def _copasi_against_roadrunner(model, tmp_path, label=()):
    """COPASI and libRoadRunner on ``model``'s SBML at 1 nM: every observable over 1 h within
    1e-4 relative; returns libRoadRunner's time course."""
    import libsbml
    import numpy as np
    from test_sbml_writer import copasi_run

    from il2sbml.formats.sbml import write_sbml
    from il2sbml.generate.netgen import generate_network
    from il2sbml.simulate.ode import Simulator

    doc = libsbml.readSBMLFromString(write_sbml(generate_network(model)))
    assert doc.getModel().getParameter("IL2_pM").setValue(1000.0) == libsbml.LIBSBML_OPERATION_SUCCESS
    text = libsbml.writeSBMLToString(doc)
    observables = list(model.observables)
    got = copasi_run(text, 3600.0, 12, observables, tmp_path)
    ode = Simulator(text).time_course(3600.0, 13, observables)
    for k, obs in enumerate(observables, start=1):
        ref = ode[obs]
        assert np.allclose(got[:, k], ref, rtol=1e-4, atol=1e-4 * np.max(np.abs(ref)) + 1e-9), (
            *label, obs, got[:, k], ref)
    return ode
