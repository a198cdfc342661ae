"""Files in and out: model files (DSL ``.py``, BNGL) in, SBML in and out, Antimony and COMBINE
archives out, the PEtab problem of the calibration out; every file written atomically.

Takes paths and Models or Networks; gives Models (:mod:`~il2sbml.formats.load`,
:mod:`~il2sbml.formats.bngl`), Networks (:mod:`~il2sbml.formats.sbmlread`) and files
(:mod:`~il2sbml.formats.sbml`, :mod:`~il2sbml.formats.export`,
:mod:`~il2sbml.formats.petab_problem`, :mod:`~il2sbml.formats.files`). Imports
:mod:`il2sbml.lang` and :mod:`il2sbml.generate`.
"""
