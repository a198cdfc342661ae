"""Simulation: a frozen Network run deterministically (libRoadRunner, :mod:`~il2sbml.simulate.ode`)
or stochastically (the Numba kernels of ``kernels/``, through :mod:`~il2sbml.simulate.compile`),
one run or ensembles on threads, processes or a Dask cluster with a resumable store
(:mod:`~il2sbml.simulate.ensemble`).

Takes Networks, SBML text or model paths (:mod:`~il2sbml.simulate.select`) and output times;
gives trajectories, statistics and stores. Imports :mod:`il2sbml.lang`, :mod:`il2sbml.generate`,
:mod:`il2sbml.formats` and ``kernels``.
"""
