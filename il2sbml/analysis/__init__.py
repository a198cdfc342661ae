"""Analyses: what the users ask of the IL-2 model — builds per cell type
(:mod:`~il2sbml.analysis.build`), in-silico assays (:mod:`~il2sbml.analysis.assays`),
co-culture (:mod:`~il2sbml.analysis.coculture`), calibration on measured data
(:mod:`~il2sbml.analysis.calibrate`) and its held-out validation
(:mod:`~il2sbml.analysis.heldout`), figures (:mod:`~il2sbml.analysis.plots`) and the HTML
report (:mod:`~il2sbml.analysis.report`).

Takes model paths, Models and measured data; gives files, tables, figures and reports. Imports
every stage below it; nothing but the CLI imports it.
"""
