"""Embedding pretraining: the three methods, word-vector files, and step 3 (frozen / fine-tuned)."""

import json

import numpy as np
import pytest

from textrnn.app.pretrain import PretrainedEmbedding, align_vectors, read_word_vectors
from textrnn.app.pretrain.run import pretrain
from textrnn.cli import main
from textrnn.data.text import Vocabulary
from textrnn.errors import DataError
from textrnn.models import load_model


@pytest.fixture(scope="module")
def w2v_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("emb") / "w2v"
    pretrain("word2vec", "sample", out, vocab="sample", dim=32, epochs=3, verbose=0)
    return out


def test_word2vec_on_real_reviews_learns_similar_words(w2v_sample, capsys):
    emb = PretrainedEmbedding.load(w2v_sample)
    assert emb.matrix.shape == (10000, 32) and emb.vocabulary.size == 10000
    card = json.loads((w2v_sample / "card.json").read_text())
    assert card["method"] == "word2vec" and card["documents"] == 3000 and card["time_s"] > 0
    near = [w for w, _ in emb.neighbors("excellent", 10)]
    assert {"superb", "outstanding", "brilliant", "fantastic", "terrific", "wonderful"} & set(near)
    assert main(["neighbors", str(w2v_sample), "excellent", "-k", "3"]) == 0
    assert capsys.readouterr().out.startswith("excellent: ")
    with pytest.raises(DataError, match="not in this embedding's vocabulary"):
        emb.neighbors("qwertyuiop")


def test_language_model_pretraining_on_a_text_file(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(["the film was good and the actors were good"] * 40
                                + ["the plot was bad and the film was long"] * 40))
    emb = pretrain("lm", str(corpus), tmp_path / "lm", vocab="corpus", vocab_size=30, dim=6, units=8,
                   seq_len=8, epochs=3, verbose=0)
    assert emb.matrix.shape == (30, 6)
    card = emb.card
    # a model that learned something beats the uniform guess over 30 ids
    assert card["steps"] > 0 and 1 < card["perplexity"] < 30


def test_classifier_pretraining_keeps_only_the_embedding(tmp_path):
    rows = ["text,label"] + [f"{'great fun' if i % 2 else 'dull bore'} film {i % 7},{i % 2}"
                             for i in range(80)]
    data = tmp_path / "other.csv"
    data.write_text("\n".join(rows) + "\n")
    vocab = Vocabulary.fit([["great", "fun", "dull", "bore", "film"]], num_words=20)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab.to_json()))
    emb = pretrain("classifier", str(data), tmp_path / "clf", vocab=str(tmp_path / "vocab.json"),
                   dim=4, epochs=2, verbose=0)
    assert emb.matrix.shape == (20, 4) and emb.card["labelled_examples"] > 0


def _write_vectors(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["good", "Bad", "film"], np.arange(9, dtype=np.float32).reshape(3, 3))
    kv.save_word2vec_format(str(tmp_path / "v.txt"), binary=False)
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    (tmp_path / "glove.txt").write_text("good 0 1 2\nBad 3 4 5\nfilm 6 7 8\n")
    return tmp_path


@pytest.mark.parametrize("name", ["v.txt", "v.bin", "glove.txt"])
def test_word_vector_files_align_with_coverage(tmp_path, name):
    _write_vectors(tmp_path)
    vectors = read_word_vectors(tmp_path / name)
    vocab = Vocabulary(["film", "bad", "unknownword"], num_words=None)
    matrix, coverage = align_vectors(vectors, vocab, seed=0)
    assert coverage["found"] == 2 and coverage["total"] == 3 and coverage["missing_examples"] == [
        "unknownword"]
    np.testing.assert_array_equal(matrix[4], [6, 7, 8])  # film: id 4
    assert np.abs(matrix[6]).max() <= 0.05  # unmatched: Keras's uniform init


def test_import_vectors_command_and_bad_file(tmp_path, capsys):
    _write_vectors(tmp_path)
    vocab = Vocabulary(["film", "good"], num_words=None)
    (tmp_path / "vocab.json").write_text(json.dumps(vocab.to_json()))
    assert main(["import-vectors", str(tmp_path / "glove.txt"), "--vocab", str(tmp_path / "vocab.json"),
                 "--out", str(tmp_path / "emb")]) == 0
    assert "2 of 2 vocabulary words" in capsys.readouterr().out
    (tmp_path / "broken.txt").write_text("word notanumber x\n")
    assert main(["import-vectors", str(tmp_path / "broken.txt"), "--vocab", str(tmp_path / "vocab.json"),
                 "--out", str(tmp_path / "e2")]) == 2
    assert "broken.txt" in capsys.readouterr().err


@pytest.mark.parametrize("freeze", [True, False])
def test_step3_frozen_embedding_keeps_its_weights(w2v_sample, tmp_path, capsys, freeze):
    run = tmp_path / "run"
    argv = ["-q", "train", "bi-lstm", "--embedding", str(w2v_sample), "--epochs", "1", "--maxlen", "40",
            "--train-size", "200", "--out", str(run)]
    assert main(argv + (["--freeze-embedding"] if freeze else ["--finetune-embedding"])) == 0
    model = load_model(run / "model")
    pretrained = PretrainedEmbedding.load(w2v_sample).matrix
    trained = model.layers[0].get_weights()[0]
    if freeze:
        np.testing.assert_array_equal(trained, pretrained)
        main(["summary", str(run)])
        out = capsys.readouterr().out
        assert "Trainable params: 16,705" in out and "Non-trainable params: 320,000" in out
    else:
        assert not np.array_equal(trained, pretrained)
    # the run's vocabulary is the embedding's, so ids and rows line up
    assert model.text_encoder.vocabulary.words == PretrainedEmbedding.load(w2v_sample).vocabulary.words


def test_freeze_without_embedding_is_an_error(capsys):
    assert main(["-q", "train", "lstm", "--freeze-embedding", "--epochs", "1"]) == 2
    assert "--freeze-embedding and --embedding-scale need --embedding" in capsys.readouterr().err


def test_embedding_scale_rescales_the_word_vectors_only(w2v_sample, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["-q", "train", "bi-lstm", "--embedding", str(w2v_sample), "--embedding-scale", "0.03",
                 "--freeze-embedding", "--epochs", "1", "--maxlen", "40", "--train-size", "100",
                 "--out", str(run)]) == 0
    pretrained = PretrainedEmbedding.load(w2v_sample)
    first = pretrained.vocabulary.index_from + 1
    trained = load_model(run / "model").layers[0].get_weights()[0]
    assert trained[first:].std() == pytest.approx(0.03, rel=1e-4)
    np.testing.assert_allclose(trained[first:] / trained[first:].std(),
                               pretrained.matrix[first:] / pretrained.matrix[first:].std(), rtol=1e-4)
    np.testing.assert_array_equal(trained[:first], pretrained.matrix[:first])
    assert main(["-q", "train", "bi-lstm", "--embedding", str(w2v_sample), "--embedding-scale", "0",
                 "--epochs", "1", "--out", str(tmp_path / "bad")]) == 2
    assert "--embedding-scale must be positive" in capsys.readouterr().err


@pytest.mark.parametrize("command, settings, function", [
    ("pretrain", "textrnn.app.pretrain.run:PretrainSettings", "textrnn.app.pretrain.run:pretrain"),
    ("pretrain-encoder", "textrnn.app.transfer:EncoderSettings", "textrnn.app.transfer:pretrain_encoder"),
])
def test_pretraining_flags_are_the_functions_arguments(command, settings, function):
    """Each flag comes from a settings field, and the fields are the function's arguments with the
    same defaults (but out and verbose), so the command and the Python call cannot drift apart."""
    import importlib
    import inspect
    from dataclasses import fields

    from textrnn.cli.main import build_parser
    from textrnn.cli.options import settings_given

    def named(spec):
        module, name = spec.split(":")
        return getattr(importlib.import_module(module), name)

    settings, function = named(settings), named(function)
    parameters = inspect.signature(function).parameters
    assert {f.name for f in fields(settings)} == set(parameters) - {"out", "verbose"}
    for f in fields(settings):
        if parameters[f.name].default is not inspect.Parameter.empty:
            assert f.default == parameters[f.name].default, f.name
    required = ["--method", "lm"] if command == "pretrain" else []
    args = build_parser().parse_args([command, "--out", "x", *required, "--dim", "12",
                                      "--max-minutes", "1.5"])
    expected = {"dim": 12, "max_minutes": 1.5, **({"method": "lm"} if required else {})}
    assert settings_given(args, settings) == expected


def test_finetune_flags_make_its_settings():
    from textrnn.app.transfer import FinetuneSettings
    from textrnn.cli.main import build_parser
    from textrnn.cli.options import data_options, settings_given

    args = build_parser().parse_args(["finetune", "enc", "--train-size", "100", "--lr", "0.01",
                                      "--data", "sample"])
    settings = FinetuneSettings(encoder=args.encoder, **data_options(args),
                                **settings_given(args, FinetuneSettings))
    assert (settings.train_size, settings.lr, settings.data, settings.maxlen) == (100, 0.01, "sample", 400)
