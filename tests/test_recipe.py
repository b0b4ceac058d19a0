"""`textrnn recipe` on the embedded sample: the three steps, the saved blend, resuming."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from textrnn.app.ensemble import network_alone
from textrnn.app.linear_head import NBLinear
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import RecipeSettings, blend_weight, run_recipe
from textrnn.cli import main
from textrnn.data.datasets import prepare
from textrnn.models import Sequential, load_model

TINY = dict(data="sample", vocab_size=3000, maxlen=120, dim=16, units=16, epochs=2, w2v_epochs=1,
            few_labels_below=0)  # the sample's 3,000 rows would take the few-labels path


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "run"
    record = run_recipe(RecipeSettings(**TINY), out, verbose=0)
    return out, record


def test_recipe_writes_a_run_whose_model_blends_the_linear_head(recipe_run):
    out, record = recipe_run
    assert (out / "embedding" / "card.json").is_file()
    card = json.loads((out / "embedding" / "card.json").read_text())
    assert card["method"] == "word2vec" and "test" not in card["corpus"]
    model = load_model(out / "model")
    assert model.length_buckets and isinstance(model.linear_head, NBLinear)
    data = prepare("sample", num_words=3000, maxlen=120, quiet=True)
    blend = record["linear_head"]["blend"]
    network = network_alone(load_model(out / "model"))
    expected = (1 - blend) * network.predict(data.x_test).ravel() + blend * model.linear_head.predict_proba(
        data.x_test)
    np.testing.assert_allclose(model.predict(data.x_test).ravel(), expected, atol=1e-6)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == record["test_accuracy"]
    assert metrics["test"]["accuracy"] == pytest.approx(np.mean((expected > 0.5) == data.y_test))
    assert set(record["seconds"]) == {"pretrain", "network", "assemble", "total"}


def test_a_finished_recipe_is_not_run_again_and_the_cli_reads_it(recipe_run, capsys):
    out, record = recipe_run
    assert run_recipe(RecipeSettings(**TINY), out, verbose=0) == record
    assert main(["evaluate", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(record["test_accuracy"])
    assert main(["predict", str(out), "a wonderful film", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_blend_weight_prefers_the_better_model():
    y = np.array([0, 1] * 50)
    good = np.where(y == 1, 0.9, 0.1)
    noise = np.full(100, 0.5)
    assert blend_weight(y, noise, good) == 1.0
    assert blend_weight(y, good, noise) == 0.0


def test_every_recipe_setting_is_a_flag_made_from_its_field():
    from dataclasses import fields

    from textrnn.cli.main import build_parser
    from textrnn.cli.options import settings_given

    parser = build_parser()
    assert settings_given(parser.parse_args(["recipe"]), RecipeSettings) == {}
    other = {"model": "bi-lstm-pool", "pretrain": "none", "unlabelled": "more.txt"}
    argv, expected = ["recipe"], {}
    for f in fields(RecipeSettings):
        if "help" not in f.metadata:
            continue  # the data options, shared with train
        if isinstance(f.default, bool):
            argv.append(f.metadata.get("flag", f"--{f.name.replace('_', '-')}"))
            expected[f.name] = not f.default
        else:
            value = other.get(f.name, 7 if "int" in str(f.type) else 0.5)
            argv += [f"--{f.name.replace('_', '-')}", str(value)]
            expected[f.name] = value
    given = settings_given(parser.parse_args(argv), RecipeSettings)
    assert {k: given[k] for k in expected} == expected


def test_recipe_rejects_multiclass_data_with_the_linear_head(tmp_path):
    rows = [f"{t},{c}" for c in ("a", "b", "c") for t in ("one two three", "four five six") * 10]
    (tmp_path / "three.csv").write_text("text,label\n" + "\n".join(rows))
    with pytest.raises(Exception, match="--no-linear-head"):
        run_recipe(RecipeSettings(**{**TINY, "data": str(tmp_path / "three.csv"), "epochs": 1}),
                   tmp_path / "run", verbose=0)
    assert not (tmp_path / "run" / "run.json").exists()  # refused before any training


def test_cli_rejects_a_bad_head_size_before_any_training(tmp_path, capsys):
    assert main(["recipe", "--data", "sample", "--head-bits", "40", "--out", str(tmp_path / "run")]) != 0
    assert "bits must be 1-28, got 40" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_word_dropout_reaches_the_saved_model(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["recipe", "--data", "sample", "--vocab-size", "3000", "--maxlen", "60", "--dim", "16",
                 "--units", "16", "--epochs", "1", "--pretrain", "none", "--no-linear-head",
                 "--word-dropout", "--quiet", "--out", str(out)]) == 0
    config = json.loads((out / "model" / "config.json").read_text())
    dropouts = [layer["config"] for layer in config["model"]["layers"] if layer["class_name"] == "Dropout"]
    assert dropouts[0]["noise_shape"] == [None, None, 1] and dropouts[1]["noise_shape"] is None
    assert json.loads((out / "recipe.json").read_text())["settings"]["word_dropout"] is True


@pytest.fixture(scope="module")
def two_networks(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "run"
    record = run_recipe(RecipeSettings(**{**TINY, "epochs": 1, "networks": 2}), out, verbose=0)
    return out, record


def test_networks_are_averaged_on_one_split_and_kept_in_the_model(two_networks, capsys):
    out, record = two_networks
    second = json.loads((out / "networks" / "1" / "run.json").read_text())
    assert (second["seed"], second["data_seed"], second["embedding"]) == (1000, 0, str(out / "embedding"))
    model = load_model(out / "model")
    assert len(model.members) == 1 and type(model.members[0]) is Sequential
    first, other = network_alone(load_model(out / "model")), load_model(out / "networks" / "1" / "model")
    data = prepare("sample", num_words=3000, maxlen=120, quiet=True)
    averaged = (first.predict(data.x_test).ravel() + other.predict(data.x_test).ravel()) / 2
    assert not np.allclose(first.predict(data.x_test).ravel(), averaged, atol=1e-4)  # two networks
    blend = record["linear_head"]["blend"]
    expected = (1 - blend) * averaged + blend * model.linear_head.predict_proba(data.x_test)
    np.testing.assert_allclose(model.predict(data.x_test).ravel(), expected, atol=1e-6)
    assert record["test_accuracy"] == pytest.approx(np.mean((expected > 0.5) == data.y_test))
    assert record["network_test_accuracy"] == pytest.approx(np.mean((averaged > 0.5) == data.y_test))
    assert [n["seed"] for n in record["networks"]] == [0, 1000]
    assert model.evaluate(data.x_test, data.y_test, verbose=0)[1] == pytest.approx(record["test_accuracy"])
    assert main(["summary", str(out)]) == 0
    assert "the average of 2 networks" in capsys.readouterr().out


def test_the_onnx_export_holds_the_whole_ensemble_and_the_head(two_networks, tmp_path, capsys):
    out, record = two_networks
    assert main(["export", str(out), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    assert "left out" not in capsys.readouterr().out
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    data = prepare("sample", num_words=3000, maxlen=120, quiet=True)
    x = data.x_test.astype(np.int64)
    got = session.run(None, {"ids": x})[0]
    np.testing.assert_allclose(got, load_model(out / "model").predict(x), atol=1e-5)
    assert np.mean((got.ravel() > 0.5) == data.y_test) == pytest.approx(record["test_accuracy"])
    assert main(["export", str(out), "--format", "keras", "--out", str(tmp_path / "m.keras")]) == 0
    assert "left out of the exported file: the model's 1 other networks and NB linear head" in \
        capsys.readouterr().out


def test_own_word2vec_gives_each_network_its_vectors(tmp_path):
    out = tmp_path / "run"
    record = run_recipe(RecipeSettings(**{**TINY, "epochs": 1, "networks": 2, "own_word2vec": True,
                                          "linear_head": False}), out, verbose=0)
    second = json.loads((out / "networks" / "1" / "run.json").read_text())
    assert second["embedding"] == str(out / "networks" / "1" / "embedding")
    first_vectors = PretrainedEmbedding.load(out / "embedding").matrix
    assert not np.allclose(first_vectors, PretrainedEmbedding.load(second["embedding"]).matrix)
    model = load_model(out / "model")
    assert len(model.members) == 1 and model.linear_head is None
    data = prepare("sample", num_words=3000, maxlen=120, quiet=True)
    assert record["test_accuracy"] == pytest.approx(np.mean((model.predict(data.x_test).ravel() > 0.5)
                                                            == data.y_test))


def test_a_recipe_resumed_with_other_settings_stops_in_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["recipe", "--data", "sample", "--vocab-size", "3000", "--maxlen", "60", "--dim", "16",
            "--units", "16", "--epochs", "1", "--pretrain", "none", "--quiet", "--out", str(out)]
    assert main(args) == 0
    (out / "recipe.json").unlink()  # as if it had stopped before the end
    assert main([*args[:-2], "--units", "8", "--out", str(out)]) != 0
    assert "started with other settings (units 16 -> 8)" in capsys.readouterr().err
    assert main(args) == 0  # the same options resume it
    # a folder from before --embedding-lr (no such key) trained the embedding at --lr
    (out / "recipe.json").unlink()
    started = json.loads((out / "recipe-settings.json").read_text())
    del started["embedding_lr"]
    (out / "recipe-settings.json").write_text(json.dumps(started))
    capsys.readouterr()
    assert main(args) != 0
    assert "embedding_lr 0.001 -> 0.00025" in capsys.readouterr().err
    assert main([*args, "--embedding-lr", "0.001"]) == 0
    assert main([*args[:-2], "--embedding-lr", "-1", "--out", str(tmp_path / "other")]) != 0
    assert "embedding learning rate must be positive and finite, got -1.0" in capsys.readouterr().err
