"""The modelling language: what a model *is*, before any network exists.

Takes Python calls (``Model``, ``m.molecule``, ``m.rule`` ...) or, through
:mod:`il2sbml.formats.bngl`, BNGL text; gives a checked :class:`~il2sbml.lang.dsl.Model` whose
rules are compiled (:mod:`il2sbml.lang.rules`) as they are declared. Also here: expressions
(:mod:`~il2sbml.lang.expr`), units (:mod:`~il2sbml.lang.units`), the molecule graphs and
canonical labels of species and patterns (:mod:`~il2sbml.lang.graph`), and the error classes
(:mod:`~il2sbml.lang.errors`). Imports nothing else of il2sbml.
"""
