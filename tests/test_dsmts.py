"""The 39 DSMTS cases of the SBML Test Suite, read from SBML by our reader, compiled, and run
by the Numba kernels, against the suite's pass criterion (shared/suite/README.md §1.2): Z in
(-3, 3) for the mean and Y in (-5, 5) for the variance at t = 1..50, a case failing at two or
more Z or Y failures per variable; 00003 checks Z only (its documented late-time Y failures).
n = 10,000 runs for every case (00019's species y is defined by the rule y = 2*X and recorded
from it).

Replication: the 50 time points share their runs, so Z is strongly correlated along t and a
correct simulator fails the ">= 2 failures" rule on about 5 % of seeds (measured: 2 of 40
seeds on 00001, with Z's mean 0.04 and sd 1.04 over all points). A case that fails is
therefore run again on an independent seed and must pass then: a correct simulator fails
both with probability ~0.25 %, a wrong one fails both."""

import csv
import math

import numpy as np
import pytest
from bngnet import suite_dir

from il2sbml.formats.sbmlread import read_sbml
from il2sbml.simulate.compile import compile_network

CASES = [f"{i:05d}" for i in range(1, 40)]


def settings(folder, cid):
    out = {}
    for line in (folder / f"{cid}-settings.txt").read_text(encoding="utf-8").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


@pytest.mark.parametrize("cid", CASES)
def test_dsmts_case(cid, tmp_path, monkeypatch):
    import kernels

    monkeypatch.setenv("IL2SBML_CACHE", str(tmp_path))
    folder = suite_dir() / "stochastic" / cid
    net = read_sbml(str(folder / f"{cid}-sbml-l3v1.xml"))
    arrays = compile_network(net)
    st = settings(folder, cid)
    names = [v.strip() for v in st["variables"].split(",") if v.strip()]
    ids = [s.sbml_id for s in net.species]
    n = 10_000
    t = np.arange(0, 51, dtype=float)
    with open(folder / f"{cid}-results.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    failures = []
    for seed in (int(cid), 1_000_000 + int(cid)):
        res = kernels.run_ensemble(arrays, t, n, seed=seed, species=[ids.index(v) for v in names])
        failures = criterion(cid, names, rows, res, n)
        if not failures:
            return
    raise AssertionError(f"{cid} fails on two independent seeds: {failures}")


def criterion(cid, names, rows, res, n) -> list:
    failures = []
    for q, v in enumerate(names):
        z_fail = y_fail = 0
        for k, row in enumerate(rows):
            mu, sigma = float(row[f"{v}-mean"]), float(row[f"{v}-sd"])
            mean, sd = res.mean[k, q], res.sd[k, q]
            if sigma == 0:
                # exact simulators reproduce these points exactly (t = 0, boundary species, post-event)
                assert mean == mu and sd == 0, (cid, v, k, mean, sd)
                continue
            z = math.sqrt(n) * (mean - mu) / sigma
            s2 = ((n - 1) * sd ** 2 + n * (mean - mu) ** 2) / n   # the guide's S^2 around the known mean
            y = math.sqrt(n / 2) * (s2 / sigma ** 2 - 1)
            z_fail += not -3 < z < 3
            y_fail += not -5 < y < 5
        if z_fail >= 2 or (y_fail >= 2 and cid != "00003"):
            failures.append((v, z_fail, y_fail))
    return failures
