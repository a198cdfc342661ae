"""In-silico experiments on the IL-2 model (``model_src/il2.py``) that scripts and the report run.

* :func:`binding_assay`: equilibrium IL-2 binding to a cell with chosen chain numbers, with
  signalling and trafficking switched off (``k_jak_act``, ``k_int_free``, ``k_int_bound`` = 0)
  and cells dilute enough (1,000 per mL) that binding does not deplete the medium; the bound
  IL-2 against the *free* IL-2 concentration at equilibrium is fitted to a one-site hyperbola,
  which gives the apparent Kd of a Scatchard experiment.
* :func:`dose_response`: a readout at a fixed time after adding IL-2, across doses, with a
  4-parameter Hill fit.
* :func:`coculture_uptake`: populations sharing the medium against each alone.

Units: doses and free IL-2 in pM, time in s, readouts in molecules per cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lang.units import AVOGADRO
from ..simulate.ode import BindingFit, HillFit, Simulator, fit_binding, fit_hill

SWITCHES_OFF = {"k_jak_act": 0.0, "k_int_free": 0.0, "k_int_bound": 0.0}
ASSAY_CELLS_PER_ML = 1e3

ASSAY_CELLS = {
    # name: (CD25, CD122, CD132 per cell, readout, seed-table Kd in pM, doses in pM)
    "alpha": ((1e4, 0.0, 0.0), "IL2_bound_surface", 1e4, np.logspace(1, 6, 21)),
    "beta_gamma": ((0.0, 1e3, 1e4), "IL2_bound_surface", 1e3, np.logspace(0, 5, 21)),
    "alpha_beta_gamma": ((1e4, 1e3, 1e4), "IL2_high_affinity", 10.0, np.logspace(-2, 3, 21)),
}
"""The seed table's three receptor classes, each chain in excess of the one that sets the number
of sites: IL-2Ralpha alone (low affinity, ~10 nM), IL-2Rbeta with gamma-c in excess
(intermediate, ~1 nM), IL-2Rbeta with alpha and gamma-c in excess (high affinity, ~10 pM)."""


def _pM(molecules_per_cell: float, cells_per_mL: float) -> float:
    """Molecules per cell in the medium (1/cells_per_mL mL per cell) as a concentration in pM."""
    return molecules_per_cell * cells_per_mL / 1e-3 / AVOGADRO * 1e12


@dataclass(frozen=True)
class BindingAssay:
    cell: str
    dose_pM: np.ndarray       # IL-2 added
    free_pM: np.ndarray       # free IL-2 at equilibrium
    bound: np.ndarray         # readout, molecules per cell
    readout: str
    fit: BindingFit           # kd in pM
    expected_kd_pM: float


def binding_assay(sim: Simulator, cell: str) -> BindingAssay:
    """Equilibrium binding on one of :data:`ASSAY_CELLS` (signalling and trafficking off)."""
    (cd25, cd122, cd132), readout, expected, doses = ASSAY_CELLS[cell]
    common = dict(SWITCHES_OFF, cells_per_mL=ASSAY_CELLS_PER_ML, CD25_per_cell=cd25,
                  CD122_per_cell=cd122, CD132_per_cell=cd132)
    bound, free = [], []
    for dose in doses:
        state = sim.steady_state(IL2_pM=float(dose), **common)
        bound.append(state[readout])
        free.append(_pM(state["IL2_free"], ASSAY_CELLS_PER_ML))
    bound, free = np.array(bound), np.array(free)
    return BindingAssay(cell, doses, free, bound, readout, fit_binding(free, bound), expected)


@dataclass(frozen=True)
class DoseResponse:
    label: str
    dose_pM: np.ndarray
    time_s: float
    values: dict           # readout -> molecules per cell
    fits: dict             # readout -> HillFit | None (None: no sigmoid could be fitted)
    fit_errors: dict       # readout -> why not


def dose_response(sim: Simulator, doses_pM, readouts, time_s: float, label: str = "", **params) -> DoseResponse:
    """Readouts ``time_s`` seconds after adding IL-2 at each dose, with Hill fits where they hold."""
    from ..lang.errors import Il2sbmlError

    res = sim.dose_response("IL2_pM", doses_pM, list(readouts), time=time_s, **params)
    values = {r: np.asarray(res[r]) for r in readouts}
    fits, errors = {}, {}
    for r, v in values.items():
        try:
            fits[r] = fit_hill(np.asarray(doses_pM, float), v)
        except Il2sbmlError as exc:
            fits[r], errors[r] = None, str(exc)
    return DoseResponse(label, np.asarray(doses_pM, float), time_s, values, fits, errors)


def ec50(resp: DoseResponse, readout: str) -> float:
    """EC50 in pM of a fitted rising response, NaN when there is none."""
    fit: HillFit | None = resp.fits.get(readout)
    if fit is None or not fit.top > fit.bottom:
        return float("nan")
    return float(fit.ec50)


@dataclass(frozen=True)
class CocultureResult:
    """Effector cells with and without Tregs, across doses (per cell of each population)."""

    treg: str
    effector: str
    treg_fraction: float
    cells_per_mL: float               # all cells of the co-culture; effectors alone at (1 - f) of it
    time_s: float
    dose_pM: np.ndarray
    effector_alone: np.ndarray        # pSTAT5 per effector cell, effectors alone
    effector_with_treg: np.ndarray    # pSTAT5 per effector cell, with the Tregs
    treg_with_effector: np.ndarray    # pSTAT5 per Treg
    treg_uptake_share: np.ndarray     # share of the IL-2 taken up (bound + internalised) by the Tregs
    IL2_free_fraction: np.ndarray     # free IL-2 left in the co-culture, fraction of the dose


def coculture_experiment(model, doses_pM, *, treg: str = "Treg", effector: str = "CD4_memory",
                         treg_fraction: float = 0.5, cells_per_mL: float = 1e7,
                         time_s: float = 4 * 3600.0, readout: str = "pSTAT5") -> CocultureResult:
    """Tregs and effectors sharing the medium, against the same effectors alone.

    Defaults: a 1:1 co-culture at 1e7 cells/mL for 4 h, where IL-2 at low doses is limiting
    (1 pM is 60 molecules per cell). The effectors-alone culture has the same effector density,
    ``(1 - treg_fraction) * cells_per_mL``, so the difference is the Tregs' doing.
    """
    from ..formats.sbml import write_sbml
    from ..generate.netgen import generate_network
    from .coculture import coculture

    fractions = {treg: treg_fraction, effector: 1.0 - treg_fraction}
    co = Simulator(write_sbml(generate_network(coculture(model, fractions))))
    alone = Simulator(write_sbml(generate_network(model.with_parameter_set(effector))))
    doses = np.asarray(doses_pM, float)
    eff_alone, eff_co, treg_co, share, free = [], [], [], [], []
    uptake = [f"IL2_bound_surface_{p}" for p in (treg, effector)] + [f"IL2_internal_{p}" for p in (treg, effector)]
    for dose in doses:
        # the dose is a concentration: the same in both cultures; only the cell densities differ
        a = alone.time_course(time_s, 2, [readout], IL2_pM=dose, cells_per_mL=(1 - treg_fraction) * cells_per_mL)
        c = co.time_course(time_s, 2, [f"{readout}_{treg}", f"{readout}_{effector}", "IL2_free"] + uptake,
                           IL2_pM=dose, cells_per_mL=cells_per_mL)
        eff_alone.append(a[readout][-1])
        eff_co.append(c[f"{readout}_{effector}"][-1])
        treg_co.append(c[f"{readout}_{treg}"][-1])
        taken = {p: fractions[p] * (c[f"IL2_bound_surface_{p}"][-1] + c[f"IL2_internal_{p}"][-1]) for p in fractions}
        share.append(taken[treg] / (taken[treg] + taken[effector]))
        free.append(_pM(c["IL2_free"][-1], cells_per_mL) / dose)
    return CocultureResult(treg, effector, treg_fraction, cells_per_mL, time_s, doses, np.array(eff_alone),
                           np.array(eff_co), np.array(treg_co), np.array(share), np.array(free))
