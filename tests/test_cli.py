"""The `esa-adb-hier` command line, used the way a user uses it: one process per command.

Small synthetic missions (a few channels, 30 days) in the three data forms; fit with the fast preset,
predict in a fresh process from the saved model directory, evaluate; every bad input gives exit code 2
and one line naming the thing at fault.
"""
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from esa_adb_hier.core import read_json

_exe = shutil.which("esa-adb-hier", path=str(Path(sys.executable).parent)) or shutil.which("esa-adb-hier")
CLI = [_exe] if _exe else [sys.executable, "-c", "import sys; from esa_adb_hier.cli import main; sys.exit(main())"]

CHANNELS = ["channel_41", "channel_42", "channel_43", "channel_44", "channel_45", "channel_46", "channel_1"]
DAYS, SEED = 20, 5
SPLIT = "2000-01-14"                      # fit before (8 events), predict from here on (4 events)
FAST = ["--preset", "fast", "--quiet"]


def cli(*args, cwd=None, ok=True, timeout=600):
    "Run `esa-adb-hier *args`; check the exit code (0 when `ok`, else 2 with a one-line message and no traceback)."
    r = subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    if ok: assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-6000:]}"
    else:
        assert r.returncode == 2, f"expected exit 2, got {r.returncode}\nstderr:\n{r.stderr[-4000:]}"
        assert "Traceback" not in r.stderr, r.stderr
        errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
        assert len(errors) == 1, r.stderr
    return r


def in_process(capsys, *args):
    "The same `main` the console script calls, in this process (saves the start-up of a new interpreter); returns stdout."
    from esa_adb_hier.cli import main
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert code == 0, out.err[-4000:]
    return out.out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "One small synthetic mission written as a raw directory, a preprocessed CSV and challenge parquet files."
    from esa_adb_hier.data import write_challenge, write_preprocessed_csv
    from esa_adb_hier.synthetic import make_mission
    from esa_adb_hier.synthetic_raw import write_raw_mission
    d = tmp_path_factory.mktemp("cli_data")
    m = make_mission(days=DAYS, seed=SEED, channels=CHANNELS)
    write_raw_mission(m, d / "raw")
    write_preprocessed_csv(m, d / "mission.csv")
    write_challenge(m, d / "challenge", split=pd.Timestamp(SPLIT))
    write_preprocessed_csv(m.select_channels([c for c in m.channel_names if c != "channel_43"]), d / "without_43.csv")
    (d / "notes.txt").write_text("not telemetry\n")
    (d / "empty").mkdir()
    return {"dir": d, "mission": m, "raw": d / "raw", "csv": d / "mission.csv", "train": d / "challenge" / "train.parquet",
            "test": d / "challenge" / "test.parquet"}


@pytest.fixture(scope="module")
def raw_model(data):
    "A model fitted on the raw directory before SPLIT, in its own process."
    out = data["dir"] / "model_raw"
    r = cli("fit", data["raw"], "--out", out, "--end", SPLIT, "--seed", 1, "--detector", "hierarchical", *FAST)
    assert "written to" in r.stdout
    return out


@pytest.fixture(scope="module")
def raw_predictions(data, raw_model):
    "Predictions of the raw-fitted model on the raw directory after SPLIT, in a fresh process, with a window report."
    out = data["dir"] / "pred_raw"
    cli("predict", raw_model, data["raw"], "--out", out / "pred.parquet", "--start", SPLIT, "--report", out / "report.csv", "--quiet")
    return out / "pred.parquet"


def check_predictions(path, n_rows=None, ids=False):
    df = pd.read_parquet(path)
    first = ["id", "timestamp"] if ids else ["timestamp"]
    assert list(df.columns[:len(first) + 2]) == first + ["is_anomaly", "score"], list(df.columns)
    chans = [c for c in df.columns if c.startswith("channel_")]
    assert chans and all(f"score_{c}" in df.columns for c in chans)
    assert df["is_anomaly"].dtype == np.uint8 and df["score"].dtype == np.float32
    assert set(np.unique(df["is_anomaly"])) <= {0, 1} and df["score"].between(0, 1).all()
    assert df["timestamp"].is_monotonic_increasing
    if n_rows is not None: assert len(df) == n_rows
    return df


def test_help_lists_the_commands():
    r = cli("--help")
    for c in ("fit", "predict", "evaluate", "demo"): assert c in r.stdout
    assert "--detector" in cli("fit", "--help").stdout


def test_raw_directory_fit_predict_evaluate(data, raw_model, raw_predictions, tmp_path, capsys):
    man = read_json(raw_model / "manifest.json")
    assert man["detector"] == "hierarchical" and man["format"] == "esa_adb_hier.model"
    assert read_json(raw_model / "fit.run.json")["status"] == "ok"
    assert "config" in read_json(raw_model / "fit.run.json") and (raw_model / "fit.log").stat().st_size > 0
    # predict in a fresh process from the saved directory
    pred = raw_predictions
    test = data["mission"].slice(SPLIT)
    df = check_predictions(pred, len(test))
    assert (df["timestamp"].to_numpy() == test.index.to_numpy()).all()
    rec = read_json(pred.parent / "pred.run.json")
    assert rec["status"] == "ok" and rec["outputs"]["predictions"] == str(pred) and "predict" in rec["timings_s"]
    from esa_adb_hier.evaluation import read_window_report
    rep = read_window_report(pred.parent / "report.csv")
    assert list(rep.columns) == ["range", "status", "indices"] and set(rep["status"]) <= {"OK", "ANOMALY"}
    assert rep["range"].iloc[0] == "0-999" and len(rep) == -(-len(test) // 1000)
    # the same model loaded here predicts the same thing
    from esa_adb_hier.data import load_mission
    from esa_adb_hier.ensemble import HierarchicalDetector
    again = HierarchicalDetector.load(raw_model).predict(load_mission(data["raw"], progress=False).slice(SPLIT), progress=False)
    np.testing.assert_array_equal(again["is_anomaly"].to_numpy(), df["is_anomaly"].to_numpy())
    np.testing.assert_allclose(again["score"].to_numpy(), df["score"].to_numpy(), atol=1e-6)
    # evaluate against the data and against its labels.csv: same numbers
    r = cli("evaluate", pred, data["raw"], "--out", tmp_path / "metrics.json", "--quiet")
    assert "EW_F_0.50" in r.stdout
    met = read_json(tmp_path / "metrics.json")["metrics"]
    assert 0 <= met["EW_F_0.50"] <= 1 and 0 <= met["EW_precision"] <= 1
    in_process(capsys, "evaluate", pred, data["raw"] / "labels.csv", "--out", tmp_path / "metrics2.json", "--quiet")
    met2 = read_json(tmp_path / "metrics2.json")["metrics"]
    for k in ("EW_F_0.50", "EW_precision", "EW_recall", "alarming_precision"): assert met2[k] == pytest.approx(met[k], nan_ok=True)


def test_preprocessed_csv_autoencoder_and_hierarchical(data, raw_model, raw_predictions, tmp_path, capsys):
    "The CSV form with `--detector autoencoder` (fit, predict, evaluate), and the raw-fitted model predicting the CSV."
    model = tmp_path / "model_ae"
    cli("fit", data["csv"], "--out", model, "--end", SPLIT, "--detector", "autoencoder", *FAST)
    assert read_json(model / "manifest.json")["detector"] == "autoencoder"
    n = len(data["mission"].slice(SPLIT))
    cli("predict", model, data["csv"], "--out", tmp_path / "ae.parquet", "--start", SPLIT, "--quiet")
    check_predictions(tmp_path / "ae.parquet", n)
    in_process(capsys, "evaluate", tmp_path / "ae.parquet", data["csv"], "--out", tmp_path / "ae.json", "--quiet")
    assert "EW_F_0.50" in read_json(tmp_path / "ae.json")["metrics"]
    # the same mission as a CSV gives the same predictions as from the raw directory
    cli("predict", raw_model, data["csv"], "--out", tmp_path / "h.parquet", "--start", SPLIT, "--quiet")
    a, b = check_predictions(tmp_path / "h.parquet", n), check_predictions(raw_predictions, n)
    np.testing.assert_array_equal(a["is_anomaly"].to_numpy(), b["is_anomaly"].to_numpy())
    np.testing.assert_allclose(a["score"].to_numpy(), b["score"].to_numpy(), atol=1e-5)


def test_challenge_parquet_with_submission(data, tmp_path, capsys):
    model = tmp_path / "model"
    cli("fit", data["train"], "--out", model, *FAST)
    pred, sub = tmp_path / "pred.parquet", tmp_path / "submission.parquet"
    cli("predict", model, data["test"], "--out", pred, "--submission", sub, "--quiet")
    test = pd.read_parquet(data["test"])
    df = check_predictions(pred, len(test), ids=True)
    s = pd.read_parquet(sub)
    assert list(s.columns) == ["id", "is_anomaly"] and (s["id"].to_numpy() == test["id"].to_numpy()).all()
    assert (s["is_anomaly"].to_numpy() == df["is_anomaly"].to_numpy()).all()
    # the test part has no labels: evaluate it against the raw labels of the same time line
    assert "EW_F_0.50" in in_process(capsys, "evaluate", pred, data["raw"] / "labels.csv", "--out", tmp_path / "metrics.json", "--quiet")


def bad_cases(data, raw_model, tmp_path):
    d = data["dir"]
    (tmp_path / "unknown_key.json").write_text(json.dumps({"n_outr": 3}))
    (tmp_path / "bad_value.json").write_text(json.dumps({"gamma": -1}))
    return [  # (arguments, text the one-line message must contain)
        (["fit", d / "notes.txt", "--out", tmp_path / "m1"], "unknown data form"),
        (["fit", data["csv"], "--out", "/proc/no_such_dir/model"], "--out /proc/no_such_dir/model: cannot write in /proc"),
        (["predict", raw_model, data["csv"], "--out", "/proc/no_such_dir/p.parquet"], "cannot write in /proc"),
        (["predict", raw_model, data["csv"], "--out", tmp_path / "p.parquet", "--report", "/proc/x/r.csv"],
         "--report /proc/x/r.csv: cannot write in /proc"),
        (["fit", d / "empty", "--out", tmp_path / "m2"], "channels"),
        (["fit", d / "nothing_here", "--out", tmp_path / "m3"], "nothing_here"),
        (["fit", data["test"], "--out", tmp_path / "m4", "--preset", "fast", "--detector", "hierarchical"], "label"),
        (["fit", data["csv"], "--out", tmp_path / "m5", "--config", tmp_path / "unknown_key.json"], "n_outr"),
        (["fit", data["csv"], "--out", tmp_path / "m6", "--config", tmp_path / "bad_value.json"], "gamma"),
        (["fit", data["csv"], "--out", tmp_path / "m7", "--start", "yesterday"], "--start"),
        (["fit", data["csv"], "--out", tmp_path / "m8", "--start", "2000-01-10", "--end", "2000-01-05"], "not before"),
        (["fit", data["csv"], "--out", tmp_path / "m9", "--channels", "41-43", "channel_99"], "channel_99"),
        (["predict", tmp_path / "no_model", data["csv"], "--out", tmp_path / "p.parquet"], "no_model"),
        (["predict", d / "empty", data["csv"], "--out", tmp_path / "p.parquet"], "manifest.json"),
        (["predict", raw_model, d / "without_43.csv", "--out", tmp_path / "p.parquet"], "channel_43"),
        (["predict", raw_model, data["csv"], "--out", tmp_path / "p.parquet", "--start", SPLIT, "--end", "2000-01-14T00:30:00"], "pooling window"),
        (["predict", raw_model, data["csv"], "--out", tmp_path / "p.parquet", "--end", "2000-13-01"], "--end"),
        (["predict", raw_model, data["csv"], "--out", tmp_path / "p.parquet", "--start", "2000-01-18", "--submission", tmp_path / "s.parquet"], "--submission"),
        (["evaluate", d / "notes.txt", data["csv"], "--out", tmp_path / "m.json"], "notes.txt"),
    ]


def test_bad_inputs_from_the_shell(data, raw_model, tmp_path):
    "Exit code 2, one line naming the thing, no traceback -- and a traceback with --debug."
    cases = bad_cases(data, raw_model, tmp_path)
    args, text = cases[-1]                                       # PREDICTIONS that is not a parquet file
    r = cli(*args, "--quiet", ok=False)
    assert text in r.stderr, (args, r.stderr)
    r = subprocess.run(CLI + [str(a) for a in args] + ["--debug"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" in r.stderr and text in r.stderr.splitlines()[-1]


def test_every_bad_input(data, raw_model, tmp_path, capsys):
    "Every bad input of the list, through the same `main` the console script calls."
    from esa_adb_hier.cli import main
    for args, text in bad_cases(data, raw_model, tmp_path):
        assert main([str(a) for a in args] + ["--quiet"]) == 2, args
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if "error:" in ln]
        assert len(lines) == 1 and text in lines[0] and "Traceback" not in err, (args, err)
    # bad input writes nothing
    assert not (tmp_path / "p.parquet").exists() and not (tmp_path / "m5").exists() and not (tmp_path / "p.run.json").exists()


def test_demo_writes_everything(tmp_path):
    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--days", 12, "--seed", 3, "--channels", "41-46", "--quiet")
    for name in ("metrics.json", "report.csv", "predictions.parquet", "events.png", "channel_scores.png",
                 "alarms.csv", "alarms.json", "report.html",
                 "demo.run.json", "demo.log", "model/manifest.json", "mission/labels.csv"):
        assert (out / name).exists(), name
    assert str(out / "metrics.json") in r.stdout and "EW_F_0.50" in r.stdout
    assert re.search(r"scored on \S+ \.\. \S+ \(\d+ events? scored", r.stdout), r.stdout
    met = read_json(out / "metrics.json")["metrics"]
    assert 0 <= met["EW_F_0.50"] <= 1
    rec = read_json(out / "demo.run.json")
    assert rec["status"] == "ok" and {"fit", "predict", "evaluate"} <= set(rec["timings_s"])
    assert read_json(out / "model/manifest.json")["detector"] == "hybrid"      # the default detector


def test_predict_refuses_a_model_with_a_flipped_byte(data, raw_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(raw_model, model)
    rel = next(r for r in sorted(read_json(model / "manifest.json")["files"]) if r.endswith(".ubj"))
    b = bytearray((model / rel).read_bytes()); b[len(b) // 2] ^= 0x01; (model / rel).write_bytes(bytes(b))
    r = cli("predict", model, data["csv"], "--out", tmp_path / "p.parquet", "--start", SPLIT, "--quiet", ok=False)
    assert f"{rel}: SHA-256" in r.stderr and "altered or damaged" in r.stderr, r.stderr
    assert not (tmp_path / "p.parquet").exists()


def test_fit_refuses_to_replace_a_model_without_overwrite(data, tmp_path, capsys):
    from esa_adb_hier.cli import main
    out = tmp_path / "model"
    args = ["fit", data["csv"], "--out", out, "--end", SPLIT, "--channels", "41-42", *FAST]
    in_process(capsys, *args)
    first = read_json(out / "manifest.json")
    t0 = time.perf_counter()
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "already exists" in err and time.perf_counter() - t0 < 5   # refused before the fit
    assert read_json(out / "manifest.json") == first
    in_process(capsys, *args[:-len(FAST)], "--channels", "41", "--overwrite", *FAST)
    man = read_json(out / "manifest.json")
    assert man["channels"] == ["channel_41"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted([*man["files"], "manifest.json", "fit.run.json", "fit.log"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_outputs_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    "A write that fails half-way leaves the previous predictions file as it was, and no temporary file."
    from esa_adb_hier.cli import write_parquet
    path = tmp_path / "pred.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()
    def broken(self, f, **kw): f.write(b"PAR1 half"); raise OSError("disk full")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError, match="disk full"): write_parquet(pd.DataFrame({"a": [3]}), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["pred.parquet"]


def _alive(procs) -> list:
    import psutil
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE: out.append(p)
        except psutil.NoSuchProcess: pass
    return out


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_a_killed_fit_leaves_no_worker_behind(data, tmp_path, sig):
    "Kill `fit --n-jobs 2` while its workers run: within seconds no process it started is left."
    import psutil
    out = tmp_path / "model"
    p = subprocess.Popen(CLI + [str(a) for a in ("fit", data["csv"], "--out", out, "--n-jobs", 2, *FAST)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc, workers, t_end = psutil.Process(p.pid), [], time.time() + 300
        while time.time() < t_end and p.poll() is None and len(workers) < 2:
            try: workers = [c for c in proc.children(recursive=True) if "LokyProcess" in " ".join(c.cmdline())]
            except psutil.Error: pass
            time.sleep(0.1)
        assert len(workers) >= 2 and p.poll() is None, "the fit ended before its workers were seen"
        time.sleep(1.0)
        started = proc.children(recursive=True)
        p.send_signal(getattr(signal, sig))
        _, err = p.communicate(timeout=60)
        t_end = time.time() + 10
        while _alive(started) and time.time() < t_end: time.sleep(0.2)
        assert not _alive(started), [(c.pid, c.cmdline()) for c in _alive(started)]
        if sig != "SIGKILL":
            assert p.returncode == 130 and "interrupted" in err, (p.returncode, err[-2000:])
            left = sorted(x.name for x in tmp_path.iterdir() if x.name != "model.checkpoint")
            assert left in ([], ["model"]), left                                   # no staging directory left
            if (tmp_path / "model.checkpoint").exists(): assert "--resume" in err, err[-2000:]
        if out.exists(): HierarchicalDetector_load(out)
    finally:
        if p.poll() is None: p.kill()


def HierarchicalDetector_load(path):
    from esa_adb_hier.ensemble import HierarchicalDetector
    return HierarchicalDetector.load(path, progress=False)


def test_fit_logs_the_config_only_at_debug_level(data, tmp_path, capsys):
    "The config (about 100 lines) is in the run record; the log shows it only with --debug; fallbacks take one line."
    from esa_adb_hier.cli import main
    args = ["fit", data["csv"], "--end", SPLIT, "--channels", "41-42", "--preset", "fast",
            "--detector", "hierarchical"]
    assert main([str(a) for a in args + ["--out", tmp_path / "m1"]]) == 0
    err = capsys.readouterr().err
    log = (tmp_path / "m1" / "fit.log").read_text()
    assert "n_outer" not in err and "n_outer" not in log, err[-2000:]
    assert read_json(tmp_path / "m1" / "fit.run.json")["config"]["n_outer"] == 3
    fallback = [ln for ln in log.splitlines() if "fallback" in ln]
    assert len(fallback) == 1 and "as expected on short ranges" in fallback[0] and "07b_ensemble_channel" in fallback[0]
    assert main([str(a) for a in args + ["--out", tmp_path / "m2", "--debug"]]) == 0
    capsys.readouterr()
    assert '"n_outer": 3' in (tmp_path / "m2" / "fit.log").read_text()


def test_the_demo_summary_says_which_events_are_scored():
    from types import SimpleNamespace
    from esa_adb_hier.cli import _scored_events
    labels = pd.DataFrame({"ID": [1, 1, 2, 3], "Category": ["Anomaly", "Anomaly", "Communication Gap", "Rare Event"]})
    assert _scored_events(SimpleNamespace(labels=labels)) == (
        "2 events scored; 1 communication gap(s) held out are not scored, as in ESA-ADB")
    assert _scored_events(SimpleNamespace(labels=labels.iloc[:2])) == "1 event scored"


def test_a_killed_fit_resumes_with_the_same_predictions(data, tmp_path):
    "`fit` killed with SIGKILL part-way, then `fit --resume`: the finished channels are reused, the model is the same."
    args = ["fit", data["csv"], "--end", SPLIT, "--channels", "41-43", "--n-jobs", 1, *FAST]
    whole, part = tmp_path / "whole", tmp_path / "part"
    cli(*args, "--out", whole)
    ckpt = tmp_path / "part.checkpoint"
    p = subprocess.Popen(CLI + [str(a) for a in args + ["--out", part]], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not list(ckpt.glob("*/manifest.json")) and p.poll() is None and time.time() - t0 < 300: time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert not (part / "manifest.json").exists(), "the fit ended before it could be killed"
    done = sorted(m.parent.name for m in ckpt.glob("*/manifest.json"))
    assert done, "no channel finished before the kill"
    cli(*args, "--out", part, "--resume")
    assert read_json(part / "fit.run.json")["resumed_channels"] == done
    assert not ckpt.exists()                                    # removed once the model is saved
    preds = []
    for model in (whole, part):
        out = tmp_path / f"{model.name}.parquet"
        cli("predict", model, data["csv"], "--out", out, "--start", SPLIT, "--quiet")
        preds.append(pd.read_parquet(out))
    pd.testing.assert_frame_equal(preds[0], preds[1])


def test_predict_writes_the_alarms_and_report_shows_them(data, tmp_path):
    "Every predicted event is in alarms.csv with at least one channel; `report` renders them into one HTML page."
    from esa_adb_hier.core import mask_to_runs
    model, pred_path = tmp_path / "m", tmp_path / "p" / "pred.parquet"
    cli("fit", data["csv"], "--out", model, "--channels", "41-43", *FAST)        # scored on its own range: it alarms
    cli("predict", model, data["csv"], "--out", pred_path, "--quiet")
    alarms = pd.read_csv(pred_path.parent / "alarms.csv")
    pred = pd.read_parquet(pred_path)
    n_events = len(mask_to_runs(pred["is_anomaly"].to_numpy().astype(bool))[0])
    assert n_events > 0 and alarms["alarm"].nunique() == n_events
    per_alarm = alarms[alarms["level"] == "channel"].groupby("alarm")["channel"].nunique()
    assert len(per_alarm) == n_events and (per_alarm >= 1).all()
    assert len(read_json(pred_path.parent / "alarms.json")) == len(alarms)
    out = tmp_path / "r.html"
    r = cli("report", pred_path, data["csv"], "--out", out, "--quiet")
    html = out.read_text()
    assert "report of" in r.stdout and html.count("<img") >= 3 and "data:image/png;base64," in html
    top = alarms[alarms["level"] == "channel"]["channel"].dropna().unique()
    assert all(c in html for c in top)
    cli("report", pred_path, data["csv"], "--out", tmp_path / "nope.html", "--model", tmp_path / "none", ok=False)
    assert not (tmp_path / "nope.html").exists()


def test_fit_with_a_search_records_it_in_the_model(data, tmp_path):
    out = tmp_path / "m"
    r = cli("fit", data["csv"], "--out", out, "--end", SPLIT, "--channels", "41-42", "--search-trials", 1,
            "--detector", "hierarchical", *FAST)
    man = read_json(out / "manifest.json")
    assert man["search"]["budget"]["trials"] == 1 and {"baseline_score", "best_score", "layers"} <= set(man["search"])
    assert read_json(out / "fit.run.json")["search"] == man["search"]
    assert "validation precision" in r.stdout and "fit seconds" in r.stdout
