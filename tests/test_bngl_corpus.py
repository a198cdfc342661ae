"""RuleHub BNGL corpus: il2sbml gives BNG2.pl's species and reaction counts, or refuses by name.

For every corpus file for which BNG2.pl generated a network (``tests/corpus/bng_counts.json``:
BNG2.pl 2.9.3's counts, the reference that ``benchmarks/bngl_corpus.py --reuse-bng`` uses;
BNG2.pl itself is not run here), ``read_bngl`` + ``generate_network`` in this process must

* give exactly BNG2.pl's numbers of species and reactions, or
* refuse with an :class:`~il2sbml.lang.errors.Il2sbmlError` whose message starts with
  ``FILE:LINE:`` and says what is not supported; never another exception, a size or time
  limit, or different counts;

and every file that the committed table ``docs/bngl_corpus.md`` records as ``same`` must still
give the same counts (a new refusal fails here until the table is regenerated with
``python benchmarks/bngl_corpus.py --reuse-bng``).

The files: all of them (377 in the 2026-12-03 run) except ``SLOW`` below, ~35 s on a loaded
2-core machine; each file left out is covered by the full benchmark run. Files BNG2.pl could
not generate (failed or timed out) have no reference and are not tested here.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import pytest

from il2sbml.formats.bngl import read_bngl
from il2sbml.generate.netgen import generate_network
from il2sbml.lang.errors import Il2sbmlError, NetworkLimitError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "rulehub"
COUNTS = ROOT / "tests" / "corpus" / "bng_counts.json"
TABLE = ROOT / "docs" / "bngl_corpus.md"

# left out for time only (each 5-10 s here); the benchmark covers them
SLOW = {
    "Published/Zhang2021/Zhang_2021.bngl",  # 150 species but ~10 s of rule matching
    # three of the four parameter fits of one FceRI-gamma2 model (3,744 species, 58,276
    # reactions, ~5 s each); the fourth, fit_pso/fceri_gamma2_iter14p202.bngl, is tested
    "Published/Mitra2019/03-fcerig/fit_ss/fceri_gamma2_iter13p6h8.bngl",
    "Published/Mitra2019/03-fcerig/fit_de/fceri_gamma2_gen20ind45.bngl",
    "Published/Mitra2019/03-fcerig/fit_ade/fceri_gamma2_gen34ind244.bngl",
}


def _need(path: Path) -> None:
    if path.exists():
        return
    message = f"{path} is missing (see tests/corpus/README.md)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _reference() -> dict:
    if not COUNTS.exists() or not CORPUS.is_dir():
        return {}
    files = json.loads(COUNTS.read_text(encoding="utf-8"))["files"]
    return {m: r for m, r in files.items() if r["bng_status"] == "ok" and m not in SLOW}


def _table_outcomes() -> dict[str, str]:
    """model -> outcome column of the committed corpus table."""
    out = {}
    if TABLE.exists():
        for line in TABLE.read_text(encoding="utf-8").splitlines():
            if line.startswith("| `"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
                out[cells[0].strip("`")] = cells[5]
    return out


REFERENCE = _reference()
OUTCOMES = _table_outcomes()


def test_reference_and_table_are_there():
    _need(COUNTS)
    _need(CORPUS)
    _need(TABLE)
    data = json.loads(COUNTS.read_text(encoding="utf-8"))
    assert data["bng_version"] and data["corpus_commit"] in (CORPUS.parent / "README.md").read_text(encoding="utf-8")
    assert len(REFERENCE) > 300  # the files BNG2.pl generated, less SLOW
    assert set(REFERENCE) <= set(OUTCOMES), "the table misses files: regenerate it"
    assert all((CORPUS / m).exists() for m in SLOW)


@pytest.mark.parametrize("model", sorted(REFERENCE) or ["(no reference)"])
def test_same_counts_as_bionetgen_or_refused_by_name(model):
    _need(COUNTS)
    _need(CORPUS)
    ref = REFERENCE[model]
    path = CORPUS / model
    want = (ref["bng_species"], ref["bng_reactions"])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # what BNG2.pl also accepts with a warning
            net = generate_network(read_bngl(path), timeout=120)
    except NetworkLimitError as exc:
        pytest.fail(f"{model}: BNG2.pl made {want[0]} species / {want[1]} reactions; il2sbml hit a limit: {exc}")
    except Il2sbmlError as exc:
        msg = str(exc)
        assert re.match(rf"{re.escape(str(path))}:\d+: \S", msg), f"refusal without FILE:LINE: {msg}"
        assert OUTCOMES.get(model) != "same", f"{model}: the table says 'same' ({want}), now refused: {msg}"
        return
    got = (len(net.species), len(net.reactions))
    assert got == want, f"{model}: il2sbml {got[0]} species / {got[1]} reactions, BNG2.pl {want[0]} / {want[1]}"


# every 20th file the table records as `same` (sorted): ~17 models, a few seconds; the whole
# corpus is checked by benchmarks/bngl_corpus_sbml.py (docs/bngl_corpus_sbml.md)
SBML_SAMPLE = sorted(m for m in REFERENCE if OUTCOMES.get(m) == "same")[::20]


@pytest.mark.parametrize("model", SBML_SAMPLE or ["(no reference)"])
def test_sbml_of_corpus_models_passes_every_libsbml_check(model):
    """Dimension-free BNGL is written with dimensionless units that pass libSBML's unit checks:
    zero errors and zero warnings on the SBML of a matching corpus model."""
    from il2sbml.formats.sbml import validate_sbml, write_sbml

    _need(COUNTS)
    _need(CORPUS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = generate_network(read_bngl(CORPUS / model), timeout=120)
    assert validate_sbml(write_sbml(net)) == [], model
