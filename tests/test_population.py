"""Populations of non-identical cells (il2sbml.simulate.population, kernels.population).

Exactness: a birth-death model whose birth rate is log-normal across cells has known population
moments; the simulated ones are compared with a z-test at |z| < 4.4 (two-sided false-alarm rate
1e-5 per statistic, 5e-5 for the five statistics of these tests together; the seeds are fixed and
were not chosen). Zero variance is bitwise today's ensemble; threads, chunk sizes, Dask worker
processes and a resumed store are bitwise one run. Per-cell values equal those of a network
generated with the cell's parameters. Bad input is refused naming the file and line.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import kernels
from il2sbml import cli
from il2sbml.formats.load import load_model
from il2sbml.generate.netgen import generate_network
from il2sbml.simulate import ensemble as E
from il2sbml.simulate.compile import compile_network
from il2sbml.simulate.population import PopulationError, sampler

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = str(ROOT / "tests" / "models" / "simple_system.py")
Z = 4.4

BD = """\
from il2sbml import Model

m = Model("birth_death_population")
m.parameter("k", 10.0, "molecule/s", doc="birth rate")
m.parameter("g", 0.5, "1/s", doc="death rate constant")
m.parameter("N_per_cell", 1000.0, "molecule", doc="steady-state count")
m.parameter("ksyn", "N_per_cell*g", "molecule/s", doc="synthesis of Y, derived")
m.molecule_type("X()")
m.molecule_type("Y()")
m.seed("X()", 0)
m.seed("Y()", "N_per_cell")
m.observable("X_total", "X()")
m.observable("Y_total", "Y()")
m.rule("birth", "0 -> X()", "k")
m.rule("death", "X() -> 0", "g")
m.rule("synth", "0 -> Y()", "ksyn")
m.rule("decay", "Y() -> 0", "g")
model = m
"""


@pytest.fixture(scope="module")
def bd(tmp_path_factory):
    d = tmp_path_factory.mktemp("pop")
    path = d / "bd.py"
    path.write_text(BD)
    return str(path), generate_network(load_model(str(path)))


def _pop(tmp_path, text, name="pop.csv"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _z(est, expected, se):
    return abs(est - expected) / se


def _assert_mean_and_variance(x, mean, var):
    """z-tests of a sample's mean and variance (se of the variance from its fourth moment)."""
    n = x.shape[0]
    assert _z(x.mean(), mean, math.sqrt(x.var(ddof=1) / n)) < Z
    c = x - x.mean()
    assert _z(x.var(ddof=1), var, math.sqrt((np.mean(c ** 4) - x.var() ** 2) / n)) < Z


def test_lognormal_draws_have_the_declared_moments_and_do_not_depend_on_the_batch():
    mu = np.log([100.0, 10.0])
    chol = np.array([[0.5, 0.0], [0.3, 0.4]])
    v = kernels.lognormal_values(1, 0, 100_000, mu, chol)
    logs = np.log(v)
    n = v.shape[0]
    assert _z(logs[:, 0].mean(), mu[0], 0.5 / math.sqrt(n)) < Z
    r = np.corrcoef(logs.T)[0, 1]            # true 0.6; se of r ~ (1 - rho^2) / sqrt(n)
    assert _z(r, 0.6, (1 - 0.36) / math.sqrt(n)) < Z
    # cell i's values depend on (seed, i) only
    assert np.array_equal(kernels.lognormal_values(1, 777, 50, mu, chol), v[777:827])
    assert not np.array_equal(kernels.lognormal_values(2, 0, 50, mu, chol), v[:50])
    # a fixed parameter takes its value exactly and leaves the other's draws alone
    f = kernels.lognormal_values(1, 0, 1000, mu, chol, fixed=[True, False], fixed_value=[123.456, 0.0])
    assert np.all(f[:, 0] == 123.456) and np.array_equal(f[:, 1], v[:1000, 1])


def test_birth_death_with_lognormal_birth_rate_matches_the_analytic_population_moments(bd, tmp_path):
    """X(t) | k ~ Poisson(k/g (1 - e^{-gt})): mean E[k] m, variance E[k] m + Var(k) m^2 (m = (1 - e^{-gt})/g)."""
    path, net = bd
    cells = sampler(net, _pop(tmp_path, "# k in molecule/s\nparameter,mean,cv,unit\nk,model,0.5,molecule/s\n"))
    arrays = compile_network(net)
    t = np.array([0.0, 1.0, 4.0])
    n = 20_000
    ix = net.species_index("X()")
    res = kernels.run_ensemble(arrays, t, n, 2024, species=[ix], keep_trajectories=True,
                               values=cells.run_values(2024, 0, n, arrays))
    k_mean, k_var = 10.0, (0.5 * 10.0) ** 2
    for j, tj in enumerate(t[1:], start=1):
        m = (1.0 - math.exp(-0.5 * tj)) / 0.5
        x = res.trajectories[:, j, 0].astype(float)
        _assert_mean_and_variance(x, k_mean * m, k_mean * m + k_var * m * m)
    # without the variation the variance would be Poisson's: the test can tell the difference
    assert x.var(ddof=1) > 2.0 * x.mean()


def test_zero_variance_is_bitwise_todays_ensemble(tmp_path):
    net = generate_network(load_model(SIMPLE))
    arrays = compile_network(net)
    t = np.linspace(0.0, 1.0, 6)
    ref = kernels.run_ensemble(arrays, t, 300, 11)
    for text in ("parameter,mean,sd\nkon,model,0\nkcat,model,0\n", "parameter,mean,cv\nkon,10,0\n"):
        cells = sampler(net, _pop(tmp_path, text))
        out = E.run(E.payload(arrays, population=cells), t, 300, 11, progress=False)
        assert out.result.mean.tobytes() == ref.mean.tobytes() and out.result.sd.tobytes() == ref.sd.tobytes()
        assert np.array_equal(out.result.sum_x2, ref.sum_x2) and out.result.n_events == ref.n_events


def test_threads_chunks_dask_workers_and_resume_are_bitwise_one_run(bd, tmp_path):
    path, net = bd
    arrays = compile_network(net)
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv,N_per_cell\nk,model,0.8,0.5\nN_per_cell,model,0.3,1\n"))
    model = E.payload(arrays, population=cells)
    t = np.linspace(0.0, 2.0, 5)
    ref = kernels.run_ensemble(arrays, t, 400, 9, n_threads=1, values=cells.run_values(9, 0, 400, arrays))
    runs = [E.run(model, t, 400, 9, threads=1, chunk_size=400, progress=False),
            E.run(model, t, 400, 9, threads=2, chunk_size=7, progress=False),
            E.run(model, t, 400, 9, workers=2, chunk_size=50, progress=False)]
    store = str(tmp_path / "pop.zarr")

    def stop_after_three(done, total, info):
        if done >= 150:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        E.run(model, t, 400, 9, threads=1, chunk_size=50, store=store, progress=stop_after_three)
    resumed = E.run(model, t, 400, 9, threads=2, store=store, resume=True, progress=False)
    assert resumed.chunks_reused == 3 and resumed.chunks_computed == 5
    runs.append(resumed)
    for out in runs:
        assert out.result.mean.tobytes() == ref.mean.tobytes() and out.result.sd.tobytes() == ref.sd.tobytes()
        assert np.array_equal(out.result.sum_x, ref.sum_x) and np.array_equal(out.result.sum_x2, ref.sum_x2)
        for key in ("skew", "kurtosis", "quantiles", "cov", "corr", "hist"):     # the distributions too
            assert out.distributions[0][key].tobytes() == runs[0].distributions[0][key].tobytes(), key
    import zarr

    g = zarr.open_group(store, mode="r")
    assert g["skew"][0].tobytes() == runs[0].distributions[0]["skew"].tobytes()
    assert np.array_equal(g["hist"][0], runs[0].distributions[0]["hist"])
    assert g.attrs["il2sbml_ensemble"]["population"]["parameters"] == ["k", "N_per_cell"]
    # the population is part of the model's fingerprint: a store made with another one is refused
    other = E.payload(arrays, population=sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.7\n", "o.csv")))
    with pytest.raises(E.StoreError):
        E.run(other, t, 400, 9, store=store, resume=True, progress=False)


def test_per_cell_values_equal_a_network_generated_with_the_cells_parameters(bd, tmp_path):
    """Derived parameters (ksyn = N_per_cell * g) and seeds are recomputed per cell, bit for bit."""
    path, net = bd
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nN_per_cell,model,0.6\ng,model,0.2\n"))
    vals = cells.draw(3, 0, 4)
    rv = cells.run_values(3, 0, 4)
    base = load_model(path)
    for i in range(4):
        base.parameter_set("cell", {"N_per_cell": float(vals[i, 0]), "g": float(vals[i, 1])})
        ref = compile_network(generate_network(base.with_parameter_set("cell"), ), round_initial=True)
        base.parameter_sets.pop("cell")
        x0 = ref.x0.copy()
        x0[rv.x0_index] = rv.x0[i]
        rates = ref.rates.copy()
        rates[rv.rate_index] = rv.rates[i]
        assert np.array_equal(x0, ref.x0) and rates.tobytes() == ref.rates.tobytes()
    assert sorted(net.reactions[j].rule for j in rv.rate_index) == ["death", "decay", "synth"]
    assert [net.species[i].label for i in rv.x0_index] == [net.species[net.species_index("Y()")].label]


def test_empirical_table_cells_are_rows_of_the_table(bd, tmp_path):
    path, net = bd
    cells = sampler(net, _pop(tmp_path, "# two measured cells\nk,N_per_cell\n5,100\n20,3000\n"))
    v = cells.draw(1, 0, 1000)
    assert set(map(tuple, v)) == {(5.0, 100.0), (20.0, 3000.0)}
    assert 400 < int((v[:, 0] == 5.0).sum()) < 600


def test_il2_model_receptor_population_changes_only_what_reads_the_receptor_numbers(tmp_path):
    model = load_model(str(ROOT / "model_src" / "il2.py")).with_parameter_set("Treg")
    net = generate_network(model)
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nCD25_per_cell,model,1.0\nCD122_per_cell,model,0.5\n"
                                        "CD132_per_cell,model,0.5\n"))
    rv = cells.run_values(1, 0, 3)
    labels = [net.species[i].label for i in rv.x0_index]
    assert len(labels) == 3 and all("IL2R" in lb for lb in labels)
    assert {net.reactions[j].rule for j in rv.rate_index} <= {r.rule for r in net.reactions if "syn" in r.rule.lower()}
    assert rv.rates.shape == (3, len(rv.rate_index)) and len(rv.rate_index) >= 2
    d = cells.draw(1, 0, 3)
    i25 = net.species_index("@PM::IL2RA(l)")
    assert list(rv.x0[:, list(rv.x0_index).index(i25)]) == [int(round(v)) for v in d[:, 0]]


@pytest.mark.parametrize("text, match", [
    ("parameter,mean,sd\nk,10,-1\n", r"pop\.csv:2: k has sd -1\.0; a standard deviation is >= 0"),
    ("parameter,mean,cv\nk,10,-0.5\n", r"pop\.csv:2: k has cv"),
    ("parameter,mean,cv,g\nk,10,0.5,1.5\ng,0.5,0.1,1\n", r"outside \[-1, 1\]"),
    ("parameter,mean,cv,g,N_per_cell\nk,10,0.5,0.9,0.9\ng,0.5,0.1,1,-0.9\nN_per_cell,100,0.1,,1\n",
     r"pop\.csv: the correlation matrix is not positive semi-definite"),
    ("parameter,mean,cv\nkoff,10,0.5\n", r"pop\.csv:2: the model has no parameter 'koff'"),
    ("parameter,mean,cv\nksyn,10,0.5\n", r"pop\.csv:2: parameter 'ksyn' of model .* is derived"),
    ("parameter,mean,cv,unit\nk,10,0.5,1/min\n", r"pop\.csv:2: k is declared in 'molecule/s'"),
    ("parameter,mean\nk,10\n", r"give an 'sd' or a 'cv' column"),
    ("parameter,mean,cv\nk,ten,0.5\n", r"pop\.csv:2: mean 'ten' is not a number"),
    ("k,N_per_cell\n5,-100\n", r"pop\.csv:2: N_per_cell is -100\.0"),
])
def test_bad_population_files_are_refused_naming_file_and_line(bd, tmp_path, text, match):
    path, net = bd
    with pytest.raises(PopulationError, match=match):
        sampler(net, _pop(tmp_path, text))


def test_cli_population_option_and_its_errors(bd, tmp_path, capsys):
    path, net = bd
    good = _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n", "good.csv")
    out = tmp_path / "s.csv"
    argv = ["ensemble", path, "--runs", "200", "--t-end", "2", "--points", "3", "--seed", "4", "--quiet",
            "--stats-csv", str(out), "--species", "s1"]
    assert cli.main([*argv, "--population", good]) == 0
    with_pop = out.read_text()
    assert cli.main(argv) == 0
    assert out.read_text() != with_pop
    bad = _pop(tmp_path, "parameter,mean,sd\nk,10,-2\n", "bad.csv")
    out.unlink()
    assert cli.main([*argv, "--population", bad]) != 0
    assert "bad.csv:2" in capsys.readouterr().err and not out.exists()


def test_committed_receptor_populations_are_reproducible_and_fit_the_il2_model(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_populations", ROOT / "data" / "make_populations.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for path in mod.write(str(tmp_path)):
        name = Path(path).name
        assert Path(path).read_bytes() == (ROOT / "data" / "populations" / name).read_bytes(), name
    cvs = mod.spreads(mod.read())
    assert cvs["Treg", "CD25"][1].startswith("measured") and cvs["Treg", "CD132"][1].startswith("assumed")
    model = load_model(str(ROOT / "model_src" / "il2.py"))
    for cell in ("Treg", "CD4_helper", "CD8", "NK"):
        net = generate_network(model.with_parameter_set(cell))
        pop = sampler(net, str(ROOT / "data" / "populations" / f"{cell}.csv")).population
        assert pop.mean[0] == net.parameters["CD25_per_cell"]      # the mean is the cell type's value
        assert np.all(pop.sd > 0)


def test_distribution_sums_are_exact_and_mergeable():
    import scipy.stats

    import kernels.stats as KS

    rng = np.random.default_rng(0)
    lam = rng.lognormal(np.log(3000), 0.8, size=(5000, 1, 1)) * np.ones((1, 2, 2))
    x = rng.poisson(lam).astype(np.int64)
    x[:, 0, 0] = rng.integers(0, 150, 5000)
    p = rng.lognormal(np.log(1000), 0.5, size=(5000, 2))
    q, shift = KS.fixed_point(p, [1000.0, 1000.0])
    whole = KS.distribution_sums(x, q)
    merged = KS.merge([KS.distribution_sums(x[a:b], q[a:b]) for a, b in ((0, 7), (7, 2500), (2500, 5000))])
    for f in whole._fields[1:]:
        assert np.array_equal(getattr(whole, f), getattr(merged, f)), f
    s1 = np.zeros((2, 2, 2), np.uint64)
    s2 = s1.copy()
    kernels.ensemble.accumulate_sums(x, s1, s2)
    d = KS.finish(s1, s2, whole, shift)
    xf = x.astype(float)
    assert np.allclose(d["skew"][1], scipy.stats.skew(xf[:, 1, :], axis=0), rtol=1e-12, atol=0)
    assert np.allclose(d["kurtosis"][1], scipy.stats.kurtosis(xf[:, 1, :], axis=0), rtol=1e-12, atol=0)
    exact_q = np.quantile(xf, KS.QUANTILES, method="inverted_cdf", axis=0)
    low = exact_q < 100
    assert low.sum() >= 4 and np.array_equal(d["quantiles"][low], exact_q[low])         # below 100: exact
    assert np.all(np.abs(d["quantiles"][~low] / exact_q[~low] - 1) <= 10 ** (1 / 400) - 1)
    cov = np.array([[np.cov(p[:, j], xf[:, 1, s])[0, 1] for j in range(2)] for s in range(2)])
    assert np.allclose(d["cov"][1], cov, rtol=1e-9)
    assert np.allclose(d["covariate_sd"], p.std(axis=0, ddof=1), rtol=1e-9)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        KS.distribution_sums(np.full((1, 1, 1), 1 << 33, np.int64))


def test_covariance_of_birth_rate_and_count_matches_theory(bd, tmp_path):
    """cov(k, X(t)) = m Var(k) for X | k ~ Poisson(k m): the sign and size of a parameter-observable
    covariance, the statistic compared with the measured CD25-pSTAT5 covariance."""
    path, net = bd
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n"))
    arrays = compile_network(net)
    t = np.array([0.0, 4.0])
    n = 20_000
    out = E.run(E.payload(arrays, population=cells), t, n, 77, species=[net.species_index("X()")],
                keep_trajectories=True, progress=False)
    m = (1.0 - math.exp(-0.5 * 4.0)) / 0.5
    x = out.result.trajectories[:, 1, 0].astype(float)
    k = cells.draw(77, 0, n)[:, 0]
    se = np.std((k - k.mean()) * (x - x.mean()), ddof=1) / math.sqrt(n)
    assert _z(out.distributions[0]["cov"][1, 0, 0], m * 25.0, se) < Z
    assert abs(out.distributions[0]["cov"][1, 0, 0] - np.cov(k, x)[0, 1]) < 1e-9 * abs(np.cov(k, x)[0, 1])


def test_cli_distribution_csv(bd, tmp_path):
    path, net = bd
    good = _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n", "good.csv")
    out = tmp_path / "d.csv"
    argv = ["ensemble", path, "--runs", "300", "--t-end", "2", "--points", "2", "--seed", "4", "--quiet",
            "--distribution-csv", str(out), "--sweep", "g=0.5,1"]
    assert cli.main([*argv, "--population", good]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("point,time,species,n,mean,sd,var_over_mean2,skew,kurtosis,q05,")
    assert lines[0].endswith("cov_k,corr_k") and len(lines) == 1 + 2 * 2 * 2
    assert lines[1].startswith("g=0.5,0.0,s1,300,")
    out.unlink()
    assert cli.main(argv) != 0 and not out.exists()


def test_ode_population_is_one_libroadrunner_integration_per_cell_and_bitwise_reproducible(bd, tmp_path):
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    path, net = bd
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\nN_per_cell,model,0.3\n"))
    sbml = write_sbml(net)
    model = E.payload(compile_network(net), population=cells, sbml=sbml)
    t = np.array([0.0, 1.0, 4.0])
    a = E.run(model, t, 60, 3, method="ode", keep_trajectories=True, chunk_size=60, progress=False)
    b = E.run(model, t, 60, 3, method="ode", chunk_size=7, workers=2, progress=False)
    assert a.result.sum_x2.tobytes() == b.result.sum_x2.tobytes()
    assert a.distributions[0]["cov"].tobytes() == b.distributions[0]["cov"].tobytes()
    sim = Simulator(sbml, rtol=E.ODE_RTOL)
    v = cells.draw(3, 0, 60)
    for i in (0, 59):        # each run is the cell's own ODE, rounded to whole molecules
        x = sim.at_times(t, ["s1", "s2"], k=float(v[i, 0]), N_per_cell=float(v[i, 1]))
        assert np.array_equal(a.result.trajectories[i], np.rint(x).astype(np.int64))
    # X(t) = k m exactly in the ODE: the population mean is E[k] m (rounding aside)
    m = (1.0 - math.exp(-0.5 * 4.0)) / 0.5
    assert abs(a.result.mean[2, 0] - v[:, 0].mean() * m) <= 0.5
    # ode_scale: amounts resolved to 1/100 molecule before rounding
    s100 = E.run(model, t, 60, 3, method="ode", keep_trajectories=True, chunk_size=60, progress=False, ode_scale=100)
    x = sim.at_times(t, ["s1", "s2"], k=float(v[0, 0]), N_per_cell=float(v[0, 1]))
    assert np.array_equal(s100.result.trajectories[0], np.rint(100 * x).astype(np.int64))
    with pytest.raises(E.EnsembleError, match="ode_scale"):
        E.run(model, t, 6, 3, progress=False, ode_scale=100)
    # observables in the ODE path: the rounded weighted sum of the cell's species amounts
    W = np.array([[1, 1], [0, 2]], np.int64)
    c = E.run(model, t, 5, 3, method="ode", species=[0, 1], observables=W, keep_trajectories=True, progress=False)
    x = sim.at_times(t, ["s1", "s2"], k=float(v[4, 0]), N_per_cell=float(v[4, 1]))
    assert np.array_equal(c.result.trajectories[4], np.rint(x @ W.T.astype(float)).astype(np.int64))
    with pytest.raises(E.EnsembleError, match="needs a population"):
        E.run(E.payload(compile_network(net)), t, 10, 3, method="ode", progress=False)


def test_interpolated_ode_population_is_checked_and_within_its_tolerance_of_the_exact_one(bd, tmp_path, monkeypatch):
    """interpolate=N: every cell within the tolerance of its exact ODE (all 300 cells compared
    here, beyond the run's own check of ~120), bitwise the same on 2 Dask workers and other
    chunks, its check recorded in the store; refusals before anything is written."""
    from il2sbml.formats.sbml import write_sbml

    _, net = bd
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\nN_per_cell,model,0.3\n"))
    model = E.payload(compile_network(net), population=cells, sbml=write_sbml(net))
    t = np.array([0.0, 1.0, 4.0])
    kw = dict(method="ode", progress=False, ode_scale=100)
    exact = E.run(model, t, 300, 3, keep_trajectories=True, chunk_size=300, **kw)
    a = E.run(model, t, 300, 3, keep_trajectories=True, chunk_size=300, interpolate=8, **kw)
    (row,) = a.interpolation
    assert row["parameters"] == ["k", "N_per_cell"] and row["nodes"] == 64 and 100 <= row["checked_cells"] <= 120
    assert 0 < row["max_rel_error"] <= E.INTERPOLATE_TOL
    diff = np.abs(a.result.trajectories - exact.result.trajectories).astype(float)
    top = exact.result.trajectories.max(axis=0)
    assert np.all(diff.max(axis=0) <= E.INTERPOLATE_TOL * top + 1)          # every cell, 1/100 molecule of rounding
    assert diff.max() > 0                                                    # interpolated, not integrated
    assert abs(row["max_abs_error"] * 100 - diff.max()) <= 0.5 + 0.05 * diff.max()
    b = E.run(model, t, 300, 3, chunk_size=7, workers=2, interpolate=8, store=str(tmp_path / "i.zarr"), **kw)
    assert a.result.sum_x2.tobytes() == b.result.sum_x2.tobytes()
    assert a.distributions[0]["cov"].tobytes() == b.distributions[0]["cov"].tobytes()
    meta = E._Store.read_meta(str(tmp_path / "i.zarr"))
    assert meta["interpolation"]["nodes_per_parameter"] == 8 and meta["interpolation_check"] == b.interpolation
    with pytest.raises(E.StoreError, match="interpolation"):   # a store of another grid is refused
        E.run(model, t, 300, 3, chunk_size=7, interpolate=9, store=str(tmp_path / "i.zarr"), resume=True, **kw)
    # refusals, nothing written
    bad = str(tmp_path / "bad.zarr")
    with pytest.raises(E.EnsembleError, match="off by up to .* the tolerance is 1e-12.*nothing was written"):
        E.run(model, t, 300, 3, interpolate=6, interpolate_tol=1e-12, store=bad, **kw)
    assert not Path(bad).exists()
    with pytest.raises(E.EnsembleError, match="whole number >= 6"):
        E.run(model, t, 30, 3, interpolate=5, **kw)
    with pytest.raises(E.EnsembleError, match="method 'ode'"):
        E.run(model, t, 30, 3, progress=False, interpolate=8)
    for tol in (0, -1e-3, 1.5):                                              # 0 is not "the default"
        with pytest.raises(E.EnsembleError, match="interpolate_tol: .*between 0 and 1"):
            E.run(model, t, 30, 3, interpolate=8, interpolate_tol=tol, **kw)
    assert b.interpolation[0]["tolerance"] == E.INTERPOLATE_TOL                 # None: the default
    monkeypatch.setattr(E, "INTERPOLATE_MAX_PARAMETERS", 1)
    with pytest.raises(E.EnsembleError, match="vary 2 parameters .k, N_per_cell.*at most 1"):
        E.run(model, t, 30, 3, interpolate=8, **kw)
    zero = sampler(net, _pop(tmp_path, "k,N_per_cell\n0,100\n20,3000\n", "zero.csv"))
    with pytest.raises(E.EnsembleError, match="parameter k is <= 0"):
        E.run(E.payload(compile_network(net), population=zero, sbml=write_sbml(net)), t, 30, 3, interpolate=8, **kw)


def test_interpolation_check_refuses_an_under_resolved_grid_of_the_il2_model():
    """The IL-2 Treg's pSTAT5 over its three receptor numbers is not resolved by 6 nodes each (its
    error is ~1e-2 of the maximum at 9): the run's own check against the exact ODE refuses it."""
    from il2sbml.analysis.populations import predict_populations

    with pytest.raises(E.EnsembleError, match=r"point 0: on \d+ cells checked .*\(6 nodes per parameter\) is off"):
        predict_populations(str(ROOT / "model_src" / "il2.py"), cell_types=("Treg",), doses_pM=[100.0], n_cells=40,
                            workers=None, interpolate=6)


def test_cli_interpolate(bd, tmp_path, capsys):
    path, _ = bd
    pop = _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n", "good.csv")
    out = tmp_path / "s.csv"
    argv = ["ensemble", path, "--runs", "200", "--t-end", "2", "--points", "3", "--seed", "4", "--quiet",
            "--stats-csv", str(out), "--species", "s1", "--population", pop, "--interpolate", "8"]
    assert cli.main([*argv, "--method", "ode"]) == 0
    assert "interpolated on 8 exact ODEs per point (8 per k), largest checked error" in capsys.readouterr().out
    exact = tmp_path / "exact.csv"
    assert cli.main([*argv[:-2], "--method", "ode", "--stats-csv", str(exact)]) == 0
    m_i, m_e = (np.loadtxt(f, delimiter=",", skiprows=1)[:, 1] for f in (out, exact))
    assert np.allclose(m_i, m_e, rtol=1e-3, atol=0.01)       # the mean of 200 cells
    out.unlink()
    assert cli.main(argv) != 0                                 # SSA: refused, nothing written
    assert "method 'ode'" in capsys.readouterr().err and not out.exists()


def test_observables_are_integer_weighted_sums_of_species_in_ssa_ode_and_store(tmp_path):
    from il2sbml.simulate import select

    net = generate_network(load_model(SIMPLE))
    arrays = compile_network(net)
    sp, W, names = select.pick_observables(net, "X_p_total,XY,Xtotal")
    t = np.linspace(0.0, 1.0, 4)
    full = kernels.run_ensemble(arrays, t, 50, 8, species=sp, keep_trajectories=True)
    y = np.einsum("itq,oq->ito", full.trajectories, W)
    store = str(tmp_path / "o.zarr")
    out = E.run(arrays, t, 50, 8, species=sp, species_ids=names, observables=W, keep_trajectories=True,
                chunk_size=9, store=store, progress=False)
    assert np.allclose(out.result.mean, y.mean(axis=0), rtol=1e-15)
    import zarr

    g = zarr.open_group(store, mode="r")
    assert np.array_equal(g["trajectories"][0], y)
    mem = E.run(arrays, t, 50, 8, species=sp, species_ids=names, observables=W, keep_trajectories=True,
                progress=False)
    assert np.array_equal(mem.result.trajectories, y)
    assert list(g["species_index"][:]) == [-1, -1, -1] and g.attrs["il2sbml_ensemble"]["species"] == names
    assert g.attrs["il2sbml_ensemble"]["observables"]["weights"] == W.tolist()
    with pytest.raises(Exception, match="no observable 'pSTAT5'"):
        select.pick_observables(net, "pSTAT5")


def test_noise_decomposition_recovers_poisson_intrinsic_and_lognormal_extrinsic_variance(bd, tmp_path):
    """Birth-death, log-normal k: intrinsic Var = E[k] m (Poisson), extrinsic = Var(k) m^2."""
    from il2sbml.analysis.populations import noise_decomposition, variance_se
    from il2sbml.formats.sbml import write_sbml

    path, net = bd
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n"))
    model = E.payload(compile_network(net), population=cells, sbml=write_sbml(net))
    t = np.array([0.0, 2.0, 4.0])
    n = 20_000
    ix = [net.species_index("X()")]
    ssa = E.run(model, t, n, 31, species=ix, progress=False)
    ode = E.run(model, t, n, 31, species=ix, method="ode", workers=2, progress=False)
    rows = noise_decomposition(ssa, ode, ["X"])
    for row, tk in zip(rows[1:], t[1:]):
        m = (1.0 - math.exp(-0.5 * tk)) / 0.5
        vi, lo, hi = row[8], row[9], row[10]
        se = (hi - lo) / (2 * 1.96)
        assert _z(vi, 10.0 * m, se) < Z
        ve = row[7]
        se_e = variance_se(n, math.sqrt(ve), float(ode.distributions[0]["kurtosis"][list(t).index(tk), 0]))
        assert _z(ve, 25.0 * m * m, se_e + 1.0 / 12.0) < Z       # rounding adds at most ~1/12
    assert variance_se(1000, 2.0, 0.0) == pytest.approx(math.sqrt(2 * 16 / 1000), rel=0.01)  # normal: 2 s^4 / n


def test_cli_noise(bd, tmp_path):
    path, net = bd
    pop = _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\n", "n.csv")
    out = tmp_path / "noise.csv"
    argv = ["noise", path, "--runs", "200", "--t-end", "2", "--points", "2", "--seed", "4", "--quiet",
            "--out", str(out), "--species", "s1"]
    assert cli.main([*argv, "--population", pop]) == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("point,time,output,n,mean_ssa,mean_ode,var_total,var_extrinsic,var_intrinsic")
    assert len(lines) == 3
    out.unlink()
    assert cli.main(argv) != 0 and not out.exists()
    assert cli.main([*argv, "--population", pop, "--store", str(tmp_path / "s.zarr")]) != 0
    assert not out.exists() and not (tmp_path / "s.zarr").exists()


def test_single_cell_moment_comparison_pairs_wells_with_predictions():
    """The held-out single-cell moments (never fitted) against a small deterministic Treg population."""
    from il2sbml.analysis import heldout
    from il2sbml.analysis.populations import compare_moments, predict_populations, summarize_moments

    data = heldout.load_single_cell_moments()
    assert len(data) == 288 and {w.time_s for w in data} == {1800.0, 3600.0}
    assert all(w.cov_cd25 is None for w in data if w.cell_type in ("NK", "CD8"))
    doses = sorted({w.dose_pM for w in data})[-3:]
    runs = predict_populations(cell_types=("Treg",), doses_pM=doses, n_cells=12, workers=None)
    rows = compare_moments(runs, data)
    assert len(rows) == 2 * 3 and all(r[3] == 3 for r in rows)          # three dates per well
    for r in rows:
        wells = [w for w in data if w.cell_type == "Treg" and w.time_s == r[1] * 3600 and w.dose_pM == r[2]]
        assert r[4] == pytest.approx(np.median([w.variance / w.mean ** 2 for w in wells]))
        assert r[6] == pytest.approx(r[5] / r[4])
        assert r[11] == int(np.sign(np.median([w.cov_cd25 for w in wells])))
        assert r[14] == pytest.approx(np.median([w.cov_cd25 for w in wells]))
    s = summarize_moments(rows)
    assert set(s) == {("Treg", 0.5), ("Treg", 1.0)} and s["Treg", 0.5]["doses"] == 3
    assert -1 <= s["Treg", 0.5]["cov_profile_spearman"] <= 1


CC_MODEL = """\
from il2sbml import Model

m = Model("cc_test", doc="ligand L in the medium binds R on the membrane; R.L recruits S (2-D, area-based)")
m.parameter("V", 1.0, doc="medium per cell")
m.parameter("A", 2.0, doc="membrane area per cell")
m.compartment("EC", dimension=3, size="V")
m.compartment("PM", dimension=2, size="A", parent="EC")
m.parameter("L0", 1000.0)
m.parameter("R_per_cell", 100.0)
m.parameter("S_per_cell", 50.0)
m.parameter("kon", 1e-3)
m.parameter("koff", 0.05)
m.parameter("k2", 0.02)
m.parameter("k2r", 0.01)
m.molecule_type("L(r)")
m.molecule_type("R(l,s)")
m.molecule_type("S(r)")
m.seed("L(r)@EC", "L0")
m.seed("R(l,s)@PM", "R_per_cell")
m.seed("S(r)@PM", "S_per_cell")
m.rule("bind", "L(r)@EC + R(l)@PM <-> L(r!1)@EC.R(l!1)@PM", "kon", "koff")
m.rule("recruit", "R(l!+,s) + S(r) <-> R(l!+,s!1).S(r!1)", "k2", "k2r")
m.observable("RS", "R(s!+)")
m.parameter_set("A", {"R_per_cell": 100.0})
m.parameter_set("B", {"R_per_cell": 20.0})
model = m
"""


def test_heterogeneous_coculture_ensemble_of_cultures(tmp_path):
    """Two populations, each K = 2 classes drawn per culture: the homogeneous culture equals the
    plain co-culture's ODE (splitting a population into identical classes changes nothing), and
    heterogeneity moves the mean and spreads the cultures."""
    from il2sbml.analysis.coculture import coculture
    from il2sbml.analysis.populations import coculture_ensemble
    from il2sbml.formats.sbml import write_sbml
    from il2sbml.simulate.ode import Simulator

    path = tmp_path / "cc.py"
    path.write_text(CC_MODEL)
    (tmp_path / "A.csv").write_text("parameter,mean,cv\nR_per_cell,model,1.0\n")
    (tmp_path / "B.csv").write_text("parameter,mean,cv\nR_per_cell,model,1.0\n")
    frac = {"A": 0.2, "B": 0.8}
    rows = coculture_ensemble(str(path), frac, [1000.0], classes=2, cultures=30, workers=None,
                              populations=str(tmp_path), readout="RS", time_s=60.0, dose_parameter="L0")
    sim = Simulator(write_sbml(generate_network(coculture(load_model(str(path)), frac))))
    for dose, popname, mean_het, sd_het, homo in rows:
        ref = sim.at_times([0.0, 60.0], [f"RS_{popname}"], L0=dose)[1, 0]
        assert homo == pytest.approx(ref, rel=1e-5, abs=2e-3 / frac[popname])   # 1e-3 molecule per average cell
        assert sd_het > 0 and mean_het != pytest.approx(homo, rel=1e-3)


def test_cli_coculture_populations(tmp_path):
    path = tmp_path / "cc.py"
    path.write_text(CC_MODEL.replace('m.parameter("L0", 1000.0)', 'm.parameter("IL2_pM", 1000.0)')
                    .replace('"L0"', '"IL2_pM"'))
    for name in ("A", "B"):
        (tmp_path / f"{name}.csv").write_text("parameter,mean,cv\nR_per_cell,model,1.0\n")
    argv = ["populations", "--model", str(path), "--coculture", "A=0.2,B=0.8", "--classes", "2", "--cultures", "5",
            "--doses", "100,1000", "--populations", str(tmp_path), "--out", str(tmp_path / "out"), "--workers", "1",
            "--quiet", "--readout", "RS"]
    assert cli.main(argv) == 0
    lines = [x for x in (tmp_path / "out" / "coculture.csv").read_text().splitlines() if not x.startswith("#")]
    assert lines[0].startswith("dose_pM,population,") and len(lines) == 1 + 2 * 2
    assert cli.main([*argv[:3], "--coculture", "A=0.5,B=0.6", *argv[5:]]) != 0       # fractions must add to 1


def test_reduce_drops_only_what_cannot_change_the_observed_counts(bd, tmp_path):
    """Observing X of the birth-death model: Y's synthesis and decay are switched off (exact), X keeps
    its population law (same z-tests as above), with fewer events; a store records the reduction."""
    path, net = bd
    arrays = compile_network(net)
    ix = net.species_index("X()")
    keep = kernels.upstream_reactions(arrays, [ix])
    assert sorted(net.reactions[j].rule for j in np.nonzero(keep)[0]) == ["birth", "death"]
    cells = sampler(net, _pop(tmp_path, "parameter,mean,cv\nk,model,0.5\nN_per_cell,model,0.3\n"))
    model = E.payload(arrays, population=cells)
    t = np.array([0.0, 4.0])
    n = 20_000
    full = E.run(model, t, 2000, 5, species=[ix], progress=False)
    red = E.run(model, t, n, 5, species=[ix], reduce=True, keep_trajectories=True, progress=False, workers=2)
    assert red.results[0].n_events / n < 0.5 * full.results[0].n_events / 2000
    m = (1.0 - math.exp(-0.5 * 4.0)) / 0.5
    x = red.result.trajectories[:, 1, 0].astype(float)
    _assert_mean_and_variance(x, 10.0 * m, 10.0 * m + 25.0 * m * m)
    # a dropped reaction stays off even where the cells set its rate (Y's synthesis reads N_per_cell)
    iy = net.species_index("Y()")
    pl = E.ModelPayload(model.fingerprint, arrays._replace(rates=np.where(keep, arrays.rates, 0.0)), None, False,
                        "", cells, None, None, ~keep)
    res, _dist = E._chunk_task(pl, t, np.array([ix, iy]), 20, 5, "direct", 0, True, 1, None)
    y = res.trajectories[:, :, 1]
    assert np.all(y[:, 1] == y[:, 0]) and len(set(y[:, 0])) > 1      # Y never moves, and differs between cells
