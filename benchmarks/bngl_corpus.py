"""Run every BNGL file of a corpus through BNG2.pl and ``il2sbml network --json``; compare counts.

Standalone on purpose: standard library and subprocesses only, no ``il2sbml`` import (the CLI
is the interface under test).  Per file, each tool under the same wall-clock limit:

* **BNG2.pl** gets a copy of the model with every action removed (``begin actions`` blocks and
  any line outside a ``begin ... end`` block, wherever it appears) and a single
  ``generate_network({overwrite=>1, ...})`` appended, carrying the ``max_iter`` / ``max_agg`` /
  ``max_stoich`` options of the file's own first ``generate_network`` call.  It runs in a
  scratch folder; species and reactions are counted in the ``.net`` file it writes (or, when it
  writes none because the network has no reaction, taken from its last ``Iteration`` line).
* **il2sbml** runs as ``.venv/bin/il2sbml network FILE --json --timeout T`` on the original
  file (the reader must cope with the actions itself), with ``--max-iter`` / ``--max-agg``
  passed when the file's ``generate_network`` sets them (``max_stoich`` has no CLI flag: it is
  noted in the row).

Outcomes: ``same`` (both counts equal), ``mismatch`` (both ran, counts differ), ``refused``
(il2sbml exited non-zero with ``il2sbml: error: FILE:LINE: ...``, i.e. a located refusal),
``error`` (any other il2sbml failure: traceback, limit error without a line, crash),
``timeout`` (il2sbml passed the limit), ``bng-failed`` / ``bng-timeout`` (no reference: BNG2.pl
failed or passed the limit; the il2sbml result is still recorded).  ``error_kind`` in the JSON
rows tells errors apart: ``traceback``, ``limit`` (max_agg / max_species / ... exceeded),
``other``.

    python benchmarks/bngl_corpus.py [--corpus tests/corpus/rulehub] [--timeout 120] [--jobs 1]
                                     [--md docs/bngl_corpus.md] [--json-out build/bngl_corpus.json]
                                     [--only SUBSTRING] [--resume] [--no-limits] [--reuse-bng [JSON]]

``--reuse-bng`` runs il2sbml only (about 13 min for the corpus instead of about 95): BNG2.pl's
status, counts, time and message for each file are read from ``tests/corpus/bng_counts.json``
(BNG2.pl 2.9.3 on the corpus commit named in it; the file says which run it comes from), and a
file missing there is an error.  ``--write-bng-counts`` writes that JSON from the rows of a
full run (``--json-out``) so that a new BNG2.pl run can replace it.

BNG2.pl is found as the tests find it: ``$BNG2_PL``, else ``bionetgen``'s ``bng-linux/BNG2.pl``
(looked up in the repository's ``.venv`` and on ``sys.path`` without importing anything).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "tests" / "corpus" / "rulehub"
OUTCOMES = ["same", "mismatch", "refused", "error", "timeout", "bng-failed", "bng-timeout"]
COMMAND = "python benchmarks/bngl_corpus.py"


# ------------------------------------------------------------------ locating the tools
def bng2_path() -> str | None:
    env = os.environ.get("BNG2_PL")
    candidates = [env] if env else []
    roots = [str(ROOT / ".venv" / "lib" / "python*" / "site-packages")] + [p for p in sys.path if p]
    for r in roots:
        for site in glob.glob(r):
            candidates += [os.path.join(site, "bionetgen", "bng-linux", "BNG2.pl"),
                           os.path.join(site, "bionetgen", "bng-mac", "BNG2.pl")]
    for c in candidates:
        if c and os.path.exists(c) and shutil.which("perl"):
            return c
    return None


def il2sbml_command() -> list[str]:
    """The CLI of *this* checkout: its ``.venv``'s ``il2sbml``, else ``python -m il2sbml.cli`` with
    the checkout first on ``PYTHONPATH`` (a git worktree sharing another checkout's venv)."""
    venv = ROOT / ".venv" / "bin" / "il2sbml"
    if venv.exists():
        return [str(venv)]
    return [sys.executable, "-m", "il2sbml.cli"]


def il2sbml_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def git_commit() -> str:
    """The il2sbml commit the run is on, with ``+dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "il2sbml"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def corpus_commit(corpus: Path) -> str:
    readme = corpus.parent / "README.md"
    if readme.exists():
        m = re.search(r"\b([0-9a-f]{40})\b", readme.read_text(encoding="utf-8"))
        if m:
            return m.group(1)
    return "unknown"


# ------------------------------------------------------------------ BNGL text handling
def logical_lines(text: str) -> list[str]:
    """Physical lines joined at trailing backslashes (BNGL line continuation)."""
    out: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\") and not line.split("#", 1)[0].strip() == "":
            buf += line[:-1] + " "
            continue
        out.append(buf + raw)
        buf = ""
    if buf:
        out.append(buf)
    return out


def strip_comment(line: str) -> str:
    return line.split("#", 1)[0].strip()


BLOCK_RE = re.compile(r"^(begin|end)\s+(.*\S)\s*$", re.I)


def strip_actions(text: str) -> str:
    """Keep the model blocks only: drop ``begin actions`` blocks and every line outside a block."""
    kept: list[str] = []
    stack: list[str] = []
    for line in logical_lines(text):
        code = strip_comment(line)
        m = BLOCK_RE.match(code)
        if m:
            kind, name = m.group(1).lower(), " ".join(m.group(2).lower().split())
            if kind == "begin":
                stack.append(name)
                if "actions" not in stack:
                    kept.append(line)
            else:
                inside_actions = "actions" in stack
                if stack:
                    stack.pop()
                if not inside_actions and name != "actions":
                    kept.append(line)
            continue
        if not code:
            kept.append(line)  # blank lines and comments keep line numbers roughly aligned
            continue
        if stack and "actions" not in stack:
            kept.append(line)
    return "\n".join(kept) + "\n"


GN_RE = re.compile(r"\bgenerate_network\s*\(\s*(\{.*?\})?\s*\)", re.S)


def generate_network_options(text: str) -> dict[str, str]:
    """max_iter / max_agg / max_stoich of the file's first uncommented generate_network call."""
    code = "\n".join(strip_comment(line) for line in logical_lines(text))
    m = GN_RE.search(code)
    opts: dict[str, str] = {}
    if not m or not m.group(1):
        return opts
    body = m.group(1)
    for key in ("max_iter", "max_agg"):
        k = re.search(rf"\b{key}\s*=>\s*([0-9.eE+]+)", body)
        if k:
            opts[key] = k.group(1)
    k = re.search(r"\bmax_stoich\s*=>\s*(\{[^}]*\})", body)
    if k:
        opts["max_stoich"] = " ".join(k.group(1).split())
    return opts


# ------------------------------------------------------------------ running
def run_limited(cmd: list[str], cwd: str, timeout: float,
                env: dict[str, str] | None = None) -> tuple[int | None, str, str, float]:
    """Run in its own process group; kill the group on timeout. rc None means timed out."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", start_new_session=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        rc = None
    return rc, out, err, time.perf_counter() - t0


def count_net(path: Path) -> tuple[int, int]:
    counts = {"species": 0, "reactions": 0}
    block = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        code = line.split("#", 1)[0].strip()
        m = BLOCK_RE.match(code)
        if m:
            name = m.group(2).strip().lower()
            block = name if m.group(1).lower() == "begin" and name in counts else None
            continue
        if block and code:
            counts[block] += 1
    return counts["species"], counts["reactions"]


def last_error_line(text: str) -> str:
    """BNG2.pl's ABORT/ERROR line (with the 'at line N' that follows it), else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if re.match(r"(ABORT|ERROR|Error)\b", ln) or "ABORT:" in ln or "ERROR:" in ln:
            if i + 1 < len(lines) and lines[i + 1].startswith("at line"):
                ln += " " + lines[i + 1]
            return ln
    return lines[-1] if lines else ""


def run_bng(bng: str, path: Path, opts: dict[str, str], timeout: float) -> dict:
    text = strip_actions(path.read_text(encoding="utf-8", errors="replace"))
    extra = "".join(f", {k}=>{v}" for k, v in opts.items())
    text += f"\ngenerate_network({{overwrite=>1{extra}}})\n"
    name = re.sub(r"[^A-Za-z0-9_]", "_", path.stem) or "model"
    with tempfile.TemporaryDirectory(prefix="bngl-corpus-") as tmp:
        (Path(tmp) / f"{name}.bngl").write_text(text, encoding="utf-8")
        rc, out, err, secs = run_limited(["perl", bng, "-outdir", tmp, f"{name}.bngl"], tmp, timeout)
        net = Path(tmp) / f"{name}.net"
        row = {"bng_s": round(secs, 2), "bng_species": None, "bng_reactions": None, "bng_status": "ok",
               "bng_message": ""}
        if rc is None:
            row.update(bng_status="timeout", bng_message=f"BNG2.pl passed {timeout:g} s")
        elif rc == 0 and net.exists():
            row["bng_species"], row["bng_reactions"] = count_net(net)
        elif "no reactions were found" in (out + err).lower() or (rc == 0 and not net.exists()):
            its = re.findall(r"Iteration\s+\d+:\s+(\d+)\s+species\s+(\d+)\s+rxns", out)
            if its:
                row["bng_species"], row["bng_reactions"] = int(its[-1][0]), int(its[-1][1])
                row["bng_message"] = "BNG2.pl wrote no .net (no reactions); counts from its log"
            else:
                row.update(bng_status="failed", bng_message=last_error_line(out + "\n" + err)[:300])
        else:
            row.update(bng_status="failed", bng_message=last_error_line(err + "\n" + out)[:300])
    return row


LOCATED_RE = re.compile(r"^il2sbml: error: .*?:\d+(:\d+)?: ")
LIMIT_RE = re.compile(r"max_agg|max_iter|max_stoich|max_species|max_reactions|polymeris", re.I)
TIMEOUT_RE = re.compile(r"timeout|timed out|time limit", re.I)


def run_il2sbml(exe: list[str], path: Path, opts: dict[str, str], timeout: float, no_limits: bool) -> dict:
    cmd = exe + ["network", str(path), "--json", "--timeout", f"{timeout:g}"]
    if "max_iter" in opts:
        cmd += ["--max-iter", str(int(float(opts["max_iter"])))]
    if "max_agg" in opts:
        cmd += ["--max-agg", str(int(float(opts["max_agg"])))]
    if no_limits:
        cmd += ["--max-species", str(10**9), "--max-reactions", str(10**9)]
    rc, out, err, secs = run_limited(cmd, str(ROOT), timeout + 15, il2sbml_env())
    row = {"il2sbml_s": round(secs, 2), "il2sbml_species": None, "il2sbml_reactions": None,
           "il2sbml_status": "ok", "message": "", "error_kind": ""}
    if rc is None:
        row.update(il2sbml_status="timeout", message=f"killed after {timeout + 15:g} s")
        return row
    if rc == 0:
        try:
            data = json.loads(out)
            row["il2sbml_species"], row["il2sbml_reactions"] = int(data["species"]), int(data["reactions"])
            return row
        except (ValueError, KeyError, TypeError) as exc:
            row.update(il2sbml_status="error", error_kind="other", message=f"unreadable JSON: {exc}")
            return row
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback (most recent call last)" in err:
        tail = next((ln for ln in reversed(lines) if not ln.startswith(" ")), lines[-1] if lines else "")
        row.update(il2sbml_status="error", error_kind="traceback", message=tail.strip())
        return row
    first = next((ln for ln in lines if ln.startswith("il2sbml: error:")), lines[0] if lines else f"exit {rc}")
    rel = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    message = first.replace(str(path), Path(rel).name)
    if LOCATED_RE.match(first):
        row.update(il2sbml_status="refused", message=message)
    elif TIMEOUT_RE.search(first) and not LIMIT_RE.search(first):
        row.update(il2sbml_status="timeout", message=message)
    else:
        row.update(il2sbml_status="error", error_kind="limit" if LIMIT_RE.search(first) else "other",
                   message=message)
    return row


def classify(row: dict) -> str:
    if row["bng_status"] == "timeout":
        return "bng-timeout"
    if row["bng_status"] == "failed":
        return "bng-failed"
    status = row["il2sbml_status"]
    if status == "ok":
        same = (row["bng_species"], row["bng_reactions"]) == (row["il2sbml_species"], row["il2sbml_reactions"])
        return "same" if same else "mismatch"
    return {"refused": "refused", "timeout": "timeout"}.get(status, "error")


IL2SBML_COMMIT = ["unknown"]  # set by main(): the commit every row of this run is on
BNG_FIELDS = ("bng_status", "bng_species", "bng_reactions", "bng_s", "bng_message")


def run_one(path: Path, corpus: Path, bng: str | dict, exe: list[str], timeout: float, no_limits: bool) -> dict:
    """``bng`` is BNG2.pl's path, or (``--reuse-bng``) the row of a previous BNG2.pl run."""
    text = path.read_text(encoding="utf-8", errors="replace")
    opts = generate_network_options(text)
    row = {"model": str(path.relative_to(corpus)), "options": opts, "timeout_s": timeout}
    if isinstance(bng, dict):
        row.update({k: bng[k] for k in BNG_FIELDS})
        row["bng_reused"] = True
    else:
        row.update(run_bng(bng, path, opts, timeout))
    row.update(run_il2sbml(exe, path, opts, timeout, no_limits))
    row["il2sbml_commit"] = IL2SBML_COMMIT[0]
    if "max_stoich" in opts:
        row["note"] = "max_stoich passed to BNG2.pl only (no il2sbml CLI flag)"
    row["outcome"] = classify(row)
    return row


# ------------------------------------------------------------------ reporting
def cell(v) -> str:
    return "" if v is None else str(v)


def md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def write_md(rows: list[dict], out: Path, corpus: Path, commit: str, args, bng_source: dict | None = None) -> None:
    totals = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
    today = datetime.date.today().isoformat()
    corpus_rel = os.path.relpath(corpus, ROOT)
    per_limit: dict[float, int] = {}
    for r in rows:
        t = r.get("timeout_s") or args.timeout
        per_limit[t] = per_limit.get(t, 0) + 1
    limits = (f"{args.timeout:g} s" if list(per_limit) == [args.timeout] else
              " / ".join(f"{t:g} s ({n} files)" for t, n in sorted(per_limit.items(), reverse=True))
              + " (a run resumed with another `--timeout`; see `timeout_s` in the JSON)")
    il2_commits = sorted({r.get("il2sbml_commit", "unknown") for r in rows})
    command = f"{COMMAND} --timeout {args.timeout:g} --jobs {args.jobs}" + (" --no-limits" if args.no_limits else "")
    if bng_source is not None:
        command += " --reuse-bng"
        how = (f"il2sbml ran as `il2sbml network FILE --json` under a {limits} wall-clock limit on {today}, "
               f"{args.jobs} job(s), on il2sbml commit {' / '.join(f'`{c}`' for c in il2_commits)}. "
               f"BNG2.pl's columns are **reused** (`--reuse-bng`) from `{bng_source['path']}`: "
               f"{bng_source['description']}.")
    else:
        how = (f"run through BNG2.pl (actions stripped, a single `generate_network` with the file's own "
               f"`max_iter` / `max_agg` / `max_stoich`) and through `il2sbml network FILE --json`, each under a "
               f"{limits} wall-clock limit. Run on {today}, {args.jobs} job(s), on il2sbml commit "
               f"{' / '.join(f'`{c}`' for c in il2_commits)}.")
    lines = [
        "# BNGL corpus: il2sbml against BNG2.pl",
        "",
        f"Every BNGL file of [RuleWorld/RuleHub](https://github.com/RuleWorld/RuleHub) at commit "
        f"`{commit}` (copied into `{corpus_rel}/`, see `tests/corpus/README.md`). " + how + " Regenerate with",
        "",
        "```bash",
        command,
        "```",
        "",
        "(without `--reuse-bng` BNG2.pl runs too: about 81 min more). "
        f"Time spent in the two tools over the whole corpus: {sum(r['bng_s'] for r in rows) / 60:.0f} min in "
        f"BNG2.pl{' (in the reused run)' if bng_source is not None else ''}, "
        f"{sum(r['il2sbml_s'] for r in rows) / 60:.0f} min in il2sbml (`--only SUBSTRING` runs a "
        "subset, `--resume` keeps the rows already in the JSON). il2sbml gets `--timeout S` and is killed "
        "at S + 15 s. `tests/test_bngl_corpus.py` checks, on every test run, that each file BNG2.pl "
        "generated (less four slow ones it names) is still `same` or a located refusal, and that `same` rows "
        "stay `same`.",
        "",
        "Outcomes: `same` (species and reaction counts equal), `mismatch` (both ran, counts "
        "differ), `refused` (il2sbml refused with `FILE:LINE:` and a message), `error` (any other "
        "il2sbml failure: traceback, size-limit error, ...), `timeout` (il2sbml passed the limit), "
        "`bng-failed` / `bng-timeout` (BNG2.pl failed or passed the limit: no reference).",
        "",
        f"Files: {len(rows)}. " + ", ".join(f"{o}: {totals[o]}" for o in OUTCOMES) + ".",
        "",
    ] + refusal_summary(rows) + [
        "| model | BNG species | BNG reactions | il2sbml species | il2sbml reactions | outcome | BNG s "
        "| il2sbml s | message |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        msg = r.get("message") or ""
        if r["outcome"] in ("bng-failed", "bng-timeout"):
            own = (f" / il2sbml: {msg}" if msg else
                   f" / il2sbml: {r['il2sbml_species']} sp, {r['il2sbml_reactions']} rxn"
                   if r["il2sbml_status"] == "ok" else "")
            msg = f"BNG2.pl: {r['bng_message']}" + own
        if r.get("note"):
            msg = (msg + "; " if msg else "") + r["note"]
        if len(msg) > 120:
            msg = msg[:117] + "..."
        lines.append("| " + " | ".join([
            f"`{r['model']}`", cell(r["bng_species"]), cell(r["bng_reactions"]), cell(r["il2sbml_species"]),
            cell(r["il2sbml_reactions"]), r["outcome"], f"{r['bng_s']:.2f}", f"{r['il2sbml_s']:.2f}",
            md_escape(msg)]) + " |")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


# what a refusal is about, from its message (first match wins); the rest are listed as they read
CONSTRUCTS = [
    ("energy patterns (energy-based BNGL)", r"energy patterns"),
    ("MoveConnected (moving whole complexes between compartments)", r"MoveConnected"),
    ("a rule moving a molecule between compartments (transport)", r"between compartments; transport"),
    ("local functions and %x: pattern labels", r"local function|pattern label"),
    ("a site with two bonds (b!1!2)", r"a site with 2 bonds"),
    ("mratio() (no exact SBML form)", r"mratio"),
    ("a molecule's own state or bond (Smad1()!+)", r"a molecule's own (state|bond)"),
    ("a block other than the model's (e.g. begin protocol)", r"block '.*' is not supported"),
    ("a line BNG2.pl reads leniently (several seeds on one line, text after a value)",
     r"unexpected .* after the expression"),
]


def refusal_summary(rows: list[dict]) -> list[str]:
    """A short table: refused files (with a BNG2.pl reference) by construct."""
    counts: dict[str, int] = {}
    for r in rows:
        if r["outcome"] != "refused":
            continue
        msg = re.sub(r"^il2sbml: error: [^:]*:\d+: ", "", r.get("message", ""))
        name = next((label for label, rx in CONSTRUCTS if re.search(rx, msg)), None)
        if name is None:
            name = re.sub(r"^(rule|seed|observable|parameter) '[^']*': ", "", msg)[:100]
        counts[name] = counts.get(name, 0) + 1
    if not counts:
        return []
    out = ["What the `refused` files (those with a BNG2.pl network) use; every refusal names its construct "
           "and its `FILE:LINE`:", "",
           "| construct | files |", "|---|---:|"]
    out += [f"| {md_escape(k)} | {n} |" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return out + [""]


def write_json(rows: list[dict], out: Path, commit: str, args) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps({"commit": commit, "timeout_s": args.timeout, "jobs": args.jobs,
                               "date": datetime.date.today().isoformat(), "rows": rows}, indent=1),
                   encoding="utf-8")
    tmp.replace(out)


# ------------------------------------------------------------------ BNG2.pl's side, kept for reuse
DEFAULT_BNG_COUNTS = ROOT / "tests" / "corpus" / "bng_counts.json"


def bng_version(bng: str) -> str:
    rc, out, err, _ = run_limited(["perl", bng, "-v"], tempfile.gettempdir(), 60)
    m = re.search(r"BioNetGen version (\S+)", out + err)
    return m.group(1) if m else "unknown"


def write_bng_counts(rows: list[dict], out: Path, commit: str, description: str, version: str) -> None:
    """BNG2.pl's status, counts, time and message per file, for ``--reuse-bng``."""
    files = {r["model"]: {k: r[k] for k in BNG_FIELDS} | {"timeout_s": r.get("timeout_s")} for r in rows}
    out.write_text(json.dumps({"bng_version": version, "corpus_commit": commit, "description": description,
                               "files": dict(sorted(files.items()))}, indent=1) + "\n", encoding="utf-8")


def read_bng_counts(path: Path, commit: str) -> tuple[dict, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("corpus_commit") != commit:
        raise SystemExit(f"{path}: BNG2.pl counts are for corpus commit {data.get('corpus_commit')}, "
                         f"the corpus is at {commit}: rerun without --reuse-bng")
    rel = os.path.relpath(path, ROOT)
    source = {"path": rel, "description": f"BNG2.pl {data['bng_version']}, {data['description']}"}
    return data["files"], source


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per tool per model (default 120)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--md", type=Path, default=ROOT / "docs" / "bngl_corpus.md")
    p.add_argument("--json-out", type=Path, default=ROOT / "build" / "bngl_corpus.json")
    p.add_argument("--only", action="append", default=[], help="run only files whose path contains this")
    p.add_argument("--resume", action="store_true", help="keep rows already in --json-out, run the rest")
    p.add_argument("--no-limits", action="store_true", help="lift il2sbml's max_species/max_reactions")
    p.add_argument("--reuse-bng", nargs="?", type=Path, const=DEFAULT_BNG_COUNTS, default=None, metavar="JSON",
                   help="take BNG2.pl's side from this JSON (default tests/corpus/bng_counts.json); run il2sbml only")
    p.add_argument("--write-bng-counts", type=Path, metavar="JSON",
                   help="after the run, write BNG2.pl's side of every row to JSON (for --reuse-bng)")
    p.add_argument("--md-only", action="store_true",
                   help="run nothing: rewrite --md from the rows in --json-out (after a change to the table's format)")
    args = p.parse_args(argv)

    corpus = args.corpus.resolve()
    commit = corpus_commit(corpus)
    if args.md_only:
        saved = json.loads(args.json_out.read_text(encoding="utf-8"))
        rows = saved["rows"]
        args.timeout, args.jobs = saved["timeout_s"], saved["jobs"]
        source = None
        if all(r.get("bng_reused") for r in rows):
            source = read_bng_counts((args.reuse_bng or DEFAULT_BNG_COUNTS).resolve(), commit)[1]
        write_md(rows, args.md, corpus, commit, args, source)
        return 0
    bng_source = None
    if args.reuse_bng is not None:
        reused, bng_source = read_bng_counts(args.reuse_bng.resolve(), commit)
    else:
        bng = bng2_path()
        if not bng:
            print("BNG2.pl (pip package 'bionetgen') or perl not found; set BNG2_PL", file=sys.stderr)
            return 2
    exe = il2sbml_command()
    il2_commit = git_commit()
    IL2SBML_COMMIT[0] = il2_commit
    files = sorted(corpus.rglob("*.bngl"))
    if args.only:
        files = [f for f in files if any(s in str(f.relative_to(corpus)) for s in args.only)]
    if bng_source is not None:
        missing = [str(f.relative_to(corpus)) for f in files if str(f.relative_to(corpus)) not in reused]
        if missing:
            print(f"{args.reuse_bng}: no BNG2.pl row for {len(missing)} file(s), e.g. {missing[0]}; "
                  "rerun without --reuse-bng", file=sys.stderr)
            return 2

    done: dict[str, dict] = {}
    if args.resume and args.json_out.exists():
        previous = json.loads(args.json_out.read_text(encoding="utf-8"))
        done = {r["model"]: r for r in previous["rows"]}
        for r in done.values():
            r.setdefault("timeout_s", previous.get("timeout_s"))
    todo = [f for f in files if str(f.relative_to(corpus)) not in done]
    lock = threading.Lock()
    results = dict(done)
    t0 = time.perf_counter()

    def finished(row: dict, i: int) -> None:
        with lock:
            results[row["model"]] = row
            print(f"[{i}/{len(todo)} {time.perf_counter() - t0:6.0f}s] {row['outcome']:<11} {row['model']} "
                  f"BNG {cell(row['bng_species'])}/{cell(row['bng_reactions'])} ({row['bng_s']}s) "
                  f"il2sbml {cell(row['il2sbml_species'])}/{cell(row['il2sbml_reactions'])} ({row['il2sbml_s']}s) "
                  f"{row.get('message', '')[:100]}", flush=True)
            if i % 20 == 0:
                write_json([results[k] for k in sorted(results)], args.json_out, commit, args)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_one, f, corpus,
                               reused[str(f.relative_to(corpus))] if bng_source is not None else bng,
                               exe, args.timeout, args.no_limits): f for f in todo}
        for i, fut in enumerate(concurrent.futures.as_completed(futures), 1):
            finished(fut.result(), i)

    rows = [results[k] for k in sorted(results)]
    write_json(rows, args.json_out, commit, args)
    write_md(rows, args.md, corpus, commit, args, bng_source)
    if args.write_bng_counts:
        description = (f"run by `{COMMAND}` on {datetime.date.today().isoformat()} "
                       f"(--timeout {args.timeout:g}, il2sbml commit {il2_commit})")
        write_bng_counts(rows, args.write_bng_counts, commit, description,
                         bng_version(bng) if bng_source is None else "unknown")
    totals = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
    print(f"{len(rows)} files: " + ", ".join(f"{o} {n}" for o, n in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
