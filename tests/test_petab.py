"""The PEtab problem of the IL-2 model against measured pSTAT5 (build/petab/).

Checks that the committed problem is what the code makes (byte for byte), that petablint
accepts it (and rejects a broken copy), that only training rows enter it and no held-out
number does, and that bad measurement files are refused with the file and row named.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from il2sbml.cli import main
from il2sbml.formats.petab_problem import (BOUND_WIDENING, DataError, TRAINING_TIMES_MIN, make_problem,
                                   read_measurements)

MODEL = "model_src/il2.py"
TRAINING = "data/training/farhat2021_pSTAT5_IL2.csv"
PETAB = Path("build/petab")
HELDOUT = Path("data/heldout")
PETABLINT = Path(sys.executable).with_name("petablint")


def _tsv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="module")
def problem():
    return make_problem(MODEL, TRAINING)


def test_committed_problem_is_reproducible(problem):
    """CI rebuilds the problem and fails if a byte differs from build/petab/."""
    assert sorted(problem.files) == sorted(p.name for p in PETAB.iterdir() if not p.name.startswith("."))
    for name, text in problem.files.items():
        assert (PETAB / name).read_text(encoding="utf-8") == text, f"build/petab/{name} is stale: run " \
            f"il2sbml petab {MODEL} --data {TRAINING} -o build/petab"


def test_petablint_accepts_the_problem_and_rejects_a_broken_one(tmp_path):
    ok = subprocess.run([str(PETABLINT), str(PETAB / "problem.yaml")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "petab"
    shutil.copytree(PETAB, broken)
    text = (broken / "measurements.tsv").read_text(encoding="utf-8").splitlines()
    cols = text[1].split("\t")
    cols[1] = "no_such_condition"
    text[1] = "\t".join(cols)
    (broken / "measurements.tsv").write_text("\n".join(text) + "\n", encoding="utf-8")
    bad = subprocess.run([str(PETABLINT), str(broken / "problem.yaml")], capture_output=True, text=True)
    assert bad.returncode != 0


def test_only_training_rows_of_the_four_populations(problem):
    rows = _tsv(PETAB / "measurements.tsv")
    assert {float(r["time"]) for r in rows} == {60.0 * t for t in TRAINING_TIMES_MIN}
    # 2019-03-15 (Treg, T-helper) + 2019-03-19 (NK, CD8) + 2019-03-27 (all four): 8 blocks of 12 doses x 3 times
    assert len(rows) == 8 * 12 * 3
    cells = {r["simulationConditionId"].rsplit("_dose", 1)[0] for r in rows}
    assert cells == {"Treg", "CD4_helper", "CD8", "NK"}


def test_measurements_are_grouped_by_condition_in_sorted_order():
    """pyPESTO 0.7.0's RoadRunner objective pairs conditions in order of first appearance with
    mappings in sorted order: any other row order simulates conditions with each other's doses."""
    ids = [r["simulationConditionId"] for r in _tsv(PETAB / "measurements.tsv")]
    firsts = list(dict.fromkeys(ids))
    assert firsts == sorted(firsts) and len(firsts) == 48
    assert all(ids[i] <= ids[i + 1] for i in range(len(ids) - 1))


def test_one_scale_per_experiment_shared_by_its_cell_types():
    scales = {}
    for r in _tsv(PETAB / "observables.tsv"):
        offset, scale = r["observableFormula"].split(" + ")
        _, exp, cell = r["observableId"].split("_", 2)
        assert offset == f"offset_{exp}_{cell}" and scale == f"scale_{exp} * pSTAT5"
        scales.setdefault(exp, set()).add(scale)
        assert r["observableTransformation"] == "log" and r["noiseFormula"] == f"sigma_{exp}"
    assert set(scales) == {"E20190315", "E20190319", "E20190327"}
    assert all(len(s) == 1 for s in scales.values())


def test_receptor_bounds_span_every_quantitation_within_three_fold():
    params = {r["parameterId"]: r for r in _tsv(PETAB / "parameters.tsv")}
    for cell in ("Treg", "CD4_helper", "CD8", "NK"):
        for chain in ("CD25", "CD122", "CD132"):
            p = params[f"{chain}_{cell}"]
            lo, hi, nominal = float(p["lowerBound"]), float(p["upperBound"]), float(p["nominalValue"])
            assert lo < nominal < hi and hi / lo < (3 * 3) * 1e3
            mu, sd = map(float, p["objectivePriorParameters"].split(";"))
            assert p["objectivePriorType"] == "parameterScaleNormal" and sd > 0
            assert math.log10(lo) < mu < math.log10(hi)
    assert BOUND_WIDENING <= 3


def _heldout_values() -> set[float]:
    """Every held-out measurement: the 4 h rows, the CD56bright blocks, the 2019-04-18 lot, YT-1."""
    values = {float(r["pSTAT5_au"]) for r in csv.DictReader(open(HELDOUT / "farhat2021_pSTAT5_IL2_4h.csv"))}
    values |= {float(r["Mean"]) for r in csv.DictReader(open(HELDOUT / "WTDimericMutSingleCellData_IL2.csv"))
               if r["Date"] == "4/18/2019" and float(r["Mean"]) != 0}
    with open(HELDOUT / "Visterra_pSTAT5.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for i, row in enumerate(rows):
        if any("CD56bright" in c or "CD56 bright" in c for c in row):
            for r in rows[i:i + 11]:
                for c in r:
                    try:
                        values.add(float(c))
                    except ValueError:
                        pass
    return {v for v in values if v > 100}   # doses and well indices are not measurements


def test_no_heldout_number_enters_the_fitting_inputs(problem):
    held = _heldout_values()
    assert len(held) > 300
    fitted = {float(r["measurement"]) for r in _tsv(PETAB / "measurements.tsv")}
    assert not (held & fitted)
    for name, text in problem.files.items():
        if name.endswith(".tsv"):
            for cell in (c for line in text.splitlines()[1:] for c in line.split("\t")):
                try:
                    assert float(cell) not in held, (name, cell)
                except ValueError:
                    pass


# ---------------------------------------------------------------- bad input

CELLS = ["Treg", "CD4_helper", "CD8", "NK"]
HEADER = "experiment,replicate,population,time_min,IL2_nM,pSTAT5_au,source_cell\n"


def _file(tmp_path, body: str, header: str = HEADER, name="data.csv") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")
    return str(path)


GOOD = ("2019-03-27,2,T-reg,30,84,67204,T11\n2019-03-27,2,T-helper,30,84,32219,T95\n"
        "2019-03-27,2,CD8+,30,84,7542,T23\n2019-03-27,2,NK,30,84,4493,T11\n")


def test_a_good_small_file_reads(tmp_path):
    rows = read_measurements(_file(tmp_path, GOOD), CELLS)
    assert [(m.cell_type, m.time_s, m.dose_pM, m.value) for m in rows][0] == ("Treg", 1800.0, 84000.0, 67204.0)


def test_missing_dose_column_names_the_file(tmp_path):
    path = _file(tmp_path, "2019-03-27,2,T-reg,30,67204,T11\n",
                 header="experiment,replicate,population,time_min,pSTAT5_au,source_cell\n")
    with pytest.raises(DataError, match=r"data\.csv: row 1: missing column\(s\) IL2_nM"):
        read_measurements(path, CELLS)


def test_non_numeric_measurement_names_file_and_row(tmp_path):
    path = _file(tmp_path, GOOD + "2019-03-27,2,NK,60,84,high,T10\n")
    with pytest.raises(DataError, match=r"data\.csv: row 6: column 'pSTAT5_au' holds 'high', not a number"):
        read_measurements(path, CELLS)


def test_cell_type_the_model_lacks_names_file_and_row(tmp_path):
    path = _file(tmp_path, GOOD + "2019-03-27,2,Mem Treg,30,84,80436,T83\n")
    with pytest.raises(DataError, match=r"row 6: population 'Mem Treg' is cell type 'Treg_memory', which the "
                                        r"model does not have"):
        read_measurements(path, CELLS, populations=("T-reg", "T-helper", "CD8+", "NK", "Mem Treg"))


def test_heldout_rows_and_files_are_refused(tmp_path):
    path = _file(tmp_path, GOOD + "2019-03-27,2,NK,240,84,3473,T8\n")
    with pytest.raises(DataError, match=r"row 6: time 240 min is not a training time .* held out"):
        read_measurements(path, CELLS)
    path = _file(tmp_path, GOOD, name="heldout/data.csv")
    with pytest.raises(DataError, match="held out and never used for fitting"):
        read_measurements(path, CELLS)


def test_cli_refuses_bad_data_and_writes_nothing(tmp_path, capsys):
    path = _file(tmp_path, GOOD + "2019-03-27,2,NK,60,84,,T10\n")
    out = tmp_path / "petab"
    assert main(["petab", MODEL, "--data", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "data.csv: row 6: column 'pSTAT5_au' holds ''" in err
    assert not out.exists()


def test_other_bad_rows_name_file_and_row(tmp_path):
    with pytest.raises(DataError, match=r"row 6: dose and pSTAT5 must be positive"):
        read_measurements(_file(tmp_path, GOOD + "2019-03-27,2,NK,60,84,-5,T10\n"), CELLS)
    with pytest.raises(DataError, match=r"row 6: empty experiment"):
        read_measurements(_file(tmp_path, GOOD + ",2,NK,60,84,900,T10\n"), CELLS)
    with pytest.raises(DataError, match=r"data\.csv: no rows for population\(s\) NK"):
        read_measurements(_file(tmp_path, GOOD.rsplit("2019-03-27,2,NK", 1)[0]), CELLS)
    with pytest.raises(DataError, match=r"nothing\.csv: cannot read the measurement file"):
        read_measurements(str(tmp_path / "nothing.csv"), CELLS)
