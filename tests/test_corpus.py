"""Published Keras scripts (tests/corpus: Keras's own examples, keras.io, Deep Learning with Python,
Machine Learning Mastery) run on textrnn with only their import lines changed, against real Keras
on the same data and seeds: at least 90 % of them run, each one that runs reports a figure that
agrees with Keras's, and the ones textrnn does not support are refused with its own one-line
error. Two seeds per library and script; the corpus's README lists the sources and the changes."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
import run as corpus_run  # noqa: E402


def test_only_the_import_lines_change():
    for name in corpus_run.CORPUS:
        original = (corpus_run.SCRIPTS / f"{name}.py").read_text().splitlines()
        changed = corpus_run.to_textrnn("\n".join(original)).splitlines()
        assert len(original) == len(changed)
        for before, after in zip(original, changed):
            if before != after:
                assert before.lstrip().startswith(("import keras", "from keras", "from tensorflow")), before
                assert "textrnn" in after and "keras" not in after.replace("as keras", ""), after


@pytest.fixture(scope="module")
def corpus_result(imdb_archive):  # the scripts read the real IMDB data
    return corpus_run.run_corpus(list(corpus_run.CORPUS), seeds=2, jobs=2)


def test_at_least_90_percent_of_the_scripts_run_and_agree_with_keras(corpus_result):
    rows = corpus_result["scripts"]
    assert all(row["keras_runs"] for row in rows.values()), {k: r["errors"] for k, r in rows.items()}
    assert corpus_result["run_rate"] >= 0.9, corpus_run.markdown(corpus_result)
    for name, row in rows.items():
        assert row["runs"] == (row["expect"] == "runs"), (name, row["errors"])
        if row["runs"]:
            assert row["agrees"], (name, corpus_run.markdown(corpus_result))
        else:  # textrnn's own error, in one line that says what is not supported
            assert any(error.startswith(row["expect"]) for error in row["errors"]), (name, row["errors"])
