"""Tests of the Numba SSA kernels on hand-built arrays (no il2sbml involved).

DSMTS cases are built by hand from the models in ``shared/suite/stochastic`` and checked with
the suite's Z/Y criterion at n = 2,000 (README §1.2; a case fails at >= 2 Z or >= 2 Y failures
per variable, points with sd 0 must match exactly). Cold JIT of the kernels is ~25 s of CPU;
everything else here takes a few seconds.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import (
    SimulationError,
    combine_results,
    compile_law,
    dependency_graph,
    make_network_arrays,
    network_from_reactions,
    run_ensemble,
    simulate,
    species_event,
    time_event,
)
from kernels.ensemble import accumulate_sums, choose_method, exact_moments, kernel_arrays
from kernels.laws import LAW_SIGNATURE, default_law
from kernels.rng import exponential, next_u64, poisson, seed_stream
from kernels.ssa import _refresh_all, dep_mass_action, tree_shape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from ssa_kernels import random_network  # noqa: E402

T51 = np.arange(51.0)
N_QUICK = 2000


# --------------------------------------------------------------------------------------------
# DSMTS reference data and the suite's criterion
# --------------------------------------------------------------------------------------------


def suite_dir() -> Path:
    env = os.environ.get("IL2SBML_SUITE")
    path = Path(env) if env else ROOT.parent / "shared" / "suite"
    if (path / "stochastic").is_dir():
        return path
    message = f"reference test suite not found at {path} (set IL2SBML_SUITE)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def expected(case: str) -> dict[str, np.ndarray]:
    path = suite_dir() / "stochastic" / case / f"{case}-results.csv"
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k.strip(): np.array([float(r[k]) for r in rows]) for k in rows[0]}


def dsmts_failures(case, res, names):
    """{variable: (Z failures, Y failures)}; asserts the sd == 0 points exactly."""
    ref = expected(case)
    n = res.n_runs
    assert np.array_equal(res.t, ref["time"])
    out = {}
    for q, v in enumerate(names):
        mu, sigma = ref[f"{v}-mean"], ref[f"{v}-sd"]
        m, sd = res.mean[:, q], res.sd[:, q]
        zf = yf = 0
        for k in range(len(mu)):
            if sigma[k] == 0:
                assert m[k] == mu[k] and sd[k] == 0, (case, v, k, m[k], sd[k])
                continue
            z = math.sqrt(n) * (m[k] - mu[k]) / sigma[k]
            s2 = ((n - 1) * sd[k] ** 2 + n * (m[k] - mu[k]) ** 2) / n  # mean sq. dev. from mu
            y = math.sqrt(n / 2) * (s2 / sigma[k] ** 2 - 1)
            zf += not -3 < z < 3
            yf += not -5 < y < 5
        out[v] = (zf, yf)
    return out


def assert_dsmts(case, res, names):
    fails = dsmts_failures(case, res, names)
    for v, (zf, yf) in fails.items():
        assert zf <= 1 and yf <= 1, f"{case} {v} ({res.method}): {zf} Z and {yf} Y failures"


# --------------------------------------------------------------------------------------------
# Hand-built DSMTS models
# --------------------------------------------------------------------------------------------

LAW_00034 = """
def law(j, t, x, p):
    # DSMTS 00034: 0 -> P2 with propensity 0.5*k1*(100 - 2*P2)*(99 - 2*P2)
    if j == 0:
        return 0.5 * p[0] * (100.0 - 2.0 * x[0]) * (99.0 - 2.0 * x[0])
    return 0.0
"""


@pytest.fixture(scope="module")
def law_00034(tmp_path_factory):
    return compile_law(LAW_00034, tmp_path_factory.mktemp("laws"))


def birth_death(x0=100, lam=0.1, mu=0.11, **kw):
    return network_from_reactions([x0], [[0], [0]], [[0, 0], []], [lam, mu], **kw)


def immigration_death(alpha=1.0, mu=0.1, batch=1, **kw):
    return network_from_reactions([0], [[], [0]], [{0: batch}, []], [alpha, mu], **kw)


def dimerisation(p0=100, k1=0.001, k2=0.01, **kw):
    # 2P -> P2 with SBML law k1*P*(P-1)/2: falling-factorial propensity c*P*(P-1), c = k1/2
    return network_from_reactions([p0, 0], [[0, 0], [1]], [[1], [0, 0]], [k1 / 2, k2], **kw)


CASES = {
    "00001": (lambda law: birth_death(), ["X"]),
    "00028": (lambda law: immigration_death(events=[time_event(25, [(0, 50)])]), ["X"]),
    "00030": (lambda law: dimerisation(), ["P", "P2"]),
    "00033": (lambda law: dimerisation(events=[species_event(1, ">", 30, [(0, 100), (1, 0)])]),
              ["P", "P2"]),
    "00034": (lambda law: network_from_reactions(
        [0], [[], [0]], [[0], []], [0.0, 0.01], law=law, law_reactions=[True, False],
        law_species=[[0], None], params=[0.001]), ["P2"]),
    "00039": (lambda law: immigration_death(alpha=1.0, mu=4.0, batch=100), ["X"]),
}


@pytest.mark.parametrize("method", ["direct", "tree"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_dsmts_exact_methods(case, method, law_00034):
    build, names = CASES[case]
    net = build(law_00034)
    res = run_ensemble(net, T51, N_QUICK, seed=int(case), method=method)
    assert res.exact and res.method == method
    assert_dsmts(case, res, names)


def test_dsmts_00028_event_is_applied_before_output():
    res = run_ensemble(CASES["00028"][0](None), T51, 200, seed=5, method="direct",
                       keep_trajectories=True)
    assert (res.trajectories[:, 25, 0] == 50).all()  # t = 25 is post-event in every run
    assert res.sd[25, 0] == 0.0


def test_dsmts_00033_event_refires():
    net = CASES["00033"][0](None)
    resets = []
    for seed in range(8):   # how often P2 reaches 30 by t = 50 varies (1-3 times)
        traj = simulate(net, np.linspace(0, 50, 5001), seed=seed, method="direct")
        p2 = traj[:, 1]
        assert p2.max() <= 31
        resets.append(int(np.sum((p2[1:] == 0) & (p2[:-1] > 0))))
    assert min(resets) >= 1 and max(resets) >= 2, \
        f"the state event must fire again each time P2 crosses 30 (resets per run: {resets})"


def test_wrong_dimer_propensity_fails_the_criterion():
    """The harness has teeth: c = k1 (k1*P*(P-1), twice too fast) is rejected."""
    net = network_from_reactions([100, 0], [[0, 0], [1]], [[1], [0, 0]], [0.001, 0.01])
    res = run_ensemble(net, T51, N_QUICK, seed=30, method="direct")
    z, _ = dsmts_failures("00030", res, ["P", "P2"])["P"]
    assert z > 10


# --------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medium_net():
    return random_network(200, seed=2)


@pytest.mark.parametrize("method", ["direct", "tree", "tau"])
def test_bitwise_identical_across_threads_and_chunks(method, medium_net):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 Numba threads")
    t = np.linspace(0, 0.02, 6)
    runs = [
        run_ensemble(medium_net, t, 41, 11, method, n_threads=1),
        run_ensemble(medium_net, t, 41, 11, method, n_threads=2),
        run_ensemble(medium_net, t, 41, 11, method, n_threads=2, chunk_size=5),
        run_ensemble(medium_net, t, 41, 11, method, n_threads=1, chunk_size=41,
                     keep_trajectories=True),
    ]
    for r in runs[1:]:
        assert np.array_equal(r.mean, runs[0].mean)
        assert np.array_equal(r.sd, runs[0].sd)
        assert r.n_events == runs[0].n_events
    assert runs[1].trajectories is None
    # trajectory i depends only on (seed, i)
    one = simulate(medium_net, t, 11, method, index=17)
    assert np.array_equal(one, runs[3].trajectories[17])
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored


def test_split_ensembles_combine_exactly(medium_net):
    t = np.linspace(0, 0.02, 4)
    full = run_ensemble(medium_net, t, 30, 4, "direct", keep_trajectories=True)
    parts = [run_ensemble(medium_net, t, n, 4, "direct", keep_trajectories=True, first_run=f)
             for f, n in ((20, 10), (0, 7), (7, 13))]
    assert np.array_equal(parts[0].trajectories, full.trajectories[20:])
    merged = combine_results(parts)
    assert merged.n_runs == 30 and merged.n_events == full.n_events
    assert np.array_equal(merged.mean, full.mean) and np.array_equal(merged.sd, full.sd)
    assert np.array_equal(merged.sum_x2, full.sum_x2)
    assert np.array_equal(merged.trajectories, full.trajectories)
    with pytest.raises(ValueError, match="overlap"):
        combine_results([parts[1], parts[1]])


def test_tree_shape():
    """Leaf groups of 64 reactions, 32 children per node above, top level <= 32 entries."""
    assert tree_shape(54, False)[0] == 0
    assert tree_shape(32, True)[0] == 0
    n_lev, lsize, loff, lshift, size = tree_shape(1080, True)
    assert n_lev == 1 and list(lsize) == [1080, 17] and list(lshift) == [0, 6] and size == 17
    n_lev, lsize, loff, lshift, size = tree_shape(2200, True)
    assert n_lev == 2 and list(lsize) == [2200, 35, 2] and list(lshift) == [0, 6, 5]
    assert list(loff) == [0, 0, 35, 37] and size == 37
    assert tree_shape(64 * 32 * 32 + 1, True)[0] == 3


def test_direct_and_tree_agree_on_two_tree_levels():
    """On a network with two tree levels (2,200 reactions) the sum tree (sorted leaf groups)
    and the sorting direct method (whose search order adapts, so the same seed takes another
    path) give the same ensemble statistics."""
    net = random_network(2200, seed=3)
    assert choose_method(net.n_reactions) == "tree"
    assert tree_shape(net.n_reactions, True)[0] == 2
    t = np.linspace(0, 0.02, 5)
    n = 200
    a = run_ensemble(net, t, n, 7, "direct")
    b = run_ensemble(net, t, n, 8, "tree")
    assert a.n_events > 100_000 and b.n_events > 100_000
    se = np.sqrt((a.sd ** 2 + b.sd ** 2) / n)
    z = np.abs(a.mean - b.mean)[1:] / np.where(se[1:] > 0, se[1:], 1.0)
    assert z.max() < 5.0


def test_direct_and_tree_statistically_consistent(medium_net):
    t = np.linspace(0, 0.02, 5)
    n = 400
    a = run_ensemble(medium_net, t, n, 1, "direct")
    b = run_ensemble(medium_net, t, n, 2, "tree")
    se = np.sqrt((a.sd ** 2 + b.sd ** 2) / n)
    z = np.abs(a.mean - b.mean)[1:] / np.where(se[1:] > 0, se[1:], 1.0)
    assert z.max() < 5.0


def test_tau_leap_close_at_high_counts():
    """Immigration-death at ~10^4 copies (DSMTS 00023): APPROXIMATE, so loose tolerances."""
    net = immigration_death(alpha=1000.0, mu=0.1)
    t = np.arange(0.0, 31.0)  # leaps never cross an output time: the DSMTS grid
    res = run_ensemble(net, t, 300, 23, "tau")
    assert res.method == "tau_approx" and not res.exact
    exact_mean = 10000.0 * (1 - np.exp(-0.1 * t))
    np.testing.assert_allclose(res.mean[1:, 0], exact_mean[1:], rtol=0.02)
    np.testing.assert_allclose(res.sd[1:, 0], np.sqrt(exact_mean[1:]), rtol=0.15)
    exact = run_ensemble(net, t, 20, 23, "direct")
    assert abs(res.n_events / 300 - exact.n_events / 20) / (exact.n_events / 20) < 0.05
    # a coarse grid lets leaps run past the relaxation time (sd +18%); tau_max bounds that
    coarse = np.arange(0.0, 31.0, 5.0)
    capped = run_ensemble(net, coarse, 300, 23, "tau", tau_max=1.0)
    np.testing.assert_allclose(capped.sd[1:, 0], np.sqrt(exact_mean[::5][1:]), rtol=0.15)


def test_tau_leap_events_and_low_counts():
    """Low counts (critical reactions, exact fall-back) and a time event: 00028 with tau."""
    res = run_ensemble(CASES["00028"][0](None), T51, N_QUICK, seed=28, method="tau")
    assert_dsmts("00028", res, ["X"])


# --------------------------------------------------------------------------------------------
# Array format, dependency graph, events
# --------------------------------------------------------------------------------------------


def test_array_format_of_network_from_reactions():
    # 0: 2A -> B ; 1: A + C -> C + D (C catalyst) ; 2: B -> (nothing) ; 3: 0 -> 3A ; A fixed in 4
    net = network_from_reactions([5, 0, 1, 0], [[0, 0], [0, 2], [1], [], [0]],
                                 [[1], [2, 3], [], {0: 3}, [1]], [1.0, 2.0, 3.0, 4.0, 5.0],
                                 fixed_species=[])
    assert net.reactant_index.tolist() == [[0, -1], [0, 2], [1, -1], [-1, -1], [0, -1]]
    assert net.reactant_stoich.tolist() == [[2, 0], [1, 1], [1, 0], [0, 0], [1, 0]]
    changes = [dict(zip(net.change_index[a:b].tolist(), net.change_delta[a:b].tolist()))
               for a, b in zip(net.change_ptr[:-1], net.change_ptr[1:])]
    assert changes == [{0: -2, 1: 1}, {0: -1, 3: 1}, {1: -1}, {0: 3}, {0: -1, 1: 1}]
    deps = [net.dep_index[a:b].tolist() for a, b in zip(net.dep_ptr[:-1], net.dep_ptr[1:])]
    # readers: A -> 0, 1, 4; B -> 2; C -> 1
    assert deps == [[0, 1, 2, 4], [0, 1, 4], [2], [0, 1, 4], [0, 1, 2, 4]]
    fixed = network_from_reactions([5, 0], [[0]], [[1]], [1.0], fixed_species=[0])
    assert fixed.change_index.tolist() == [1]


def test_falling_factorial_propensities():
    x0 = [7, 3, 5]
    net = network_from_reactions(x0, [[0, 0], [0, 1], [0, 0, 0], [0, 0, 1, 1], [2, 2, 2, 2]],
                                 [[1]] * 5, [1.0, 2.0, 3.0, 4.0, 0.5])
    kn = kernel_arrays(net)
    n_lev, lsize, loff, lshift, size = tree_shape(5, False)
    a = np.zeros(5)
    a0 = _refresh_all(kn[0].copy(), a, np.zeros(size), n_lev, lsize, loff, lshift, kn,
                      default_law, 0.0, kn[11], np.zeros(4, np.int64), np.zeros(2))
    assert a.tolist() == [7 * 6, 2 * 7 * 3, 3 * 7 * 6 * 5, 4 * 7 * 6 * 3 * 2, 0.5 * 5 * 4 * 3 * 2]
    assert a0 == sum(a)
    assert kn[5].tolist() == [0, 0, 1, 0, 1]  # pkind: 0 = <= 2 slots of stoichiometry <= 2
    # the dependency records (what the kernels' updates read) give the same propensities
    dep_index, drec, drate = kn[13], kn[14], kn[15]
    assert drec.dtype == np.uint32 and len(drec) == 4 * len(dep_index)
    for q, r in enumerate(dep_index):
        assert drec[4 * q] == r and drate[q] == net.rates[r]
        code = int(drec[4 * q + 3])
        if kn[5][r] == 0:
            assert code < 4 and _dep_propensity(4 * q, code, kn[0], drec, drate[q]) == a[r]
        else:
            assert code == 4 * kn[5][r]


@numba.njit
def _dep_propensity(b, code, x, drec, rate):
    return dep_mass_action(b, code, x, drec, rate)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(1, 25), st.integers(0, 10_000))
def test_dependency_graph_matches_brute_force(n, m, seed):
    rng = np.random.default_rng(seed)
    reac = [list(rng.integers(0, n, rng.integers(0, 3))) for _ in range(m)]
    prod = [list(rng.integers(0, n, rng.integers(0, 3))) for _ in range(m)]
    net = network_from_reactions(np.full(n, 3), reac, prod, np.ones(m))
    for j in range(m):
        changed = set(net.change_index[net.change_ptr[j]:net.change_ptr[j + 1]].tolist())
        want = sorted(r for r in range(m) if changed & set(reac[r]))
        assert net.dep_index[net.dep_ptr[j]:net.dep_ptr[j + 1]].tolist() == want
    dp, di = dependency_graph(n, net.reactant_index, net.change_ptr, net.change_index,
                              net.change_delta)
    assert np.array_equal(dp, net.dep_ptr) and np.array_equal(di, net.dep_index)


def test_time_event_at_zero_and_initial_value():
    t = np.array([0.0, 1.0])
    for init, want in ((False, 7), (True, 0)):
        net = network_from_reactions([0], [[0]], [[]], [0.0],
                                     events=[time_event(0.0, [(0, 7)], initial_value=init)])
        assert simulate(net, t, 1, "direct")[0, 0] == want


def test_network_without_reactions():
    net = network_from_reactions([3, 0], [], [], np.zeros(0),
                                 events=[time_event(2.0, [(1, "+=", 4)])])
    for method in ("direct", "tree", "tau"):
        traj = simulate(net, np.array([0.0, 1.0, 2.0, 3.0]), 1, method)
        assert traj.tolist() == [[3, 0], [3, 0], [3, 4], [3, 4]]


def test_event_cascade_and_add_assignment():
    # event 0 at t >= 1 adds 10 to X; event 1 (X >= 10) then sets Y := 1 at the same instant
    net = network_from_reactions([0, 0], [[0]], [[]], [0.0],
                                 events=[time_event(1.0, [(0, "+=", 10)]),
                                         species_event(0, ">=", 10, [(1, 1)])])
    traj = simulate(net, np.array([0.0, 0.5, 1.0, 2.0]), 1, "tree")
    assert traj.tolist() == [[0, 0], [0, 0], [10, 1], [10, 1]]


# --------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------


def test_bad_counts_and_rates():
    with pytest.raises(ValueError, match="species 1: initial count -3 is negative"):
        network_from_reactions([1, -3], [[0]], [[1]], [1.0])
    with pytest.raises(ValueError, match="reaction 1: rate constant nan"):
        network_from_reactions([1], [[0], [0]], [[], [0, 0]], [1.0, float("nan")])
    with pytest.raises(ValueError, match="reaction 0: rate constant -1.0"):
        network_from_reactions([1], [[0]], [[]], [-1.0])
    with pytest.raises(ValueError, match=r"x0\[1\]: 2.5 is not an integer"):
        network_from_reactions([1, 2.5], [[0]], [[]], [1.0])
    with pytest.raises(ValueError, match="reaction 0: reactant species 4 out of range"):
        network_from_reactions([1], [[4]], [[]], [1.0])


def test_bad_shapes():
    ok = dict(x0=[1, 1], reactant_index=[[0], [1]], reactant_stoich=[[1], [1]],
              change_ptr=[0, 1, 2], change_index=[0, 1], change_delta=[-1, -1],
              rates=[1.0, 1.0])
    make_network_arrays(**ok)
    for key, value, msg in [
        ("reactant_stoich", [[1, 0], [1, 0]], "reactant_stoich: shape"),
        ("reactant_index", [[0]], "reactant_index: 1 rows for 2 reactions"),
        ("change_ptr", [0, 2], "change_ptr: length 2"),
        ("change_delta", [-1], "change_delta: shape"),
        ("rates", [[1.0, 1.0]], "rates: expected a 1-D array"),
        ("reactant_index", [[0], [5]], "reaction 1: reactant species 5 out of range"),
        ("reactant_stoich", [[0], [1]], "reaction 0: reactant stoichiometry must be >= 1"),
        ("change_index", [0, 9], "reaction 1: changed species 9 out of range"),
        ("change_delta", [-1, 0], "reaction 1: zero net change"),
    ]:
        with pytest.raises(ValueError, match=msg):
            make_network_arrays(**{**ok, key: value})


def test_bad_reactant_rows_and_law_species(tmp_path):
    ok = dict(x0=[1, 1], reactant_index=[[0, 1], [1, -1]], reactant_stoich=[[1, 1], [2, 0]],
              change_ptr=[0, 2, 3], change_index=[0, 1, 1], change_delta=[-1, -1, -2],
              rates=[1.0, 1.0])
    make_network_arrays(**ok)
    for key, value, msg in [
        ("reactant_index", [[0, 1], [-1, 1]], "reaction 1: reactant padding"),
        ("reactant_index", [[0, 0], [1, -1]], "reaction 0: reactant species repeated"),
        ("reactant_index", [[0, 1], [1, -2]], "reaction 1: reactant index -2 is negative"),
        ("change_index", [0, 0, 1], "reaction 0: a species appears twice"),
    ]:
        with pytest.raises(ValueError, match=msg):
            make_network_arrays(**{**ok, key: value})
    with pytest.raises(ValueError, match="reaction 1: law species out of range"):
        make_network_arrays(**ok, law=compile_law(CONSUMING_LAW, tmp_path),
                            law_reactions=[False, True], law_species=[None, [7]])


def test_guards_only_where_counts_can_go_negative():
    from kernels.ensemble import guard_reactions

    # 0: 2A -> B (safe); 1: A -> (consumes B too: unsafe); 2: 0 -> huge batch (overflow check)
    net = make_network_arrays([5, 5], [[0], [0], [-1]], [[2], [1], [0]], [0, 2, 4, 5],
                              [0, 1, 0, 1, 0], [-2, 1, -1, -1, 2 ** 40], [1.0, 1.0, 1.0])
    assert guard_reactions(net).tolist() == [False, True, True]


def test_bad_events_and_outputs():
    with pytest.raises(ValueError, match="event 1: trigger species 3 out of range"):
        birth_death(events=[time_event(1, [(0, 1)]), species_event(3, ">", 1, [(0, 1)])])
    with pytest.raises(ValueError, match="event 0: comparison '=>' not supported"):
        birth_death(events=[species_event(0, "=>", 1, [(0, 1)])])
    with pytest.raises(ValueError, match="event 0: trigger kind 'delay'"):
        birth_death(events=[(("delay", 1.0), [(0, 1)])])
    with pytest.raises(ValueError, match="event 0: assigns negative count"):
        birth_death(events=[time_event(1, [(0, -2)])])
    net = birth_death()
    with pytest.raises(ValueError, match=r"t_out\[2\]: output times must be sorted"):
        run_ensemble(net, [0.0, 2.0, 1.0], 2, 1)
    with pytest.raises(ValueError, match=r"t_out\[0\] = -1.0"):
        run_ensemble(net, [-1.0, 2.0], 2, 1)
    with pytest.raises(ValueError, match="method 'gillespie'"):
        run_ensemble(net, [0.0, 1.0], 2, 1, method="gillespie")
    with pytest.raises(ValueError, match=r"species\[0\] = 3 out of range"):
        run_ensemble(net, [0.0, 1.0], 2, 1, species=[3])


NEGATIVE_LAW = """
def law(j, t, x, p):
    return -1.0 if x[0] > 3 else 1.0
"""

CONSUMING_LAW = """
def law(j, t, x, p):
    return 1.0
"""


def test_runtime_errors_name_the_culprit(tmp_path):
    t = np.array([0.0, 100.0])
    neg = compile_law(NEGATIVE_LAW, tmp_path)
    net = network_from_reactions([0], [[]], [[0]], [1.0], law=neg, law_reactions=[True],
                                 law_species=[[0]])
    with pytest.raises(SimulationError, match=r"reaction 0: propensity -1.0 is not finite"):
        run_ensemble(net, t, 3, 1, "direct")
    # a law with a positive propensity while its consumed species is exhausted
    eat = compile_law(CONSUMING_LAW, tmp_path)
    net = network_from_reactions([2, 0], [[0]], [[1]], [1.0], law=eat, law_reactions=[True],
                                 law_species=[[]])
    with pytest.raises(SimulationError, match="reaction 0: firing made species 0 negative"):
        run_ensemble(net, t, 3, 1, "tree")
    with pytest.raises(ValueError, match="reaction 0: tau-leaping .* general kinetic law"):
        run_ensemble(net, t, 3, 1, "tau")
    ev = birth_death(events=[time_event(1.0, [(0, "+=", -10 ** 6)])])
    with pytest.raises(SimulationError, match="event 0: assignment made species 0 negative"):
        run_ensemble(ev, t, 3, 1, "direct")
    loop = network_from_reactions([0], [[0]], [[]], [0.0], events=[
        time_event(1.0, [(0, 10)]), species_event(0, ">", 5, [(0, 0)]),
        species_event(0, "<", 1, [(0, 10)])])
    with pytest.raises(SimulationError, match="events keep re-triggering"):
        run_ensemble(loop, t, 1, 1, "direct")
    with pytest.raises(SimulationError, match="max_events = 50"):
        run_ensemble(birth_death(), t, 2, 1, "direct", max_events=50)


def test_law_must_be_a_cfunc(tmp_path):
    from numba import njit

    @njit
    def law(j, t, x, p):
        return 1.0

    with pytest.raises(TypeError, match="numba.cfunc"):
        network_from_reactions([1], [[0]], [[]], [1.0], law=law, law_reactions=[True])
    with pytest.raises(TypeError, match="no law was given"):
        network_from_reactions([1], [[0]], [[]], [1.0], law_reactions=[True])
    src = CONSUMING_LAW + f"# {tmp_path.name}\n"  # a new source: a new module and hash
    a = compile_law(src, tmp_path)
    assert compile_law(src, tmp_path) is a
    assert a._sig == LAW_SIGNATURE
    assert len(list(tmp_path.glob("il2sbml_law_*.py"))) == 1


def test_compiled_law_is_cached_across_processes(tmp_path):
    """A second process loads the generated law from Numba's cache (no recompilation)."""
    import subprocess

    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from kernels import compile_law, network_from_reactions, simulate\n"
        f"law = compile_law({LAW_00034!r}, {str(tmp_path)!r})\n"
        "net = network_from_reactions([0], [[], [0]], [[0], []], [0.0, 0.01], law=law,\n"
        "    law_reactions=[True, False], law_species=[[0], None], params=[0.001])\n"
        "print(law.cache_hits, simulate(net, np.array([50.0]), 1)[0, 0])\n"
    )
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert outs[0][0] == "0" and outs[1][0] == "1"  # compiled, then loaded from the cache
    assert outs[0][1] == outs[1][1]  # same seed, same trajectory
    assert len(list(tmp_path.glob("il2sbml_law_*.py"))) == 1


# --------------------------------------------------------------------------------------------
# RNG and exact statistics
# --------------------------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def _mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def test_rng_matches_reference_xoshiro256plus():
    g = 0x9E3779B97F4A7C15
    h = _mix(_mix((123 + g) & _M64) ^ 45)
    s = []
    for _ in range(4):
        h = (h + g) & _M64
        s.append(_mix(h))
    state = np.zeros(4, np.uint64)
    seed_stream(np.uint64(123), np.int64(45), state)
    assert [int(v) for v in state] == s
    for _ in range(100):
        want = (s[0] + s[3]) & _M64
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & _M64
        assert int(next_u64(state)) == want


@numba.njit
def _exponentials(n, state):
    out = np.empty(n)
    for k in range(n):
        out[k] = exponential(state)
    return out


def test_exponential_is_exponential():
    """The ziggurat's draws: Kolmogorov-Smirnov against Exp(1), moments, and the tail beyond
    the base layer's edge R = 7.697 (drawn by its own branch) at its exact probability."""
    from scipy import stats

    state = np.zeros(4, np.uint64)
    seed_stream(np.uint64(2026), np.int64(7), state)
    n = 2_000_000
    x = _exponentials(n, state)
    assert x.min() >= 0.0
    assert stats.kstest(x, "expon").pvalue > 1e-3
    assert abs(x.mean() - 1.0) < 5 / math.sqrt(n)
    assert abs(x.var() - 1.0) < 5 * math.sqrt(8 / n)
    for c in (0.05, 1.0, 4.0, _R, 10.0):
        p = math.exp(-c)
        assert abs((x > c).mean() - p) < 5 * math.sqrt(p * (1 - p) / n) + 1e-7
    # beyond R (its own branch, 0.045% of draws), memoryless: the excess over R is Exp(1)
    excess = _tail_excess(20_000_000, state)
    assert abs(len(excess) / 20_000_000 - math.exp(-_R)) < 5 * math.sqrt(math.exp(-_R) / 2e7)
    assert stats.kstest(excess, "expon").pvalue > 1e-3
    assert abs(excess.mean() - 1.0) < 5 / math.sqrt(len(excess))


_R = 7.69711747013104972


@numba.njit
def _tail_excess(n, state):
    out = []
    for _ in range(n):
        v = exponential(state)
        if v > _R:
            out.append(v - _R)
    return np.array(out)


@pytest.mark.parametrize("lam", [0.3, 4.0, 9.99, 10.0, 37.5, 2.0e4])
def test_poisson_moments(lam):
    state = np.zeros(4, np.uint64)
    seed_stream(np.uint64(9), np.int64(int(lam * 100)), state)
    n = 40_000
    x = np.array([poisson(lam, state) for _ in range(n)], dtype=float)
    assert abs(x.mean() - lam) < 5 * math.sqrt(lam / n)
    assert abs(x.var() / lam - 1) < 5 * math.sqrt(2 / n) + 0.01


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2 ** 63 - 1), min_size=1, max_size=40))
def test_exact_128bit_sums(values):
    out = np.array(values, np.int64).reshape(-1, 1, 1)
    s1 = np.zeros((1, 1, 2), np.uint64)
    s2 = np.zeros_like(s1)
    accumulate_sums(out, s1, s2)
    assert int(s1[0, 0, 1]) * 2 ** 64 + int(s1[0, 0, 0]) == sum(values)
    assert int(s2[0, 0, 1]) * 2 ** 64 + int(s2[0, 0, 0]) == sum(v * v for v in values)
    mean, sd = exact_moments(s1, s2, len(values))
    assert mean[0, 0] == sum(values) / len(values)
    if len(values) > 1:
        import statistics

        assert sd[0, 0] == pytest.approx(float(statistics.stdev(values)), rel=1e-12)
