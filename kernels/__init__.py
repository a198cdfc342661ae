"""Numba stochastic-simulation kernels (pure numerics: NumPy arrays in, NumPy arrays out).

This package never imports ``il2sbml``; ``il2sbml.compile`` turns a network into the arrays
these kernels take. The kernels themselves arrive with the SSA issue.
"""
