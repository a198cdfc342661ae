"""`il2sbml build FILE.bngl -o FILE.xml` on every corpus model whose network il2sbml generates
with BNG2.pl's counts: the SBML it writes must pass every libSBML consistency check, units
included (issue 14: dimension-free BNGL is written with dimensionless units that pass).

The files are the rows of ``docs/bngl_corpus.md`` (the table ``benchmarks/bngl_corpus.py``
writes) whose outcome is ``same``; each runs as ``il2sbml build FILE -o TMP/x.xml`` with the
file's own ``max_iter`` / ``max_agg`` and the same wall-clock limit as the corpus run. ``build``
validates what it writes (libSBML's full consistency checks with units) and prints
``SBML valid (N warning(s))``, or exits non-zero naming the first errors. Results go to
``docs/bngl_corpus_sbml.md`` (one row per file: errors, warnings, seconds, message).

    python benchmarks/bngl_corpus_sbml.py [--timeout 120] [--only SUBSTRING [--merge]] [--md docs/bngl_corpus_sbml.md]

``--only`` runs some files; with ``--merge`` the table keeps its other rows (e.g. to rerun the
largest networks with a longer ``--timeout``).

Standard library and subprocesses only, like ``bngl_corpus.py``, whose helpers it reuses.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bngl_corpus as bc  # noqa: E402

VALID_RE = re.compile(r"SBML valid \((\d+) warning\(s\)\)")


def same_rows(md: Path) -> list[str]:
    """Corpus-relative paths of the table's ``same`` rows."""
    out = []
    for line in md.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 7 and cells[6] == "same":
            out.append(cells[1].strip("`"))
    return out


def read_md(md: Path) -> list[dict]:
    """The rows of a table this script wrote."""
    out = []
    for line in md.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 7 and cells[1].startswith("`"):
            out.append({"model": cells[1].strip("`"), "status": cells[2],
                        "warnings": int(cells[3]) if cells[3] else None, "seconds": float(cells[4]),
                        "message": cells[5]})
    return out


def check(exe: list[str], path: Path, timeout: float) -> dict:
    text = path.read_text(encoding="utf-8", errors="replace")
    opts = bc.generate_network_options(bc.strip_actions(text)) if "generate_network" in text else {}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = exe + ["build", str(path), "-o", str(Path(tmp) / "model.xml"), "--timeout", f"{timeout:g}"]
        if "max_iter" in opts:
            cmd += ["--max-iter", str(int(float(opts["max_iter"])))]
        if "max_agg" in opts:
            cmd += ["--max-agg", str(int(float(opts["max_agg"])))]
        rc, out, err, secs = bc.run_limited(cmd, str(bc.ROOT), timeout + 15, bc.il2sbml_env())
    row = {"seconds": round(secs, 2), "status": "", "warnings": None, "message": ""}
    if rc is None:
        row.update(status="timeout", message=f"killed after {timeout + 15:g} s")
        return row
    found = VALID_RE.search(out + err)
    if rc == 0 and found:
        row.update(status="valid", warnings=int(found.group(1)))
        if row["warnings"]:
            row["message"] = next((ln for ln in (out + err).splitlines() if "warning" in ln.lower()
                                   and "SBML valid" not in ln), "")
        return row
    lines = [ln for ln in (err or out).splitlines() if ln.strip()]
    row.update(status="invalid" if rc == 0 or "SBML" in err else "error",
               message=(lines[-1] if lines else f"exit {rc}").replace(str(path), path.name))
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=bc.DEFAULT_CORPUS)
    p.add_argument("--table", type=Path, default=bc.ROOT / "docs" / "bngl_corpus.md")
    p.add_argument("--md", type=Path, default=bc.ROOT / "docs" / "bngl_corpus_sbml.md")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--merge", action="store_true", help="keep the rows of --md for the files not run now")
    args = p.parse_args(argv)
    exe = bc.il2sbml_command()
    files = [f for f in same_rows(args.table) if not args.only or any(s in f for s in args.only)]
    rows = []
    for k, rel in enumerate(files, 1):
        row = check(exe, args.corpus / rel, args.timeout)
        row["model"] = rel
        rows.append(row)
        print(f"[{k}/{len(files)}] {rel}: {row['status']} {row['warnings'] if row['warnings'] is not None else ''}"
              f" {row['message'][:100]}", flush=True)
    if args.merge and args.md.exists():
        done = {r["model"] for r in rows}
        old = [r for r in read_md(args.md) if r["model"] not in done]
        order = {f: k for k, f in enumerate(same_rows(args.table))}
        rows = sorted(old + rows, key=lambda r: order.get(r["model"], len(order)))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("valid", "invalid", "error", "timeout")}
    with_warnings = sum(1 for r in rows if r["warnings"])
    lines = ["# RuleHub corpus: the SBML il2sbml writes, checked by libSBML", "",
             f"Every file of `docs/bngl_corpus.md` whose outcome is `same` (il2sbml's network has BNG2.pl's "
             f"species and reaction counts), built with `il2sbml build FILE -o FILE.xml` (the file's own "
             f"`max_iter` / `max_agg`, a {args.timeout:g} s limit), which runs libSBML's full consistency checks, "
             f"units included, on what it writes. il2sbml commit `{bc.git_commit()}`, run on "
             f"{datetime.date.today().isoformat()}. Regenerate with", "", "```bash",
             "python benchmarks/bngl_corpus_sbml.py", "```", "",
             f"Files: {len(rows)}. valid: {counts['valid']} ({with_warnings} with warnings), invalid: "
             f"{counts['invalid']}, error: {counts['error']}, timeout: {counts['timeout']}.", "",
             "| model | outcome | warnings | il2sbml build s | message |", "|---|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| `{r['model']}` | {r['status']} | {'' if r['warnings'] is None else r['warnings']} | "
                     f"{r['seconds']:.2f} | {bc.md_escape(r['message'][:160])} |")
    tmp = args.md.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(args.md)
    print(f"wrote {args.md}: {counts}, {with_warnings} with warnings")
    return 0 if counts["valid"] == len(rows) and not with_warnings else 1


if __name__ == "__main__":
    sys.exit(main())
