"""il2sbml.simulate.ensemble: chunked ensembles embedded, on local worker processes and on a real Dask
cluster (``dask scheduler`` / ``dask worker`` subprocesses on 127.0.0.1), the Zarr store, resume
after SIGKILL, sweeps, and refusals that leave a store untouched. Every statistic is compared
bit for bit with one ``kernels.run_ensemble`` call with the same seed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import kernels
from bngnet import suite_dir
from il2sbml import cli
from il2sbml.simulate import ensemble as E
from il2sbml.simulate.compile import compile_network
from il2sbml.formats.load import load_model
from il2sbml.generate.netgen import generate_network
from il2sbml.formats.sbmlread import read_sbml

pytest.importorskip("distributed")
pytest.importorskip("zarr")

ROOT = Path(__file__).resolve().parents[1]
SIMPLE = str(ROOT / "tests" / "models" / "simple_system.py")
T = np.linspace(0.0, 1.0, 6)
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def simple():
    return compile_network(generate_network(load_model(SIMPLE)))


def same(res, ref):
    """Bitwise identical statistics (and identical exact sums and event counts)."""
    assert res.n_runs == ref.n_runs
    assert res.mean.tobytes() == ref.mean.tobytes()
    assert res.sd.tobytes() == ref.sd.tobytes()
    assert np.array_equal(res.sum_x, ref.sum_x) and np.array_equal(res.sum_x2, ref.sum_x2)
    assert res.n_events == ref.n_events and res.method == ref.method


def tree_digest(path) -> str:
    """Names and bytes of every file under path (to check a refused store is untouched)."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(os.path.relpath(p, path).encode())
            h.update(Path(p).read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------ embedded


def test_embedded_any_chunk_size_is_bitwise_one_kernels_call(simple):
    ref = kernels.run_ensemble(simple, T, 300, 11)
    for kw in ({}, {"chunk_size": 1}, {"chunk_size": 7}, {"chunk_size": 64, "threads": 1}, {"chunk_size": 1000}):
        out = E.run(simple, T, 300, 11, progress=False, **kw)
        same(out.result, ref)
        assert out.chunks_computed == out.n_chunks == -(-300 // min(out.chunk_size, 300))


def test_store_layout_units_trajectories_and_progress(simple, tmp_path):
    store = str(tmp_path / "out.zarr")
    seen = []
    out = E.run(simple, T, 230, 5, chunk_size=50, store=store, keep_trajectories=True,
                species_ids=["a", "b", "c", "d"], progress=lambda done, total, info: seen.append((done, total)))
    ref = kernels.run_ensemble(simple, T, 230, 5, keep_trajectories=True)
    same(out.result, ref)
    assert [d for d, _ in seen] == [50, 100, 150, 200, 230] and {t for _, t in seen} == {230}
    import zarr

    g = zarr.open_group(store, mode="r")
    meta = g.attrs["il2sbml_ensemble"]
    assert meta["complete"] and meta["seed"] == 5 and meta["chunk_size"] == 50 and meta["n_chunks"] == 5
    assert meta["species"] == ["a", "b", "c", "d"] and meta["time"] == [float(x) for x in T]
    assert g["mean"][0].tobytes() == ref.mean.tobytes() and g["sd"][0].tobytes() == ref.sd.tobytes()
    assert np.array_equal(g["trajectories"][0], ref.trajectories)
    assert g["trajectories"].metadata.dimension_names == ("point", "run", "time", "species")
    assert g["mean"].metadata.dimension_names == ("point", "time", "species")
    assert g["mean"].attrs["units"] == "molecule" and g["time"].attrs["units"] == "s"
    assert np.array_equal(g["chunk_info"][0, :, 0], [50, 50, 50, 50, 30])
    assert E.store_progress(store) == (230, 230, True)
    # a finished store resumes to the same numbers without computing anything
    again = E.run(simple, T, 230, 5, store=store, resume=True, keep_trajectories=True,
                  species_ids=["a", "b", "c", "d"], progress=False)
    same(again.result, ref)
    assert again.chunks_computed == 0 and again.chunks_reused == 5


def test_progress_bar_and_summary_text(simple, capsys):
    out = E.run(simple, T, 40, 1, chunk_size=20, progress=True)
    err = capsys.readouterr().err
    assert "40/40 runs (100%)" in err and "runs/s" in err and "left" in err
    assert "40 runs (1 point(s) x 40) in 2 chunk(s) of 20 runs, embedded" in out.summary()


# ------------------------------------------------------------------------------------ refusals


def test_mismatched_foreign_and_corrupted_stores_are_refused_untouched(simple, tmp_path):
    store = str(tmp_path / "s.zarr")
    E.run(simple, T, 100, 3, chunk_size=25, store=store, progress=False)
    before = tree_digest(store)
    other = compile_network(generate_network(load_model(str(ROOT / "tests" / "models" / "il2_receptor.py"))),
                            round_initial=True)
    cases = [
        (dict(model=simple, seed=4), "seed: 3 vs 4"),
        (dict(model=simple, seed=3, t=np.linspace(0, 2, 6)), "time grid"),
        (dict(model=simple, seed=3, chunk_size=10), "chunk size: 25 vs 10"),
        (dict(model=simple, seed=3, n=101), "runs: 100 vs 101"),
        (dict(model=simple, seed=3, keep=True), "keep trajectories"),
    ]
    for kw, needle in cases:
        with pytest.raises(E.StoreError, match="nothing was changed") as ei:
            E.run(kw["model"], kw.get("t", T), kw.get("n", 100), kw["seed"], chunk_size=kw.get("chunk_size"),
                  store=store, resume=True, keep_trajectories=kw.get("keep", False), progress=False)
        assert needle in str(ei.value)
    with pytest.raises(E.StoreError, match="another model"):  # same species count needed only for species=...
        E.run(other, T, 100, 3, store=store, resume=True, species=[0, 1, 2, 3], progress=False)
    with pytest.raises(E.StoreError, match="exists; pass --resume"):
        E.run(simple, T, 100, 3, store=store, progress=False)
    assert tree_digest(store) == before

    # a foreign Zarr group, a plain folder, a file
    import zarr

    foreign = str(tmp_path / "foreign.zarr")
    zarr.open_group(foreign, mode="w").create_array("x", data=np.arange(3))
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("hello")
    afile = tmp_path / "afile.zarr"
    afile.write_text("x")
    for path, needle in ((foreign, "foreign Zarr store"), (str(plain), "not an il2sbml ensemble store"),
                         (str(afile), "a file, not a folder")):
        d0 = tree_digest(path) if os.path.isdir(path) else Path(path).read_bytes()
        with pytest.raises(E.StoreError, match=needle):
            E.run(simple, T, 100, 3, store=path, resume=True, progress=False)
        assert (tree_digest(path) if os.path.isdir(path) else Path(path).read_bytes()) == d0

    # corrupted: an unreadable chunk record, then an unreadable zarr.json
    bad = tmp_path / "bad.zarr"
    E.run(simple, T, 100, 3, chunk_size=25, store=str(bad), progress=False)
    rec = bad / "chunk_sums" / "c" / "0" / "2" / "0" / "0" / "0" / "0"
    assert rec.is_file()
    rec.write_bytes(b"\x00garbage")
    d0 = tree_digest(bad)
    with pytest.raises(E.StoreError, match="corrupted store: chunk 2 is unreadable"):
        E.run(simple, T, 100, 3, store=str(bad), resume=True, progress=False)
    assert tree_digest(bad) == d0
    rec.unlink()
    with pytest.raises(E.StoreError, match="chunk 2 is recorded as done but its sums are missing"):
        E.run(simple, T, 100, 3, store=str(bad), resume=True, progress=False)
    (bad / "zarr.json").write_text("{not json")
    d0 = tree_digest(bad)
    with pytest.raises(E.StoreError, match="corrupted store: zarr.json is unreadable"):
        E.run(simple, T, 100, 3, store=str(bad), resume=True, progress=False)
    assert tree_digest(bad) == d0


def test_sweep_specs_and_wrong_types_are_clear_errors(tmp_path):
    sw = E.parse_sweep(["kon=5,10", "koff=1,2.5"])
    assert sw.names == ("kon", "koff") and sw.points == ((5.0, 1.0), (5.0, 2.5), (10.0, 1.0), (10.0, 2.5))
    sets = tmp_path / "sets.csv"
    sets.write_text("kon,koff\n5,1\n10,2\n")
    assert E.parse_sweep([str(sets)]).points == ((5.0, 1.0), (10.0, 2.0))
    for spec, needle in ((["kon=1,abc"], "value 'abc' for kon is not a number"), (["kon="], "empty value"),
                         (["kon=1,,2"], "empty value"), (["kon=nan"], "not finite"), (["kon"], "NAME=v1"),
                         (["kon=1", "kon=2"], "given twice"), (["1x=3"], "not a parameter name")):
        with pytest.raises(E.SweepError, match=needle):
            E.parse_sweep(spec)
    sets.write_text("kon,koff\n5,x\n")
    with pytest.raises(E.SweepError, match="sets.csv:2: value 'x' for koff is not a number"):
        E.parse_sweep([str(sets)])
    with pytest.raises(E.SweepError, match="is a str"):
        E.Sweep.coerce([{"kon": 5}, {"kon": "5"}])
    with pytest.raises(E.SweepError, match="is a list"):
        E.Sweep.coerce([{"kon": 5}, {"kon": [1]}])
    with pytest.raises(E.SweepError, match="bool"):
        E.Sweep.coerce({"kon": [True]})


# ------------------------------------------------------------------------------------ CLI glue


def run_cmd(argv):
    """The real console entry point: errors come back as exit status 2 with the message on stderr."""
    return cli.main(["ensemble", *argv])


def test_cli_glue_writes_the_same_stats_csv_bytes(tmp_path, capsys):
    base = [SIMPLE, "--runs", "200", "--t-end", "1", "--points", "6", "--seed", "9"]
    old = tmp_path / "old.csv"
    assert cli.main(["ensemble", *base, "--stats-csv", str(old)]) == 0
    old_line = capsys.readouterr().out
    new = tmp_path / "new.csv"
    assert run_cmd([*base, "--stats-csv", str(new), "--quiet"]) == 0
    assert capsys.readouterr().out == old_line.replace(str(old), str(new))
    chunked = tmp_path / "chunked.csv"
    store = tmp_path / "c.zarr"
    assert run_cmd([*base, "--stats-csv", str(chunked), "--chunk-size", "17", "--store", str(store)]) == 0
    assert "12 chunk(s) of 17 runs" in capsys.readouterr().err
    assert new.read_bytes() == old.read_bytes() == chunked.read_bytes()
    assert run_cmd(base) == 2
    assert "--stats-csv OUT.csv and/or --store" in capsys.readouterr().err
    assert run_cmd([*base, "--stats-csv", str(new), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "choose one of" in capsys.readouterr().err


def test_cli_sweep_points_equal_standalone_ensembles_and_bad_values_leave_store(tmp_path, capsys):
    out = tmp_path / "sw.csv"
    store = tmp_path / "sw.zarr"
    base = [SIMPLE, "--runs", "120", "--t-end", "1", "--points", "6", "--seed", "4", "--quiet"]
    assert run_cmd([*base, "--sweep", "kon=5,20", "--stats-csv", str(out), "--store", str(store),
                    "--chunk-size", "50"]) == 0
    data = E.read_store(str(store))
    assert data["meta"]["sweep"] == {"parameters": ["kon"], "points": [[5.0], [20.0]]}
    assert data["mean"].shape == (2, 6, 4) and np.array_equal(data["sweep_values"], [[5.0], [20.0]])
    for p, kon in enumerate((5.0, 20.0)):
        m = load_model(SIMPLE)
        m.parameter_set("pt", {"kon": kon})
        ref = kernels.run_ensemble(compile_network(generate_network(m.with_parameter_set("pt"))), T, 120, 4)
        assert data["mean"][p].tobytes() == ref.mean.tobytes() and data["sd"][p].tobytes() == ref.sd.tobytes()
        one = tmp_path / f"one{p}.csv"
        assert run_cmd([*base, "--sweep", f"kon={kon!r}", "--stats-csv", str(one)]) == 0
        assert (tmp_path / f"sw.kon={kon!r}.csv").read_bytes() == (tmp_path / f"one{p}.kon={kon!r}.csv").read_bytes()
    before = tree_digest(store)
    for bad, needle in (("kon=5,abc", "not a number"), ("nope=1", "has no parameter 'nope'"),
                        ("kon=5,30", "sweep: ")):
        capsys.readouterr()
        assert run_cmd([*base, "--sweep", bad, "--store", str(store), "--resume", "--chunk-size", "50"]) == 2
        assert needle in capsys.readouterr().err
    assert tree_digest(store) == before


# ------------------------------------------------------------------------------------ processes


def test_local_worker_processes_are_bitwise_embedded(simple):
    ref = kernels.run_ensemble(simple, T, 600, 21)
    out = E.run(simple, T, 600, 21, workers=2, chunk_size=100, progress=False)
    same(out.result, ref)
    assert out.where == "2 local worker process(es)" and out.chunks_computed == 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs):
    procs = list(reversed(procs))  # workers first, then the scheduler
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 3
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real 'dask scheduler' and two 'dask worker' processes (no nanny) on 127.0.0.1."""
    from distributed import Client

    d = tmp_path_factory.mktemp("dask")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    sfile = str(d / "scheduler.json")
    procs = []
    logs = []

    def spawn(args, name):
        log = open(d / f"{name}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT,
                                      cwd=str(d)))
        return procs[-1]

    try:
        spawn(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
               "--scheduler-file", sfile], "scheduler")
        workers = [spawn(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                          "--memory-limit", "0", "--local-directory", str(d / f"w{i}"), "--name", f"w{i}"], f"w{i}")
                   for i in range(2)]
        with Client(address, timeout=60) as c:
            c.wait_for_workers(2, timeout=90)
        yield {"address": address, "scheduler_file": sfile, "workers": workers, "dir": d}
    finally:
        _stop(procs)
        for log in logs:
            log.close()


def test_remote_scheduler_two_workers_is_bitwise_embedded(cluster, simple):
    ref = kernels.run_ensemble(simple, T, 800, 33)
    out = E.run(simple, T, 800, 33, scheduler=cluster["address"], chunk_size=100, progress=False)
    same(out.result, ref)
    assert out.where == f"scheduler {cluster['address']}" and out.chunks_computed == 8
    # a network with a general kinetic law travels with its law's source, compiled on the workers:
    # an SBML law (DSMTS 00030) and a BNGL functional rate (michment)
    sbml_path = suite_dir() / "stochastic" / "00030" / "00030-sbml-l3v1.xml"
    bngl_path = suite_dir() / "bngl" / "michment" / "michment.bngl"
    t = np.linspace(0, 20, 5)
    for arrays in (compile_network(read_sbml(sbml_path.read_text(encoding="utf-8"))),
                   compile_network(generate_network(load_model(str(bngl_path))))):
        assert arrays.law is not None and kernels.law_source(arrays.law)
        shipped = E.payload(arrays).for_workers()
        assert shipped.arrays.law is None and shipped.law_source == kernels.law_source(arrays.law)
        ref = kernels.run_ensemble(arrays, t, 300, 2)
        out = E.run(E.payload(arrays), t, 300, 2, scheduler=cluster["address"], chunk_size=60, progress=False)
        same(out.result, ref)
    # a hand-compiled law has no source to ship
    from numba import cfunc

    hand = cfunc(kernels.LAW_SIGNATURE)(lambda j, tt, x, p: 1.0)
    arrays = kernels.network_from_reactions([0], [[]], [[0]], [0.0], law=hand, law_reactions=[True])
    with pytest.raises(E.EnsembleError, match="cannot be sent to worker processes"):
        E.payload(arrays).for_workers()


def test_killing_a_worker_mid_run_changes_nothing(cluster, simple, tmp_path):
    """Must run last on the module cluster: once two chunks are done, a watcher thread SIGKILLs
    worker w1 at a moment the scheduler has chunks assigned to it (they are recomputed on w0)."""
    import threading

    from distributed import Client

    victim = cluster["workers"][1]
    assert victim.poll() is None
    n = 3000
    ref = kernels.run_ensemble(simple, T, n, 44)
    started = threading.Event()
    killed = []

    with Client(cluster["address"], timeout=30) as watcher:
        w1 = next(a for a, w in watcher.scheduler_info()["workers"].items() if w["name"] == "w1")

        def kill_when_busy():
            started.wait(60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                busy = list(watcher.processing().get(w1) or ())
                if busy:
                    os.kill(victim.pid, signal.SIGKILL)
                    killed.append(busy)
                    return
                time.sleep(0.002)

        thread = threading.Thread(target=kill_when_busy, daemon=True)
        thread.start()
        done_at_kill = []

        def on_chunk(done, total, info):
            if done >= 100:
                started.set()
            if killed and not done_at_kill:
                done_at_kill.append(done)

        store = str(tmp_path / "k.zarr")
        out = E.run(simple, T, n, 44, scheduler_file=cluster["scheduler_file"], chunk_size=50, store=store,
                    progress=on_chunk)
        thread.join(10)
    victim.wait(timeout=10)
    assert killed and any(str(k).startswith("il2sbml-chunk-") for k in killed[0]), killed  # w1 held chunks
    assert done_at_kill and done_at_kill[0] < n  # ... while the run was going on
    same(out.result, ref)
    assert out.chunks_computed == n // 50 and E.store_progress(store) == (n, n, True)


# ------------------------------------------------------------------------------------ client SIGKILL


CLIENT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from il2sbml.simulate import ensemble as E
    from il2sbml.simulate.compile import compile_network
    from il2sbml.formats.load import load_model
    from il2sbml.generate.netgen import generate_network

    if __name__ == "__main__":
        arrays = compile_network(generate_network(load_model(sys.argv[1])))
        # a slow client: it sleeps after each chunk, so the test can kill it mid-run
        E.run(arrays, np.linspace(0.0, 1.0, 6), 1000, 77, chunk_size=50, store=sys.argv[2], threads=1,
              keep_trajectories=True, progress=lambda done, total, info: time.sleep(0.25))
""")


def test_sigkilled_client_resumes_to_identical_statistics(simple, tmp_path):
    store = str(tmp_path / "r.zarr")
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    proc = subprocess.Popen([sys.executable, str(script), SIMPLE, store], cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(os.path.join(store, "zarr.json")):
                done, total, complete = E.store_progress(store)
                if done >= 150:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done, total, complete = E.store_progress(store)
    assert 150 <= done < 1000 and not complete
    out = E.run(simple, T, 1000, 77, store=store, resume=True, threads=1, keep_trajectories=True, progress=False)
    ref = kernels.run_ensemble(simple, T, 1000, 77, keep_trajectories=True)
    same(out.result, ref)
    assert out.chunks_reused == done // 50 and out.chunks_reused + out.chunks_computed == 20
    import zarr

    g = zarr.open_group(store, mode="r")
    assert np.array_equal(g["trajectories"][0], ref.trajectories)
    assert int(g["chunk_info"][0, :, 0].sum()) == 1000
    assert not [f for _, _, fs in os.walk(store) for f in fs if f.endswith(".partial")]
    assert json.loads((Path(store) / "zarr.json").read_text())["attributes"]["il2sbml_ensemble"]["complete"]
