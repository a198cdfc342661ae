"""Kernels: time-dependent propensities (the integral method), species defined by rules,
events that set parameters or compute their values, and triggers of any condition.

Every stochastic check compares with an exact distribution: a birth process of intensity
lambda(t) has N(t) ~ Poisson(integral_0^t lambda), and immigration at rate lambda(t) with
first-order death mu keeps X(t) Poisson with mean m' = lambda(t) - mu m (both standard: the
counts of an inhomogeneous Poisson process; the immigration-death process started empty stays
Poisson). Pass criterion: the DSMTS one (Z in (-3, 3) for the mean, Y in (-5, 5) for the
variance about the known mean, at most one failure per variable), n = 10,000 runs.
"""

import math

import numpy as np
import pytest

from kernels import (
    SimulationError,
    compile_law,
    network_from_reactions,
    run_ensemble,
    time_event,
)
from kernels.events import law_event

N = 10_000
T = np.arange(0.0, 11.0)


def failures(res, mean, var, q=0):
    """(Z failures, Y failures) of column q against exact mean and variance per time."""
    zf = yf = 0
    for k in range(res.t.shape[0]):
        mu, v = mean[k], var[k]
        if v == 0:
            assert res.mean[k, q] == mu and res.sd[k, q] == 0
            continue
        m, sd = res.mean[k, q], res.sd[k, q]
        z = math.sqrt(N) * (m - mu) / math.sqrt(v)
        s2 = ((N - 1) * sd ** 2 + N * (m - mu) ** 2) / N
        y = math.sqrt(N / 2) * (s2 / v - 1)
        zf += not -3 < z < 3
        yf += not -5 < y < 5
    return zf, yf


LINEAR = """
def law(j, t, x, p):
    if j == 0:
        return p[0] + p[1] * t
    if j == 1:
        return p[2] * (1.0 + math.sin(t))
    return 0.0
"""


@pytest.fixture(scope="module")
def laws(tmp_path_factory):
    return tmp_path_factory.mktemp("laws")


@pytest.mark.parametrize("method", ["direct", "tree"])
def test_birth_with_time_dependent_intensity_is_poisson(laws, method):
    # births at a + b t plus births at c (1 + sin t): N(t) ~ Poisson(a t + b t^2/2 + c (t + 1 - cos t))
    a, b, c = 3.0, 2.0, 4.0
    law = compile_law(LINEAR, laws)
    net = network_from_reactions([0], [[], []], [[0], [0]], [0.0, 0.0], law=law,
                                 law_reactions=[True, True], law_species=[[], []],
                                 params=[a, b, c], time_reactions=[0, 1])
    res = run_ensemble(net, T, N, seed=11, method=method)
    lam = a * T + b * T ** 2 / 2 + c * (T + 1 - np.cos(T))
    zf, yf = failures(res, lam, lam)
    assert zf <= 1 and yf <= 1, (zf, yf, res.mean[:, 0], lam)


IMMIGRATION = """
def law(j, t, x, p):
    if j == 0:
        return p[0] + p[1] * t
    return 0.0
"""


def test_time_dependent_immigration_with_death_is_poisson(laws):
    # 0 -> X at a + b t (a law of time), X -> 0 at mu X (mass action): both kinds of propensity
    a, b, mu = 20.0, 5.0, 0.5
    law = compile_law(IMMIGRATION, laws)
    net = network_from_reactions([0], [[], [0]], [[0], []], [0.0, mu], law=law,
                                 law_reactions=[True, False], law_species=[[], None],
                                 params=[a, b], time_reactions=[0])
    res = run_ensemble(net, T, N, seed=5)
    e = np.exp(-mu * T)
    m = a / mu * (1 - e) + b * (T / mu - (1 - e) / mu ** 2)
    zf, yf = failures(res, m, m)
    assert zf <= 1 and yf <= 1, (zf, yf)
    # a seed fixes every trajectory whatever the threads or chunks
    one = run_ensemble(net, T, 64, seed=9, n_threads=1, chunk_size=7, keep_trajectories=True)
    two = run_ensemble(net, T, 64, seed=9, n_threads=2, chunk_size=64, keep_trajectories=True)
    assert np.array_equal(one.trajectories, two.trajectories)


DOUBLING = """
def law(j, t, x, p):
    if j == 0:
        return p[0] + p[1] * t
    if j == 1:
        return 2.0 * p[0]
    return 0.0
"""


def test_time_dependent_rate_with_time_event(laws):
    # a time event at t = 4 doubles the births' parameter a (the law reads p[0]):
    # Lambda(t) = a t + b t^2/2 for t < 4, then + a (t - 4) more
    a, b = 3.0, 1.0
    law = compile_law(DOUBLING, laws)
    net = network_from_reactions([0], [[]], [[0]], [0.0], law=law, law_reactions=[True],
                                 law_species=[[]], params=[a, b], time_reactions=[0],
                                 events=[time_event(4.0, [(0, "param=law", 1)])])
    res = run_ensemble(net, T, N, seed=3)
    lam = a * T + b * T ** 2 / 2 + np.where(T > 4, a * (T - 4), 0.0)
    zf, yf = failures(res, lam, lam)
    assert zf <= 1 and yf <= 1, (zf, yf)


def test_time_laws_refused_by_tau_leaping(laws):
    law = compile_law(IMMIGRATION, laws)
    net = network_from_reactions([0], [[]], [[0]], [0.0], law=law, law_reactions=[True],
                                 law_species=[[]], params=[1.0, 1.0], time_reactions=[0])
    with pytest.raises(ValueError, match="tau-leaping"):
        run_ensemble(net, T, 2, 1, "tau")
    with pytest.raises(ValueError, match="time_reactions: reaction 0 is not a law reaction"):
        network_from_reactions([0], [[]], [[0]], [1.0], time_reactions=[0])


RULES = """
def law(j, t, x, p):
    if j == 2:
        return 2.0 * x[0]
    if j == 3:
        return 0.5 * x[0]
    if j == 4:
        return 1.0 if x[0] >= 50 else 0.0
    if j == 5:
        return 0.0
    if j == 6:
        return x[0] + 0.5
    if j == 0:
        return p[0]
    return 0.0
"""


def test_rule_species_recorded_from_their_rule(laws):
    # X births (law p[0]) and deaths; y = 2 X defined by a rule (DSMTS 00019's form)
    law = compile_law(RULES, laws)
    net = network_from_reactions([100, 0], [[], [0]], [[0], []], [0.0, 0.11], law=law,
                                 law_reactions=[True, False], law_species=[[], None],
                                 params=[10.0], rule_species=[1], rule_law=[2])
    res = run_ensemble(net, T, 200, seed=1, keep_trajectories=True)
    x, y = res.trajectories[:, :, 0], res.trajectories[:, :, 1]
    assert np.array_equal(y, 2 * x) and x.min() >= 0
    half = network_from_reactions([101, 0], [[], [0]], [[0], []], [0.0, 0.11], law=law,
                                  law_reactions=[True, False], law_species=[[], None],
                                  params=[10.0], rule_species=[1], rule_law=[3])
    with pytest.raises(SimulationError, match=r"species 1 \(defined by an assignment rule\) has "
                                              r"the value 50.5, not a whole number"):
        run_ensemble(half, T, 2, 1)
    with pytest.raises(ValueError, match="rule species 0 is changed by a reaction"):
        network_from_reactions([0], [[]], [[0]], [1.0], law=law, rule_species=[0], rule_law=[2])


def test_law_trigger_and_parameter_assignment(laws):
    # births at p[0] until X >= 50, when an event sets p[0] = law 5 = 0: every run stops at 50
    law = compile_law(RULES, laws)
    net = network_from_reactions([0], [[]], [[0]], [0.0], law=law, law_reactions=[True],
                                 law_species=[[]], params=[20.0],
                                 events=[law_event(4, [(0, "param=law", 5)])])
    res = run_ensemble(net, T, 100, seed=2, keep_trajectories=True)
    assert (res.trajectories[:, -1, 0] == 50).all()
    # a species set from a law value: X = X + 0.5 is not a count
    bad = network_from_reactions([0], [[]], [[0]], [0.0], law=law, law_reactions=[True],
                                 law_species=[[]], params=[20.0],
                                 events=[law_event(4, [(0, "=law", 6)])])
    with pytest.raises(SimulationError, match=r"event 0 assigns 50.5 to species 0, not a whole"):
        run_ensemble(bad, T, 2, 1)
    with pytest.raises(ValueError, match="event 0: assigns parameter 3, out of range"):
        network_from_reactions([0], [[]], [[0]], [0.0], law=law, law_reactions=[True],
                               params=[1.0], events=[law_event(4, [(3, "param=law", 5)])])
    with pytest.raises(ValueError, match="rules or events use law values but no law"):
        network_from_reactions([0], [[]], [[0]], [1.0], events=[law_event(4, [(0, 1)])])
