"""Runs the corpus of published Keras scripts (scripts/, their sources in README.md) twice per seed:
on real Keras (3, torch backend) as they are, and on textrnn with only their import lines changed
(`import keras` -> `import textrnn as keras`, `from keras.X import` -> `from textrnn.X import`),
then compares the figure each script reports (corpus.report).

A script "runs" on textrnn when it exits cleanly and reports; it "agrees" when textrnn's mean over
the seeds is within AGREEMENT of Keras's (accuracy: 0.05 or twice the larger seed-to-seed range of
the two, loss / RMSE: 25 % of Keras's mean or twice that range).

    TEXTRNN_DATA=... python tests/corpus/run.py [--seeds 2] [--jobs 2] [--only NAME ...] [--out F]

tests/test_corpus.py runs it in CI; docs/guide/keras.md has its table (command, date, machine).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = HERE / "scripts"
RESULT = "CORPUS-RESULT"


@dataclass
class Script:
    source: str
    metric: str = "accuracy"  # the figure the script reports: accuracy (higher), loss / rmse (lower)
    # (old, new) replacements in the Keras run only, where Keras 3 dropped what the script uses
    oracle_edits: list[tuple[str, str]] = field(default_factory=list)
    # what textrnn does with it: "runs", or the start of the one-line error that refuses it
    expect: str = "runs"
    # Keras runs it only with TensorFlow (tf.data, TextVectorization), which CI has not: its
    # figures per seed as recorded by `run.py --tensorflow-python PY --only NAME` (see RECORDED)
    needs_tensorflow: bool = False


# Keras 3 dropped Keras 2's Tokenizer: its package of record, keras-preprocessing 1.1.2, stands in
KERAS2_TOKENIZER = ("from keras.preprocessing.text import Tokenizer",
                    "from keras_preprocessing.text import Tokenizer")

CORPUS = {
    "keras2_imdb_lstm": Script("https://github.com/keras-team/keras/blob/2.3.1/examples/imdb_lstm.py"),
    "keras2_imdb_cnn_lstm": Script("https://github.com/keras-team/keras/blob/2.3.1/examples/imdb_cnn_lstm.py"),
    "keras2_imdb_bidirectional_lstm": Script(
        "https://github.com/keras-team/keras/blob/2.3.1/examples/imdb_bidirectional_lstm.py"),
    "keras2_imdb_cnn": Script("https://github.com/keras-team/keras/blob/2.3.1/examples/imdb_cnn.py"),
    # Keras 3 refuses a NumPy integer as Embedding's input_dim (Keras 2 took it)
    "keras2_imdb_fasttext": Script("https://github.com/keras-team/keras/blob/2.3.1/examples/imdb_fasttext.py",
                                   oracle_edits=[(
                                       "max_features = np.max(list(indice_token.keys())) + 1",
                                       "max_features = int(np.max(list(indice_token.keys())) + 1)")]),
    "keras2_pretrained_word_embeddings": Script(
        "https://github.com/keras-team/keras/blob/2.3.1/examples/pretrained_word_embeddings.py",
        oracle_edits=[KERAS2_TOKENIZER]),
    "kerasio_bidirectional_lstm_imdb": Script(
        "https://github.com/keras-team/keras-io/blob/master/examples/nlp/bidirectional_lstm_imdb.py"),
    "kerasio_addition_rnn": Script("https://github.com/keras-team/keras-io/blob/master/examples/nlp/addition_rnn.py"),
    "kerasio_text_generation": Script(
        "https://github.com/keras-team/keras-io/blob/master/examples/generative/"
        "lstm_character_level_text_generation.py", metric="loss"),
    "kerasio_lstm_seq2seq": Script("https://github.com/keras-team/keras-io/blob/master/examples/nlp/lstm_seq2seq.py"),
    "dlwp_embedding_flatten": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.1-using-word-embeddings.ipynb"),
    "dlwp_simple_rnn_imdb": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.2-understanding-recurrent-neural-networks.ipynb"),
    "dlwp_lstm_imdb": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.2-understanding-recurrent-neural-networks.ipynb"),
    "dlwp_bidirectional_lstm": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.3-advanced-usage-of-recurrent-neural-networks.ipynb"),
    "dlwp_conv1d_imdb": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.4-sequence-processing-with-convnets.ipynb",
        oracle_edits=[("RMSprop(lr=1e-4)", "RMSprop(learning_rate=1e-4)")]),  # Keras 3 refuses lr=
    "dlwp_pretrained_glove": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "first_edition/6.1-using-word-embeddings.ipynb",
        # Keras 3 refuses a weights file not named .weights.h5 (Keras 2 wrote .h5), and its
        # Embedding ignores input_length, so the model has no weights to set until it is built
        oracle_edits=[KERAS2_TOKENIZER,
                      ("pre_trained_glove_model.h5", "pre_trained_glove_model.weights.h5"),
                      ("model.layers[0].set_weights([embedding_matrix])",
                       "model.build((None, maxlen))\nmodel.layers[0].set_weights([embedding_matrix])")]),
    "dlwp2_bidirectional_lstm_masking": Script(
        "https://github.com/fchollet/deep-learning-with-python-notebooks/blob/master/"
        "chapter11_part02_sequence-models.ipynb", needs_tensorflow=True),
    "mlm_airline_lstm": Script(
        "https://machinelearningmastery.com/time-series-prediction-lstm-recurrent-neural-networks-python-keras/",
        metric="rmse"),
    "mlm_imdb_cnn_lstm": Script(
        "https://machinelearningmastery.com/sequence-classification-lstm-recurrent-neural-networks-python-keras/",
        # Keras 3 has no keras.layers.convolutional / keras.layers.embeddings modules
        oracle_edits=[("from keras.layers.convolutional import", "from keras.layers import"),
                      ("from keras.layers.embeddings import", "from keras.layers import")]),
}


# Keras's figures for the scripts that need TensorFlow: seeds 0, 1, from
# `run.py --seeds 2 --only NAME --tensorflow-python /path/to/env/bin/python` (Keras 3.15.1 on
# TensorFlow 2.21.0 CPU), 2026-12-07, the machine of docs/guide/keras.md's table.
RECORDED: dict[str, list[float]] = {"dlwp2_bidirectional_lstm_masking": [0.506, 0.588]}


def to_textrnn(text: str) -> str:
    """The script with its import lines pointing at textrnn, every other line as it was."""
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^(\s*)(?:import keras|from tensorflow import keras)(\s*(#.*)?)$",
                      r"\1import textrnn as keras\2", line)
        line = re.sub(r"^(\s*)from (?:tensorflow\.)?keras((?:\.\w+)*) import ",
                      r"\1from textrnn\2 import ", line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def to_keras(text: str, script: Script) -> str:
    for old, new in script.oracle_edits:
        if old not in text:
            raise ValueError(f"oracle edit {old!r} matches nothing")
        text = text.replace(old, new)
    return text


@dataclass
class Run:
    ok: bool
    figure: float | None
    seconds: float
    error: str = ""  # the last line of stderr when the script failed


def run_script(name: str, library: str, seed: int, threads: int = 1, timeout: int = 900,
               tensorflow_python: str | None = None) -> Run:
    script = CORPUS[name]
    text = (SCRIPTS / f"{name}.py").read_text()
    text = to_textrnn(text) if library == "textrnn" else to_keras(text, script)
    python, backend = sys.executable, "torch"
    if library == "keras" and script.needs_tensorflow:
        if not tensorflow_python:
            return Run(True, RECORDED[name][seed], 0.0)
        python, backend = tensorflow_python, "tensorflow"
    env = {**os.environ, "KERAS_BACKEND": backend, "CORPUS_SEED": str(seed), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "KERAS_HOME": tempfile.gettempdir()}
    if backend == "tensorflow":  # a Python without textrnn: the IMDB folders made here, once
        env["CORPUS_IMDB_FOLDERS"] = _imdb_folders()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.py"
        path.write_text(text)
        start = time.perf_counter()
        try:
            done = subprocess.run([python, str(path)], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Run(False, None, time.perf_counter() - start, f"timed out after {timeout} s")
        seconds = time.perf_counter() - start
    figures = [json.loads(line[len(RESULT):]) for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not figures:
        last = [line for line in done.stderr.strip().splitlines() if line.strip()] or ["(no output)"]
        return Run(False, None, seconds, last[-1].strip())
    return Run(True, figures[-1][script.metric], seconds)


@functools.cache
def _imdb_folders() -> str:
    """aclImdb folders made here once (textrnn reads the archive) for a Python without textrnn."""
    sys.path.insert(0, str(HERE))
    import corpus

    folder = tempfile.mkdtemp(prefix="corpus-imdb-")
    corpus.imdb_folders(os.path.join(folder, "aclImdb"))
    return folder


def agreement(script: Script, ours: list[float], theirs: list[float]) -> tuple[bool, float]:
    """Whether textrnn's mean is within the allowed distance of Keras's, and that distance."""
    spread = max(max(ours) - min(ours), max(theirs) - min(theirs))
    base = 0.05 if script.metric == "accuracy" else 0.25 * abs(statistics.mean(theirs))
    allowed = max(base, 2 * spread)
    return abs(statistics.mean(ours) - statistics.mean(theirs)) <= allowed, allowed


def run_corpus(names: list[str], seeds: int, jobs: int, tensorflow_python: str | None = None) -> dict:
    tasks = [(name, library, seed) for name in names for library in ("textrnn", "keras")
             for seed in range(seeds)]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = dict(zip(tasks, pool.map(
            lambda t: run_script(*t, tensorflow_python=tensorflow_python), tasks)))
    rows = {}
    for name in names:
        script = CORPUS[name]
        ours = [runs[(name, "textrnn", s)] for s in range(seeds)]
        theirs = [runs[(name, "keras", s)] for s in range(seeds)]
        row = {"source": script.source, "metric": script.metric, "expect": script.expect,
               "textrnn": [r.figure for r in ours], "keras": [r.figure for r in theirs],
               "textrnn_seconds": [round(r.seconds, 1) for r in ours],
               "keras_seconds": [round(r.seconds, 1) for r in theirs],
               "runs": all(r.ok for r in ours), "keras_runs": all(r.ok for r in theirs),
               "keras_recorded": script.needs_tensorflow and not tensorflow_python,
               "errors": sorted({r.error for r in ours + theirs if r.error})}
        if row["runs"] and row["keras_runs"]:
            row["agrees"], row["allowed"] = agreement(script, row["textrnn"], row["keras"])
        rows[name] = row
    ran = sum(row["runs"] for row in rows.values())
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores", "seeds": seeds,
            "scripts": rows, "run_rate": ran / len(rows)}


def markdown(result: dict) -> str:
    lines = [f"{result['date']}, {result['machine']}, {result['seeds']} seeds each; "
             f"{100 * result['run_rate']:.0f} % of the scripts run on textrnn unchanged",
             "", "| script | figure | textrnn | Keras 3 (torch) | agrees |", "|---|---|---|---|---|"]
    for name, row in result["scripts"].items():
        def cell(figures, ok):
            return (f"{statistics.mean(figures):.3f} ({', '.join(f'{f:.3f}' for f in figures)})" if ok
                    else "fails")
        agrees = {True: "yes", False: "no"}.get(row.get("agrees"), "-")
        recorded = " (on TensorFlow, recorded)" if row["keras_recorded"] else ""
        keras_cell = cell(row["keras"], row["keras_runs"]) + recorded
        lines.append(f"| [{name}]({row['source']}) | {row['metric']} | {cell(row['textrnn'], row['runs'])} | "
                     f"{keras_cell} | {agrees} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=sorted(CORPUS))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--tensorflow-python", help="a Python with keras and tensorflow: runs the Keras side "
                        "of the scripts that need TensorFlow (else their RECORDED figures are used)")
    args = parser.parse_args()
    result = run_corpus(args.only or list(CORPUS), args.seeds, args.jobs, args.tensorflow_python)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))
    for name, row in result["scripts"].items():
        for error in row["errors"]:
            print(f"{name}: {error}")


if __name__ == "__main__":
    main()
