"""Engineered IL-2: every measured variant, and how its affinities enter the IL-2 model.

The table is ``data/variants/WTmutAffData.csv`` (gcSolver.jl at b074e92c; provenance, units
and what each column measures in ``data/PROVENANCE.md``): for each IL-2/Fc fusion, its Kd for
the IL-2Rα ectodomain and for the pre-assembled IL-2Rβ/γc Fc heterodimer, both in nM, by
biolayer interferometry (Octet). A variant's name is the table's, with every run of characters
other than letters and digits replaced by ``_`` (``WT N-term`` -> ``WT_N_term``); ``WT`` is
unfused wild-type IL-2 (the table's ``IL2`` row, literature values).

How a variant enters the model (assumptions, each with its reason):

* **Ratios to the wild-type fusion on the same terminus, not absolute values.** The Octet Kds
  of the wild-type fusions (IL-2Rα 0.19 / 0.54 nM, βγ 5.3 / 3.0 nM) differ from the cell-surface
  constants the model is built on (IL-2Rα 10 nM, the βγ receptor ~1 nM) by 5-50-fold in both
  directions: sensor-bound receptor and Fc fusion are another format. What one assay compares
  well is variants with each other, so a fused variant's constants are the model's wild-type
  constants times (variant Kd / wild-type fusion Kd), with the wild-type fusion of the same
  Fc terminus as reference (``R38Q/H16N``, whose values are R38Q N-term's and H16N N-term's,
  against WT N-term). The wild-type fusions themselves have the model's wild-type constants
  (the Fc changes no affinity; the fusion's valency is a separate property).
* **The IL-2Rα ratio scales ``Kd_a``** (IL-2 + IL-2Rα), the only constant of that interface.
* **The βγ ratio scales IL-2's affinity for IL-2Rβ**: ``Kd_b`` (IL-2 + IL-2Rβ from the medium)
  and ``K2_b_La`` (IL-2Rβ joining IL-2·α in the membrane), leaving γc recruitment as it is.
  Reason: every βγ-changing mutation measured here (H16N, N88D, V91K) sits on IL-2's IL-2Rβ
  face (Wang, Rickert & Garcia, Science 2005, the quaternary complex), and with γc unchanged
  the heterodimer's Kd moves by the same factor as the β step in a sequential binding scheme.
* ``IL15`` is not an IL-2 variant (it needs IL-15Rα, which the model lacks) and is refused by
  name.

Units: Kds in nM in the table; the factors returned are dimensionless multipliers of the model's
parameters (``Kd_a``, ``Kd_b`` in M; ``K2_b_La`` in molecule/um^2).
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass

TABLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "variants",
                     "WTmutAffData.csv")
CITATION = ("Octet Kds of IL-2/Fc fusions, Meyer lab (gcSolver.jl data/WTmutAffData.csv at b074e92c; methods: "
            "gc-cytokines Manuscript/Text/04_Methods.md, 'Octet binding assays'); data/PROVENANCE.md")
NOT_OCTET = {
    "IL2": "unfused wild-type IL-2: the literature values the lab used (10 nM, 0.133 nM), not an Octet measurement",
    "R38Q/H16N": "R38Q N-term's IL-2Ralpha Kd with H16N N-term's beta/gamma Kd: a combination of two "
                 "measurements, not a measurement of the double mutant",
}
REFUSED = {"IL15": "IL-15 is not an IL-2 variant: it binds IL-15Ralpha, which the model does not have"}


class VariantError(ValueError):
    """A variant the table lacks, or a table row that cannot be used; says which and what to do."""


def variant_name(label: str) -> str:
    """The CLI name of a table label: runs of non-alphanumerics become ``_`` (``WT N-term`` ->
    ``WT_N_term``); the unfused ``IL2`` row is ``WT``."""
    if label == "IL2":
        return "WT"
    return re.sub(r"[^A-Za-z0-9]+", "_", label).strip("_")


@dataclass(frozen=True)
class Variant:
    name: str              # as on the command line
    label: str             # as in the table
    kd_alpha_nM: float
    kd_betagamma_nM: float
    fusion: str | None     # "N" or "C" (which Fc terminus carries IL-2), None for unfused IL-2
    reference: str | None  # the wild-type fusion its ratios are taken against
    measured: str          # what the numbers are
    citation: str = CITATION

    def factors(self, table: dict[str, Variant]) -> dict[str, float]:
        """Multipliers of the model's wild-type binding constants (dimensionless)."""
        if self.reference is None:
            return {"Kd_a": 1.0, "Kd_b": 1.0, "K2_b_La": 1.0}
        ref = table[self.reference]
        fa = self.kd_alpha_nM / ref.kd_alpha_nM
        fbg = self.kd_betagamma_nM / ref.kd_betagamma_nM
        return {"Kd_a": fa, "Kd_b": fbg, "K2_b_La": fbg}


def _terminus(label: str) -> str | None:
    m = re.search(r"\b([NC])-term\b", label, flags=re.IGNORECASE)
    return m.group(1).upper() if m else None


def _kd(path: str, row: int, label: str, column: str, text: str | None) -> float:
    where = f"{path}:{row}: variant {label!r}, column {column}"
    if text is None or not text.strip():
        raise VariantError(f"{where}: missing Kd; give the measured value in nM")
    try:
        value = float(text)
    except ValueError:
        raise VariantError(f"{where}: {text!r} is not a number; give the Kd in nM") from None
    if not math.isfinite(value) or value <= 0:
        raise VariantError(f"{where}: Kd {text!r} must be a positive number of nM")
    return value


def read_table(path: str = TABLE) -> dict[str, Variant]:
    """Every usable variant of the affinity table, by CLI name (``IL15`` left out: refused)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"Mutein", "IL2RaKD", "IL2RBGKD"} - set(reader.fieldnames or ())
        if missing:
            raise VariantError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected Mutein, "
                               "IL2RaKD, IL2RBGKD (nM)")
        rows = [(i, r) for i, r in enumerate(reader, start=2)]
    out: dict[str, Variant] = {}
    for i, r in rows:
        label = (r["Mutein"] or "").strip()
        if label in REFUSED:
            continue
        ka = _kd(path, i, label, "IL2RaKD", r["IL2RaKD"])
        kbg = _kd(path, i, label, "IL2RBGKD", r["IL2RBGKD"])
        fusion = _terminus(label) or ("N" if label in NOT_OCTET and label != "IL2" else None)
        name = variant_name(label)
        is_wt_fusion = name.startswith("WT_")
        reference = None if label == "IL2" or is_wt_fusion else f"WT_{fusion}_term"
        measured = NOT_OCTET.get(label, "Octet, monomeric IL-2/Fc fusion against IL-2Ralpha and IL-2Rbeta/gamma-c")
        if name in out:
            raise VariantError(f"{path}:{i}: variant {label!r} appears twice (as {name!r})")
        out[name] = Variant(name, label, ka, kbg, fusion, reference, measured)
    for v in out.values():
        if v.reference is not None and v.reference not in out:
            raise VariantError(f"{path}: variant {v.label!r} needs the wild-type fusion {v.reference!r} as its "
                               "reference, which the table lacks")
    return out


def variant(name: str, path: str = TABLE) -> Variant:
    """One variant by its CLI name; an unknown or refused name is an error listing the known ones."""
    table = read_table(path)
    if name in table:
        return table[name]
    for label, why in REFUSED.items():
        if name == variant_name(label):
            raise VariantError(f"variant {name!r} is refused: {why}")
    raise VariantError(f"unknown variant {name!r}; known: {', '.join(sorted(table))} (from {path})")
