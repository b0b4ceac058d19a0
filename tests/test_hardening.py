"""A careless or hostile user: folders that are not textrnn's, damaged run files, odd text files,
bad options, concurrent explain and predict. Each case ends in the right result or one line and
exit code 2; nothing textrnn did not write is ever replaced or deleted."""

import json
import shutil
import threading

import numpy as np
import pytest

from textrnn.app.explain import explain
from textrnn.app.runs import load_run_model
from textrnn.cli import main
from textrnn.io_utils import atomic_write_dir, settle_dir

SMALL = ["--train-size", "120", "--maxlen", "30", "--vocab-size", "500", "--units", "8",
         "--epochs", "1", "-q"]


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *needles):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "lstm", "--out", str(run), *SMALL]) == 0
    return run


def _copy(run, tmp_path, name="copy"):
    return shutil.copytree(run, tmp_path / name)


# --- the output-folder policy --------------------------------------------------------------------
def test_train_refuses_a_folder_that_is_not_a_run_and_deletes_nothing(capsys, tmp_path):
    project = tmp_path / "project"
    (project / "model").mkdir(parents=True)
    (project / "model" / "__init__.py").write_text("keep me")
    (project / "metrics.json").write_text('{"mine": 1}')
    code, _, err = _cli(capsys, "train", "lstm", "--out", str(project), *SMALL)
    _one_line_error(code, err, "did not write")
    assert (project / "model" / "__init__.py").read_text() == "keep me"
    assert (project / "metrics.json").read_text() == '{"mine": 1}'
    assert sorted(p.name for p in project.iterdir()) == ["metrics.json", "model"]


def test_train_refuses_a_file_as_out(capsys, tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    code, _, err = _cli(capsys, "train", "lstm", "--out", str(target), *SMALL)
    _one_line_error(code, err, "is a file")
    assert target.read_text() == "mine"


def test_demo_keeps_a_user_file_and_reruns_its_own_folder(capsys, tmp_path, trained):
    run = _copy(trained, tmp_path)
    (run / "thesis.tex").write_text("years of work")
    code, _, err = _cli(capsys, "demo", "--epochs", "1", "--maxlen", "20", "--out", str(run), "-q")
    _one_line_error(code, err, "thesis.tex")
    assert (run / "thesis.tex").read_text() == "years of work"
    (run / "thesis.tex").unlink()
    code, _, err = _cli(capsys, "demo", "--epochs", "1", "--maxlen", "20", "--out", str(run), "-q")
    assert code == 0, err
    assert json.loads((run / "run.json").read_text())["maxlen"] == 20


def test_import_keras_does_not_replace_a_trained_run(capsys, tmp_path, trained):
    run = _copy(trained, tmp_path)
    before = (run / "model" / "weights.safetensors").read_bytes()
    code, _, err = _cli(capsys, "import-keras", str(tmp_path / "any.keras"), "--out", str(run))
    _one_line_error(code, err)
    assert (run / "model" / "weights.safetensors").read_bytes() == before


def test_compare_refuses_to_reuse_runs_made_with_other_settings(capsys, tmp_path):
    out = tmp_path / "cmp"
    assert _cli(capsys, "compare", "gru", "--out", str(out), *SMALL)[0] == 0
    code, _, err = _cli(capsys, "compare", "gru", "--out", str(out), *SMALL[:-3], "--epochs", "2", "-q")
    _one_line_error(code, err, "other settings")


def test_an_interrupted_start_restarts_by_rerun_or_resume(capsys, tmp_path, trained):
    for how in ("rerun", "resume"):
        run = _copy(trained, tmp_path, how)
        shutil.rmtree(run / "checkpoint")  # killed before the first epoch ended
        for name in ("model", "metrics.json", "history.json"):
            shutil.rmtree(run / name) if (run / name).is_dir() else (run / name).unlink()
        argv = (["train", "lstm", "--out", str(run), *SMALL] if how == "rerun"
                else ["train", "--resume", str(run), "-q"])
        code, _, err = _cli(capsys, *argv)
        assert code == 0, err
        assert (run / "checkpoint").is_dir() and (run / "metrics.json").is_file()


def test_resume_refuses_options_it_would_ignore(capsys, trained):
    code, _, err = _cli(capsys, "train", "--resume", str(trained), "--epochs", "8", "--data", "imdb")
    _one_line_error(code, err, "--epochs", "--data")


def test_a_crash_between_the_two_renames_leaves_the_old_folder_found(tmp_path):
    target = tmp_path / "checkpoint"
    atomic_write_dir(target, lambda d: (d / "state.json").write_text("1"))

    def crash(folder):
        (folder / "state.json").write_text("2")
        # what atomic_write_dir does first when it replaces: move the old folder aside ...
        target.rename(tmp_path / ".checkpoint.old")
        raise SystemExit  # ... and die before the new one is renamed into place

    with pytest.raises(SystemExit):
        atomic_write_dir(target, crash)
    assert not target.exists()
    assert (settle_dir(target) / "state.json").read_text() == "1"


# --- damaged run files ---------------------------------------------------------------------------
def _damage(path, how):
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    else:  # garbled: the middle third overwritten
        third = len(data) // 3
        path.write_bytes(data[:third] + bytes(range(256)) * (third // 256 + 1) + data[2 * third:])


RUN_FILES = ["model/weights.safetensors", "model/config.json", "model/vocab.json", "run.json",
             "checkpoint/weights.safetensors", "checkpoint/state.json", "checkpoint/optimizer.safetensors",
             "checkpoint/rng.safetensors"]


@pytest.mark.parametrize("how", ["empty", "truncated", "garbled"])
@pytest.mark.parametrize("name", RUN_FILES)
def test_every_damaged_run_file_is_one_line_for_every_command(capsys, tmp_path, trained, name, how):
    run = _copy(trained, tmp_path)
    _damage(run / name, how)
    commands = {"predict": ["predict", str(run), "a fine film"], "evaluate": ["evaluate", str(run)],
                "resume": ["train", "--resume", str(run), "-q"],
                "export": ["export", str(run), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]}
    refused = []
    for command, argv in commands.items():
        code, _, err = _cli(capsys, *argv)
        if code == 0:  # a command that does not read this file
            continue
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (command, err)
        refused.append(command)
    readers = {"model": {"predict", "evaluate", "export"}, "run.json": {"evaluate", "resume"},
               "checkpoint": {"resume"}}[name.split("/")[0]]
    assert readers <= set(refused), refused


def test_weights_of_the_wrong_shape_and_nan_weights_are_refused(capsys, tmp_path, trained):
    from safetensors.torch import load_file, save_file

    for change, needle in ((lambda t: t[:-1], "shape"), (lambda t: t * float("nan"), "NaN")):
        run = _copy(trained, tmp_path, needle)
        path = run / "model" / "weights.safetensors"
        tensors = load_file(str(path))
        first = sorted(tensors)[0]
        tensors[first] = change(tensors[first]).contiguous()
        save_file(tensors, str(path))
        code, _, err = _cli(capsys, "evaluate", str(run))
        _one_line_error(code, err, needle)


# --- options -------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", [["--batch-size", "-5"], ["--batch-size", "0"], ["--maxlen", "0"],
                                    ["--vocab-size", "-5"], ["--seed", "-1"], ["--lr", "inf"],
                                    ["--lr", "nan"], ["--epochs", "0"], ["--val-split", "1"]])
def test_bad_options_fail_before_anything_is_written(capsys, tmp_path, option):
    out = tmp_path / "run"
    code, _, err = _cli(capsys, "train", "lstm", "--out", str(out), *SMALL, *option)
    _one_line_error(code, err, option[0].lstrip("-").split("-")[0])
    assert not out.exists()


def test_serve_and_export_refuse_impossible_targets(capsys, tmp_path, trained):
    code, _, err = _cli(capsys, "serve", str(trained), "--port", "99999")
    _one_line_error(code, err, "--port")
    code, _, err = _cli(capsys, "export", str(trained), "--format", "onnx", "--out", str(tmp_path))
    _one_line_error(code, err, "is a folder")


def test_labels_that_are_scores_or_strays_are_refused(capsys, tmp_path):
    rows = [f"review {i} words here,{i % 11 / 10}" for i in range(60)]
    scores = tmp_path / "scores.csv"
    scores.write_text("text,label\n" + "\n".join(rows) + "\n")
    code, _, err = _cli(capsys, "train", "lstm", "--data", str(scores), "--out", str(tmp_path / "a"), "-q")
    _one_line_error(code, err, "not a class")
    rows = [f"review {i},{'pos' if i % 2 else 'neg'}" for i in range(60)] + ["odd one,banana"]
    stray = tmp_path / "stray.csv"
    stray.write_text("text,label\n" + "\n".join(rows) + "\n")
    code, _, err = _cli(capsys, "train", "lstm", "--data", str(stray), "--out", str(tmp_path / "b"), "-q")
    _one_line_error(code, err, "banana")
    floats = tmp_path / "floats.csv"
    floats.write_text("text,label\n" + "\n".join(f"good film {i},{float(i % 2)}" for i in range(60)) + "\n")
    code, _, err = _cli(capsys, "train", "lstm", "--data", str(floats), "--out", str(tmp_path / "c"),
                        "--maxlen", "10", "--epochs", "1", "-q")
    assert code == 0, err
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["test"]["classes"] == ["0", "1"]


# --- predict's inputs ----------------------------------------------------------------------------
def test_predict_gives_one_row_per_line_whatever_the_line_holds(capsys, tmp_path, trained):
    texts = ["a fine\x0cfilm", "next\u0085line stays", "para\u2028graph", "tab\there", "last\r"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n\n", encoding="utf-8", newline="")
    code, out, err = _cli(capsys, "predict", str(trained), "--file", str(path), "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["text"] for r in rows] == texts[:-1] + ["last"]
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]


def test_predict_reads_jsonl_records_and_multiline_csv_cells(capsys, tmp_path, trained):
    jsonl = tmp_path / "texts.jsonl"
    jsonl.write_text('{"text": "a fine film", "id": 1}\n\n"just a string"\n')
    code, out, _ = _cli(capsys, "predict", str(trained), "--file", str(jsonl), "--json")
    assert [(r["line"], r["text"]) for r in json.loads(out)] == [(1, "a fine film"), (3, "just a string")]
    table = tmp_path / "texts.csv"
    table.write_text('id,text\n1,"two\nlines"\n2,one line\n')
    code, out, _ = _cli(capsys, "predict", str(trained), "--file", str(table), "--json")
    assert [(r["line"], r["text"]) for r in json.loads(out)] == [(2, "two\nlines"), (4, "one line")]


def test_predict_refuses_empty_texts_and_wrong_encodings(capsys, tmp_path, trained):
    code, _, err = _cli(capsys, "predict", str(trained), "")
    _one_line_error(code, err, "empty")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème\n".encode("latin-1"))
    code, _, err = _cli(capsys, "predict", str(trained), "--file", str(latin))
    _one_line_error(code, err, "latin.txt", "--encoding")
    code, out, _ = _cli(capsys, "predict", str(trained), "--file", str(latin), "--encoding", "latin-1",
                        "--json")
    assert code == 0 and json.loads(out)[0]["text"] == "café crème"


def test_a_five_megabyte_line_is_read(capsys, tmp_path, trained):
    path = tmp_path / "long.txt"
    path.write_text("good " * 1_000_000 + "\nbad\n")
    code, out, err = _cli(capsys, "predict", str(trained), "--file", str(path), "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 2


# --- explain beside predict ----------------------------------------------------------------------
def test_explain_never_changes_the_shared_model(trained):
    model = load_run_model(trained)
    x = model.text_encoder.encode(["a fine film", "dull and long", "superb acting"] * 4)
    expected = model.predict(x)
    errors, mismatches = [], []

    def explainer():
        try:
            for _ in range(15):
                explain(model, "a fine film with superb acting")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    def predictor():
        try:
            for _ in range(15):
                got = model.predict(x)
                if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
                    mismatches.append(got.shape)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (explainer, explainer, predictor, predictor)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not mismatches
    rnn = [layer for layer in model.layers if hasattr(layer, "return_sequences")][-1]
    assert rnn.return_sequences is False
    np.testing.assert_allclose(model.predict(x), expected, atol=1e-6)


# --- the kernel cache ----------------------------------------------------------------------------
def test_the_kernel_build_folder_is_keyed_by_what_the_build_depends_on(monkeypatch, tmp_path):
    from textrnn.backend import kernels

    monkeypatch.setenv("TEXTRNN_KERNEL_CACHE", str(tmp_path))
    here = kernels._build_dir()
    assert here.parent == tmp_path and kernels._build_dir() == here  # stable
    monkeypatch.setattr(kernels, "_cpu_features", lambda: "flags: sse2")
    other_cpu = kernels._build_dir()
    monkeypatch.setattr(kernels.torch, "__file__", "/elsewhere/venv/torch/__init__.py")
    other_env = kernels._build_dir()
    assert len({here, other_cpu, other_env}) == 3


# --- resource bombs and malformed .keras files ---------------------------------------------------
def _keras_file(tmp_path, members):
    import zipfile

    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture
def keras_members(tmp_path):
    import zipfile

    import textrnn.layers as L
    from textrnn.interop.keras_io import save_keras_model
    from textrnn.models import Sequential

    model = Sequential([L.Embedding(50, 4), L.LSTM(4), L.Dense(1, activation="sigmoid")])
    model.build((None, 10))
    save_keras_model(model, tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_config_that_inflates_to_gigabytes_is_refused_before_it_is_read(capsys, tmp_path, keras_members):
    import resource

    bomb = _keras_file(tmp_path, {**keras_members, "config.json": b" " * (64 << 20)})
    assert bomb.stat().st_size < 1 << 20
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, _, err = _cli(capsys, "import-keras", str(bomb), "--out", str(tmp_path / "run"))
    _one_line_error(code, err, "inflates")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB: under 100 MB more


def test_an_h5_that_declares_a_huge_dataset_is_refused_by_its_shape(capsys, tmp_path, keras_members):
    import io

    import h5py

    buffer = io.BytesIO(keras_members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        group = h5["layers/embedding/vars"]
        del group["0"]
        group.create_dataset("0", shape=(1 << 20, 1 << 10), dtype="float32")  # 4 GB declared, none stored
    bomb = _keras_file(tmp_path, {**keras_members, "model.weights.h5": buffer.getvalue()})
    code, _, err = _cli(capsys, "import-keras", str(bomb), "--out", str(tmp_path / "run"))
    _one_line_error(code, err, "shape (50, 4)")


@pytest.mark.parametrize("config", [b"[]", b"{\"class_name\": 3}", b"[" * 100_000, b"\xff\xfe"])
def test_malformed_keras_configs_are_one_line(capsys, tmp_path, keras_members, config):
    path = _keras_file(tmp_path, {**keras_members, "config.json": config})
    code, _, err = _cli(capsys, "import-keras", str(path), "--out", str(tmp_path / "run"))
    _one_line_error(code, err)


# --- kill -9 at random points --------------------------------------------------------------------
def test_kill_9_at_random_points_then_resume_equals_the_uninterrupted_run(tmp_path):
    """A training process killed with SIGKILL at random moments (inside an epoch, a save, the final
    evaluation), then resumed until it finishes, ends with the weights and history of a run that was
    never interrupted."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    from textrnn.models import load_model

    argv = ["train", "lstm", "--data", "sample", "--train-size", "300", "--maxlen", "40", "--vocab-size",
            "600", "--units", "8", "--epochs", "4", "--patience", "0", "--seed", "5", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "textrnn"]
    subprocess.run([*command, *argv, "--out", str(tmp_path / "straight")], env=env, check=True)
    rng = random.Random(7)
    killed = tmp_path / "killed"
    kills = 0
    proc = subprocess.Popen([*command, *argv, "--out", str(killed)], env=env)
    for _ in range(12):
        try:
            proc.wait(timeout=rng.uniform(0.5, 4.0))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        if (killed / "metrics.json").is_file():
            break
        time.sleep(0.05)
        resume = [*command, "train", "--resume", str(killed), "-q"] if (killed / "run.json").is_file() \
            else [*command, *argv, "--out", str(killed)]
        proc = subprocess.Popen(resume, env=env)
    proc.wait()
    assert (killed / "metrics.json").is_file() and kills >= 1
    a, b = load_model(tmp_path / "straight" / "model"), load_model(killed / "model")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert json.loads((tmp_path / "straight" / "history.json").read_text()) == \
        json.loads((killed / "history.json").read_text())
