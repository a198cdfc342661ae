"""il2sbml.analysis.report on the IL-2 model: the dose-response command against a direct Simulator run,
refusals of unknown names, and a quick report whose page shows every figure it wrote."""

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from il2sbml.formats.load import load_model
from il2sbml.lang.errors import Il2sbmlError
from il2sbml.generate.netgen import generate_network
from il2sbml.simulate.ode import Simulator
from il2sbml.analysis.report import dose_response_command, run_report
from il2sbml.formats.sbml import write_sbml

MODEL = os.path.join(os.path.dirname(__file__), "..", "model_src", "il2.py")
PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parent.parent


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    rows = list(csv.reader(ln for ln in lines if not ln.startswith("#")))
    return comments, rows[0], rows[1:]


def assert_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG, path
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0.5   # not blank


def test_dose_response_command_matches_a_direct_simulation(tmp_path):
    doses = np.logspace(-1, 4, 6)
    lines = []
    result = dose_response_command(MODEL, "CD4_memory", ["pSTAT5", "ppERK"], "30m", str(tmp_path / "out"),
                                   doses_pM=doses, progress=lines.append)
    csv, png = result
    assert csv == str(tmp_path / "out" / "dose_response_CD4_memory_pSTAT5_ppERK.csv")
    assert png == str(tmp_path / "out" / "dose_response_CD4_memory_pSTAT5_ppERK.png")
    comments, header, rows = read_csv(csv)
    assert header == ["IL2_pM", "pSTAT5", "ppERK"]
    assert any("pM" in c and "molecules per cell" in c for c in comments)
    table = np.array(rows, dtype=float)
    np.testing.assert_array_equal(table[:, 0], doses)

    sim = Simulator(write_sbml(generate_network(load_model(MODEL).with_parameter_set("CD4_memory"))))
    direct = sim.dose_response("IL2_pM", doses, ["pSTAT5", "ppERK"], time=1800.0)
    np.testing.assert_allclose(table[:, 1], direct["pSTAT5"], rtol=1e-9)
    np.testing.assert_allclose(table[:, 2], direct["ppERK"], rtol=1e-9)
    assert table[-1, 1] > 100 * table[0, 1]          # IL-2 does raise pSTAT5
    assert_png(png)

    assert set(result.fits) == {"pSTAT5", "ppERK"}
    for readout, fit in result.fits.items():
        line = next(ln for ln in lines if f" {readout} at 30 min" in ln)
        if fit is None:
            assert "no Hill fit" in line and result.fit_errors[readout]
        else:
            assert doses[0] < fit.ec50 < doses[-1]
            assert f"EC50 {fit.ec50:.4g} pM" in line
            assert any(f"EC50 {fit.ec50:.4g} pM" in c for c in comments)


@pytest.mark.parametrize("cell, readouts, names", [
    ("Tregs", ["pSTAT5"], ["'Tregs'", "Treg", "CD4_memory", "NK"]),
    ("Treg", ["pSTAT5", "pERK"], ["'pERK'", "ppERK", "pSTAT5", "IL2_bound_surface"]),
    ("Treg", [], ["(none given)", "pSTAT5"]),
])
def test_unknown_names_are_refused_with_the_choices(tmp_path, cell, readouts, names):
    with pytest.raises(Il2sbmlError) as info:
        dose_response_command(MODEL, cell, readouts, 1800, str(tmp_path / "out"), progress=None)
    for name in names:
        assert name in str(info.value)
    assert not (tmp_path / "out").exists()


def test_bad_time_and_doses_are_refused(tmp_path):
    with pytest.raises(Il2sbmlError, match="duration"):
        dose_response_command(MODEL, "Treg", ["pSTAT5"], "half an hour", str(tmp_path), progress=None)
    with pytest.raises(Il2sbmlError, match="> 0 pM"):
        dose_response_command(MODEL, "Treg", ["pSTAT5"], 60, str(tmp_path), doses_pM=[0, 1, 10], progress=None)


def test_quick_report_page_shows_every_figure_it_wrote(tmp_path):
    out, build_dir = tmp_path / "report", tmp_path / "build"
    lines = []
    index = run_report(MODEL, str(out), str(build_dir), progress=lines.append, quick=True)
    assert index == str(out / "index.html")
    assert (build_dir / "il2_Treg.xml").is_file()
    text = (out / "index.html").read_text(encoding="utf-8")

    images = re.findall(r'<img src="([^"]+)"', text)
    written = sorted(p.name for p in out.glob("*.png"))
    assert written and sorted(images) == written
    for name in images:
        assert_png(out / name)
    for name in re.findall(r'<a href="([^"#]+)"', text):
        assert (out / name).is_file(), name
    assert "<script" not in text and "http" not in text        # self-contained
    for unit in ("pM", "molecules per cell", "(min)"):
        assert unit in text
    for step in "abcdfgj":   # e (co-culture), h (variants) and i (populations) are skipped in a quick run, and say so
        assert any(f"] {step}. " in ln and "done in" in ln for ln in lines)
    assert "Skipped (quick run)" in text
    # g: the model against data: the training and 4 h held-out panels and the EC50 table of set (a)
    assert "g. model against data" in text and "training_and_4h.png" in images
    _, header, rows = read_csv(out / "heldout_ec50.csv")
    assert header[:3] == ["set", "curve", "time_s"] and {r[0] for r in rows} == {"(a)"} and len(rows) == 8
    # the model summary is the network build() wrote (build/<model>_Treg.network.json)
    net = json.loads((build_dir / "il2_Treg.network.json").read_text(encoding="utf-8"))
    assert f"{net['species']} species, {net['reactions']} reactions" in text
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no temporary files left

    # standard errors only where the runs differ: no infinite z-score from a time where sd is 0
    assert "(times where the runs differ)" in text and "<td>inf</td>" not in text
    # the SSA mean agrees with the ODE at 30 min within 4 standard errors (fixed seed)
    comments, header, rows = read_csv(out / "ssa_vs_ode.csv")
    last = dict(zip(header, map(float, rows[-1])))
    assert last["time_min"] == 30.0
    runs = int(re.search(r"(\d+) exact SSA runs", comments[0]).group(1))
    for obs in ("pSTAT5", "IL2_bound_surface"):
        se = last[f"{obs}_ssa_sd"] / np.sqrt(runs)
        assert abs(last[f"{obs}_ssa_mean"] - last[f"{obs}_ode"]) < 4 * se
    # the figure's band is the runs' 5-95 % range: ordered, never below zero (counts), and wide
    # (at tens of IL-2 molecules per cell, cells differ)
    for row in rows:
        r = dict(zip(header, map(float, row)))
        for obs in ("pSTAT5", "IL2_bound_surface"):
            assert 0 <= r[f"{obs}_ssa_q05"] <= r[f"{obs}_ssa_median"] <= r[f"{obs}_ssa_q95"]
    assert last["pSTAT5_ssa_q95"] > last["pSTAT5_ssa_median"] > last["pSTAT5_ssa_q05"]

    # the binding table has the three receptor classes with their seed-table Kds
    _, header, rows = read_csv(out / "binding_kd.csv")
    kd = {r[0]: dict(zip(header, r)) for r in rows}
    assert set(kd) == {"alpha", "beta_gamma", "alpha_beta_gamma"}
    assert float(kd["alpha"]["Kd_fit_pM"]) == pytest.approx(1e4, rel=0.05)


def test_cli_dose_response_writes_files_and_refuses_bad_names(tmp_path, capsys):
    from il2sbml.cli import main

    assert main(["dose-response", "--model", MODEL, "--cell-type", "NK", "--readout", "pSTAT5", "--time", "10m",
                 "--doses", "1,10,100,1000,10000,100000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "EC50" in out
    assert (tmp_path / "dose_response_NK_pSTAT5.csv").is_file()
    assert_png(tmp_path / "dose_response_NK_pSTAT5.png")
    assert main(["dose-response", "--model", MODEL, "--cell-type", "B_cell", "--readout", "pSTAT5",
                 "--time", "10m", "--out", str(tmp_path / "bad")]) == 2
    assert "Treg" in capsys.readouterr().err           # the valid choices are named
    assert not (tmp_path / "bad").exists()


def test_variants_section_tables_selectivity_and_held_out_ratios(tmp_path):
    """Report step h on two ligands and one held-out plate (11/27/2019: V91K C-term against the
    WT C-term fusion): the selectivity table in the page and its CSV, the plate ratios with
    their fold errors, and the figure (the full report runs every variant and plate)."""
    from il2sbml.analysis.report import _Log, _Page, _section_variants

    src = ROOT / "data" / "heldout" / "variants" / "MonomericMutSingleCellData.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    data = tmp_path / "plate.csv"
    data.write_text("\n".join([lines[0]] + [x for x in lines[1:] if ",11/27/2019," in x]) + "\n", encoding="utf-8")
    page = _Page(str(tmp_path))
    sid, title, body = _section_variants(str(ROOT / "model_src" / "il2.py"), page, _Log(None),
                                         ligands=["WT", "V91K_C_term"], data=str(data),
                                         bivalent=False)   # tested in test_variants
    assert sid == "variants" and title.startswith("h.")
    sel = (tmp_path / "variant_selectivity.csv").read_text(encoding="utf-8").splitlines()
    rows = {r.split(",")[0]: r.split(",")[1:] for r in sel if not r.startswith("#")}
    assert set(rows) == {"ligand", "WT", "V91K_C_term"}
    # V91K weakens IL-2Rbeta/gamma-c binding: every EC50 rises against the wild type's
    assert all(float(v) > float(w) for v, w in zip(rows["V91K_C_term"], rows["WT"]))
    ratios = (tmp_path / "variant_ratios.csv").read_text(encoding="utf-8").splitlines()[2:]
    assert ratios and all(r.split(",")[0] == "11/27/2019" and r.split(",")[2] == "WT_C_term" for r in ratios)
    assert "V91K_C_term" in body and "within 3-fold" in body and "variant_curves.png" in body
    assert (tmp_path / "variant_curves.png").stat().st_size > 10_000


def test_populations_section_draws_histograms_and_compares_held_out_moments(tmp_path):
    """Report step i on two cell types, three doses and a few cells (the full report: four cell
    types, the file's twelve doses, 200 cells)."""
    from il2sbml.analysis.heldout import load_single_cell_moments
    from il2sbml.analysis.report import _Log, _Page, _section_populations

    doses = sorted({w.dose_pM for w in load_single_cell_moments()})[::5]
    page = _Page(str(tmp_path))
    sid, title, body = _section_populations(str(ROOT / "model_src" / "il2.py"), page, _Log(None),
                                            cell_types=("Treg", "NK"), n_cells=8, doses_pM=doses)
    assert sid == "populations" and title.startswith("i.")
    rows = [r for r in (tmp_path / "population_moments.csv").read_text(encoding="utf-8").splitlines()
            if not r.startswith("#")]
    assert rows[0].startswith("cell_type,time_h,dose_pM") and len(rows) == 1 + 2 * 2 * len(doses)
    for name in ("histograms.png", "responding.png", "moments.png"):
        assert name in body and (tmp_path / name).stat().st_size > 10_000
    assert "Treg" in body and "NK" in body and "n/a" in body     # no CD25 covariance measured on NK
