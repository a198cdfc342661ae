"""Write the receptor-number populations (data/populations/*.csv) from the bead-calibrated moments.

Usage (from the repository root)::

    python data/make_populations.py

Source: ``data/priors/receptor_moments.csv`` (gcSolver.jl ``data/receptor_moments.csv``; mean,
variance and skew of IL-2Rα, IL-2Rβ and γc molecules per cell, per cell type, two dates × two
plates; provenance in data/PROVENANCE.md). Output, per cell type of the IL-2 model (Treg,
CD4_helper, CD8, NK): a population file of ``il2sbml ensemble --population`` giving each receptor
number a log-normal whose mean is the model's (the cell type's calibrated number: the three
quantitations disagree on means up to 20-fold, which is why the calibration treats them as
priors) and whose coefficient of variation is the measured one, estimated robustly:

* a row (one date and plate) counts as a measurement of the spread when its CV is <= 2.5 and its
  skew <= 20. Above that the variance is carried by a few extreme events: γc rows reach CV 7-41
  with skew 45-300, i.e. a log-sd of 2-2.7 (a 95 % range of 3,000-fold within one gate), which no
  single-chain bead quantitation supports and which the same chain's other plates contradict;
* the CV of a chain is the median CV of its usable rows;
* where no row is usable (γc in every cell type, IL-2Rα on NK) the CV is an assumption, 1.0: the
  median CV of every usable row of the file (1.02) rounded, labelled ``assumed`` in the file.

Correlations between the chains are not in the source (marginal moments only), so none are
declared (independent chains): an assumption, stated in each file.
"""

from __future__ import annotations

import csv
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "priors", "receptor_moments.csv")
OUT = os.path.join(HERE, "populations")
CELLS = {"Treg": "Treg", "Thelper": "CD4_helper", "CD8": "CD8", "NK": "NK"}
CHAINS = {"CD25": "CD25_per_cell", "CD122": "CD122_per_cell", "CD132": "CD132_per_cell"}
MAX_CV, MAX_SKEW = 2.5, 20.0
ASSUMED_CV = 1.0


def read(path=SOURCE):
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            mean, var, skew = float(r["Mean"]), float(r["Variance"]), float(r["Skew"])
            rows.append((r["Cell Type"], r["Receptor"], r["Date"], r["Plate"], mean, var ** 0.5 / mean, skew))
    return rows


def spreads(rows):
    """{(cell, chain): (cv, how)}: the robust CV of each chain and how it was obtained."""
    usable = [cv for *_, cv, skew in rows if cv <= MAX_CV and skew <= MAX_SKEW]
    out = {}
    for cell in CELLS:
        for chain in CHAINS:
            mine = [(cv, skew) for c, ch, *_, cv, skew in rows if c == cell and ch == chain]
            good = [cv for cv, skew in mine if cv <= MAX_CV and skew <= MAX_SKEW]
            if good:
                out[cell, chain] = (statistics.median(good), f"measured: median of {len(good)} of {len(mine)} rows")
            else:
                out[cell, chain] = (ASSUMED_CV, f"assumed: no usable row of {len(mine)} (median usable CV of the "
                                                f"file {statistics.median(usable):.2f})")
    return out


def write(out_dir=OUT) -> list[str]:
    os.makedirs(out_dir, exist_ok=True)
    cvs = spreads(read())
    written = []
    for cell, name in CELLS.items():
        lines = [f"# {name}: receptor numbers per cell across the population (il2sbml ensemble --population).",
                 "# Written by data/make_populations.py from data/priors/receptor_moments.csv (gcSolver.jl,",
                 "# bead-calibrated; see data/PROVENANCE.md). Log-normal per chain; mean = the model's (calibrated)",
                 f"# value; cv = robust measured CV (rows with CV <= {MAX_CV} and skew <= {MAX_SKEW})",
                 f"# or assumed {ASSUMED_CV}. Chains independent (the source has marginal moments only):",
                 "# an assumption. Units: molecule per cell.",
                 "parameter,mean,cv,unit,note"]
        for chain, param in CHAINS.items():
            cv, how = cvs[cell, chain]
            lines.append(f"{param},model,{cv:.4g},molecule,{how}")
        path = os.path.join(out_dir, f"{name}.csv")
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write(sys.argv[1] if len(sys.argv) > 1 else OUT):
        print(p)
