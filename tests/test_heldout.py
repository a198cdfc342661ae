"""Held-out data (il2sbml.analysis.heldout): read only by the validation, never by the fitting code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from il2sbml.analysis import heldout


@pytest.fixture(scope="module")
def curves():
    return heldout.load_all()


def test_every_heldout_set_is_read(curves):
    by_set = {}
    for c in curves:
        by_set.setdefault(c.dataset, []).append(c)
    assert {k: len(v) for k, v in by_set.items()} == {"(a)": 8, "(b)": 8, "(c)": 16, "(d)": 1}
    assert all(c.time_s == 14400.0 for c in by_set["(a)"])
    assert {c.cell_type for c in by_set["(b)"]} == {"NK_CD56bright"}
    assert {c.cell_type for c in by_set["(c)"]} == {"Treg", "CD4_helper", "CD8", "NK"}
    yt1 = by_set["(d)"][0]
    assert yt1.overrides["CD25_per_cell"] == 0 and yt1.overrides["CD132_per_cell"] == 10909
    assert yt1.time_s is None and len(yt1.doses_pM) == 8 and yt1.doses_pM[0] == pytest.approx(50.0)
    for c in curves:
        assert len(c.doses_pM) == len(c.values) >= 8 and np.all(np.diff(c.doses_pM) > 0)


def test_lot_0418_only_and_cd56bright_only(curves):
    assert all("2019-04-18" in c.label for c in curves if c.dataset == "(c)")
    text = Path("data/heldout/Visterra_pSTAT5.csv").read_text(encoding="utf-8")
    assert "NK cells" in text and "CD8" in text           # the file holds other blocks, which are not read
    assert all(c.label.startswith("CD56bright") for c in curves if c.dataset == "(b)")


def test_fitting_code_never_reads_heldout_data():
    """The PEtab export and the calibration neither import the held-out module nor name a
    held-out file (the folder name appears only in the refusal)."""
    code = ("import sys, il2sbml.formats.petab_problem, il2sbml.analysis.calibrate, il2sbml.cli; "
            "print([m for m in ('il2sbml.analysis.heldout', 'il2sbml.analysis.variant_check') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in ("il2sbml/formats/petab_problem.py", "il2sbml/analysis/calibrate.py"):
        text = Path(path).read_text(encoding="utf-8")
        for name in ("farhat2021_pSTAT5_IL2_4h", "Visterra", "WTDimeric", "YT1", "YT_1", "MonomericMut"):
            assert name not in text, (path, name)
        assert not re.search(r"heldout/\w", text), path


def test_fold_error_is_symmetric_and_refuses_missing():
    assert heldout.fold_error(10.0, 40.0) == heldout.fold_error(40.0, 10.0) == 4.0
    assert heldout.fold_error(None, 3.0) is None


def test_a_prediction_is_a_dose_response(curves):
    from il2sbml.formats.load import load_model
    from il2sbml.simulate.ode import Simulator

    model = load_model("model_src/il2.py")
    sim = Simulator("build/il2_Treg.xml")
    c = next(c for c in curves if c.dataset == "(c)" and c.cell_type == "NK" and c.time_s == 1800.0)
    p = heldout.predict(sim, c, model.parameter_sets["NK"].as_dict())
    assert p.shape == heldout.MODEL_DOSES_PM.shape and p[-1] > 10 * p[0] > 0


def test_validate_model_writes_the_table_and_figures(tmp_path, capsys):
    from il2sbml.cli import main

    assert main(["validate-model", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(d) YT-1 (CD25-)" in out and "fold" in out
    lines = (tmp_path / "heldout_ec50.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#") and lines[1].startswith("set,curve,time_s")
    assert len(lines) == 2 + 8 + 8 + 16 + 2           # (d) is predicted at two times
    for name in ("training_and_4h.png", "heldout_shapes.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
