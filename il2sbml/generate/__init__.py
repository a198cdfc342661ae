"""Network generation: a :class:`~il2sbml.lang.dsl.Model`'s rules expanded into reactions.

Takes a Model; gives a frozen :class:`~il2sbml.generate.network.Network` (species, reactions
with BioNetGen's statistical factors, observables, functions, units), which every writer and
simulator reads and none changes. Imports only :mod:`il2sbml.lang`.
"""
