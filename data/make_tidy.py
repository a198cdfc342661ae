"""Regenerate the tidy pSTAT5 tables in data/ from the Farhat et al. (2021) source file.

Usage (from the repository root; SOURCE is meyer-lab/gc-cytokines `ckine/data/pSTAT_data.csv`
at commit c48ba92f103b632943024a70174134d616134eb6, see data/PROVENANCE.md)::

    python data/make_tidy.py SOURCE

writes ``data/training/farhat2021_pSTAT5_IL2.csv`` (the 30 min, 1 h and 2 h rows: the training
set of the calibration) and ``data/heldout/farhat2021_pSTAT5_IL2_4h.csv`` (the 4 h rows: held-out
set (a), never used for fitting). IL-15 rows are not copied (the model has no IL-15).

The source is a plate-layout spreadsheet: blocks of 12 rows per gated population; columns C-N
hold replicate 1 (T-reg and T-helper blocks from the 2019-03-15 experiment, NK and CD8 blocks
from 2019-03-19), columns T-AE replicate 2 (2019-03-27, both plates; naive and memory CD8 only
measured once, on 03-19). Row labels "IL-2, 30 min" ... "IL-2, 4 hours" give the time; the
"nM treatment:" row gives the 12 IL-2 concentrations in nM. Values are median pSTAT5
fluorescence of the gated population (arbitrary units), copied as written (no re-formatting).
"""

import csv
import os
import sys

HEADER = ["experiment", "replicate", "population", "time_min", "IL2_nM", "pSTAT5_au", "source_cell"]
TIMES = {"30 min": 30, "1 hour": 60, "2 hours": 120, "4 hours": 240}
EXPERIMENT_REP1 = {"NK": "2019-03-19", "CD8+": "2019-03-19", "Naive CD8+": "2019-03-19", "Mem CD8+": "2019-03-19",
                   "T-reg": "2019-03-15", "Naive Treg": "2019-03-15", "Mem Treg": "2019-03-15",
                   "T-helper": "2019-03-15", "Naive Th": "2019-03-15", "Mem Th": "2019-03-15"}
REPLICATES = ((1, 2, None), (2, 19, "2019-03-27"))   # replicate, first value column (0-based), experiment


def _column(i: int) -> str:
    return ("" if i < 26 else chr(ord("A") + i // 26 - 1)) + chr(ord("A") + i % 26)


def tidy(path: str) -> tuple[list[list[str]], list[list[str]]]:
    with open(path, newline="", encoding="latin1") as fh:
        rows = list(csv.reader(fh))
    train, held = [], []
    for r, row in enumerate(rows):
        if len(row) < 2 or row[1] not in EXPERIMENT_REP1:
            continue
        population = row[1]
        for rep, first, experiment in REPLICATES:
            if rep == 2 and rows[r][first - 1] != population:
                continue                                    # no replicate-2 block for this population
            doses = rows[r + 1][first:first + 12]
            for k in range(r + 3, r + 7):
                label = rows[k][0]
                ligand, _, when = label.partition(", ")
                if ligand != "IL-2" or when not in TIMES:
                    raise SystemExit(f"{path}:{k + 1}: unexpected row label {label!r}")
                for j, (dose, value) in enumerate(zip(doses, rows[k][first:first + 12])):
                    if not value.strip():
                        continue
                    out = [experiment or EXPERIMENT_REP1[population], str(rep), population, str(TIMES[when]),
                           dose, value, f"{_column(first + j)}{k + 1}"]
                    (held if TIMES[when] == 240 else train).append(out)
    return train, held


def _write(path: str, header: list[str], rows: list[list[str]]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    train, held = tidy(sys.argv[1])
    _write(os.path.join(here, "training", "farhat2021_pSTAT5_IL2.csv"), HEADER, train)
    os.makedirs(os.path.join(here, "heldout"), exist_ok=True)
    _write(os.path.join(here, "heldout", "farhat2021_pSTAT5_IL2_4h.csv"), HEADER, held)
    print(f"{len(train)} training rows, {len(held)} held-out (4 h) rows")
