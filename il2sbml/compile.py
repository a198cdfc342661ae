"""The bridge from a frozen :class:`~il2sbml.network.Network` to the Numba kernels' arrays.

This is the only place where ``il2sbml`` meets ``kernels``: the kernels take NumPy arrays
and never import ``il2sbml``.

Networks generated from rules (DSL or BNGL) are mass action on amounts: reaction *j* has the
deterministic rate constant ``c_j = Network.rate_value(j)`` (statistical factor, unit and
volume factors included) and the SSA propensity ``c_j * prod(falling factorials)``, e.g.
``c * x*(x-1)`` for ``A + A`` whose 0.5 symmetry factor is already in ``c`` -- the kernels'
convention exactly.

Networks read from SBML use the SBML stochastic semantics (the kinetic law evaluated on
amounts is the propensity): first-order-per-species mass action is compiled; laws with a
squared species or general math are refused by name until the generated-law path lands.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import NotSupportedError
from .network import Network


def compile_network(net: Network, *, round_initial: bool = False):
    """Kernel arrays (``kernels.NetworkArrays``) for ``net``; refuses what it cannot run exactly.

    Initial amounts must be whole numbers of molecules; ``round_initial=True`` rounds amounts
    derived from concentrations (e.g. 10 pM in 1 nL is 6022.14 molecules) to the nearest one.
    """
    import kernels

    x0 = []
    for s, amount in zip(net.species, net.initial_amounts()):
        if not math.isfinite(amount) or amount < 0:
            raise NotSupportedError(f"species {s.label!r} starts at {amount!r} molecules; counts must be "
                                    "finite and non-negative")
        if not round_initial and abs(amount - round(amount)) > 1e-9 * max(1.0, abs(amount)):
            raise NotSupportedError(f"species {s.label!r} starts at {amount!r} molecules, not a whole number; "
                                    "the SSA counts molecules (round it in the model, or compile with round_initial=True)")
        x0.append(int(round(amount)))
    rates = np.zeros(len(net.reactions))
    for j, r in enumerate(net.reactions):
        name = r.sbml_id or r.rule
        if r.functional:
            raise NotSupportedError(f"reaction {j + 1} ({name}) has a functional rate ({r.rate.text}); the SSA "
                                    "kernels run mass action only so far")
        if r.law is not None:
            if not r.mass_action:
                raise NotSupportedError(f"reaction {name} has a general kinetic law ({r.law.text}); compiling "
                                        "general laws for the SSA is not supported yet")
            if any(r.reactants.count(i) > 1 for i in set(r.reactants)):
                raise NotSupportedError(f"reaction {name}: SBML's stochastic semantics take the law "
                                        f"{r.law.text} as the propensity (a power, not a falling factorial); "
                                        "not supported yet")
        rates[j] = net.rate_value(j)
    fixed = [s.index for s in net.species if s.fixed]
    return kernels.network_from_reactions(np.array(x0, dtype=np.int64), [list(r.reactants) for r in net.reactions],
                                          [list(r.products) for r in net.reactions], rates, fixed_species=fixed)
