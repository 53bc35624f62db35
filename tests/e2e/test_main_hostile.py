"""Hostile input, generated: config overrides and CSV files built at random (wrong types, huge
and tiny numbers, empty strings, unicode, NaN and inf in every spelling, negative and fractional
epochs, duplicated or missing headers, constant columns, very long values). Every case ends
either in a finished run or in the one-line error with exit status 2: never a traceback, never
a half-written run, never a NaN or inf in the store.

The cases run `python -m sweep`'s own `main()` in this process (a subprocess each would cost
seconds of imports), with the environment, signal handlers and streams restored after each.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sqlite3
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import UNSET

NON_FINITE = ["nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "INF",
              "1e309", "-1e309", ".inf", "-.inf", ".nan", "1e-400"]  # fmt: skip
KEYS = ["optimizer.lr", "train.epochs", "train.val_fraction", "train.seed", "train.init_params",
        "normalization", "normalization.factor", "optimizer", "optimizer.momentum",
        "data.x", "data.y", "tracking.experiment", "name", "sweep.batch_size"]  # fmt: skip

numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(NON_FINITE),
    st.sampled_from(["0", "-0", "1e-45", "5e-324", "2.5", "-3", "1e6", "1000001", "0x10", "1_0"]),
)
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="ǅ😀é∞ \t,=[]{}'\"\\$:", max_size=8),
    st.just("x" * 5000),
    st.just(""),
)
values = st.one_of(numbers, texts, st.lists(numbers, max_size=3).map(lambda v: f"[{','.join(v)}]"))
overrides = st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=3)

cells = st.one_of(numbers, texts, st.just(""))
headers = st.lists(st.sampled_from(["t_u", "t_c", "x", "", "t_u ", "é"]), min_size=1, max_size=3)
csv_files = st.one_of(
    st.tuples(headers, st.lists(st.lists(cells, min_size=1, max_size=3), max_size=6)).map(
        lambda hr: "\n".join([",".join(hr[0]), *(",".join(r) for r in hr[1]), ""])
    ),
    st.integers(2, 6).map(lambda n: "t_u,t_c\n" + "5,1\n" * n),  # a constant column
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


def main(args: list[str], workdir: Path) -> tuple[int, str]:
    """`python -m sweep ARGS` in this process: its exit status and stderr."""
    from sweep import __main__ as entry

    saved_env, saved_argv = dict(os.environ), sys.argv
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_streams, saved_cwd = (sys.stdout, sys.stderr), os.getcwd()
    for name in UNSET:
        os.environ.pop(name, None)
    err = io.StringIO()
    code = 0
    try:
        os.chdir(workdir)
        sys.argv = ["sweep", *args]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                entry.main()
            except SystemExit as ex:
                code = ex.code if isinstance(ex.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        sys.stdout, sys.stderr = saved_streams
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in saved_signals.items():
            signal.signal(sig, handler)
    return code, err.getvalue()


def store(db: Path) -> tuple[int, int, int]:
    """Runs, runs not FINISHED, and non-finite metric values in the MLflow store."""
    if not db.exists():
        return 0, 0, 0
    with contextlib.closing(sqlite3.connect(db)) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return 0, 0, 0
        runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
        unfinished = con.execute("SELECT count(*) FROM runs WHERE status != 'FINISHED'").fetchone()
        bad = con.execute(
            "SELECT count(*) FROM metrics WHERE is_nan OR abs(value) > 1.7e308"
        ).fetchone()
    return runs, unfinished[0], bad[0]


def check_case(args: list[str], workdir: Path) -> None:
    db = workdir / "mlflow.db"
    before = store(db)
    code, err = main([*args, f"tracking.uri=sqlite:///{db}"], workdir)
    after = store(db)
    assert "Traceback" not in err, err
    assert after[1:] == (0, 0), (args, after)  # nothing half-written, nothing non-finite
    if code == 0:
        assert after[0] == before[0] + 1, (args, before, after)
    else:
        assert code == 2, (args, code, err)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
        assert after[0] == before[0], (args, before, after)


COMMON = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip


@COMMON
@given(pairs=overrides)
def test_generated_overrides_end_in_a_run_or_one_line(tmp_path_factory, pairs):
    workdir = tmp_path_factory.getbasetemp() / "hostile-overrides"
    workdir.mkdir(exist_ok=True)
    args = ["train.epochs=3", *(f"{k}={v}" for k, v in pairs)]
    check_case(args, workdir)


@settings(COMMON, max_examples=120)
@given(text=csv_files, normalization=st.sampled_from(["none", "scale", "standard", "minmax"]),
       val=st.sampled_from(["0", "0.2", "0.5"]))  # fmt: skip
def test_generated_csv_files_end_in_a_run_or_one_line(tmp_path_factory, text, normalization, val):
    workdir = tmp_path_factory.getbasetemp() / "hostile-csv"
    workdir.mkdir(exist_ok=True)
    (workdir / "data.csv").write_text(text, encoding="utf-8", errors="surrogatepass")
    args = ["data=csv", "data.path=data.csv", "data.x=t_u", "data.y=t_c", "train.epochs=3",
            f"normalization={normalization}", f"train.val_fraction={val}"]  # fmt: skip
    check_case(args, workdir)
