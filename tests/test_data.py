"""Text pipeline: tokenizer, vocabulary, padding, the user's tables, the sample, downloads."""

import gzip
import hashlib
import http.server
import io
import tarfile
import threading

import keras
import numpy as np
import pytest

from textrnn.data import TextEncoder, Vocabulary, pad_sequences, tokenize
from textrnn.data.datasets import prepare
from textrnn.data.download import download
from textrnn.data.imdb import IMDBCorpus, iter_reviews
from textrnn.data.sample import load_sample
from textrnn.data.tables import read_labelled, stratified_split
from textrnn.errors import ConfigError, DataError


def test_tokenizer_rules():
    text = "I DON'T like it.<br /><br />Really?! The director\u2019s cut: 10/10, well-made."
    assert tokenize(text) == ["i", "don't", "like", "it", "really", "?", "!", "the",
                              "director's", "cut", "10", "10", "well", "made"]


def test_vocabulary_follows_keras_imdb_conventions():
    vocab = Vocabulary.fit([["b", "a", "a", "c"], ["a", "b", "d"]], num_words=7)
    # ranks: a 1, b 2, then c, d tie (alphabetical): c 3, d 4. ids = rank + 3; ids >= 7 -> oov 2
    assert vocab.word_index() == {"a": 1, "b": 2, "c": 3}
    assert vocab.encode_tokens(["a", "b", "c", "d", "zzz"]) == [1, 4, 5, 6, 2, 2]
    assert vocab.decode([1, 4, 5, 2]) == "a b [?]"
    again = Vocabulary.from_json(vocab.to_json())
    assert again.encode_tokens(["c", "a"]) == [1, 6, 4]
    assert vocab.size == 7


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("maxlen", [None, 1, 3, 6])
def test_pad_sequences_matches_keras(padding, truncating, maxlen):
    seqs = [[1, 2, 3, 4], [5], [], [6, 7, 8, 9, 10, 11, 12]]
    expected = keras.utils.pad_sequences(seqs, maxlen=maxlen, padding=padding,
                                         truncating=truncating, value=0)
    got = pad_sequences(seqs, maxlen=maxlen, padding=padding, truncating=truncating)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_text_encoder_round_trip():
    vocab = Vocabulary.fit([tokenize("good movie"), tokenize("bad movie")], num_words=100)
    enc = TextEncoder(vocab, maxlen=5)
    x = enc.encode(["good movie!", "bad"])
    again = TextEncoder.from_json(enc.to_json())
    np.testing.assert_array_equal(again.encode(["good movie!", "bad"]), x)
    assert x.shape == (2, 5) and x[0, 1] == 1  # start_char right after the padding


def _write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_read_csv_tsv_jsonl_and_folder(tmp_path):
    csv = _write(tmp_path, "a.csv", 'review,sentiment\n"great, truly",positive\nawful,negative\n')
    t = read_labelled(csv)
    assert t.texts == ["great, truly", "awful"] and list(t.labels) == [1, 0]
    assert t.classes == ["negative", "positive"]
    tsv = _write(tmp_path, "a.tsv", "text\tlabel\nfine\t1\nbad\t0\n")
    assert list(read_labelled(tsv).labels) == [1, 0]
    jsonl = _write(tmp_path, "a.jsonl", '{"text": "x\u2028y", "label": "b"}\n{"text": "z", "label": "a"}\n'
                   '{"text": "w", "label": "c"}\n')
    t = read_labelled(jsonl)
    assert t.classes == ["a", "b", "c"] and list(t.labels) == [1, 0, 2]
    for cls, text in [("pos", "yes"), ("neg", "no")]:
        (tmp_path / "f" / cls).mkdir(parents=True)
        _write(tmp_path / "f" / cls, "1.txt", text)
    t = read_labelled(tmp_path / "f")
    assert t.classes == ["neg", "pos"] and sorted(zip(t.texts, t.labels)) == [("no", 0), ("yes", 1)]


@pytest.mark.parametrize("name,content,message", [
    ("missing.csv", None, "file not found"),
    ("empty.csv", "", "file is empty"),
    ("cols.csv", "body,label\nx,1\ny,0\n", "no text column"),
    ("nolabel.csv", "text,label\nx,1\ny,\n", "line 3: empty or missing label"),
    ("notext.csv", "text,label\nx,1\n,0\n", "line 3: empty or missing text"),
    ("one.csv", "text,label\nx,pos\ny,pos\n", "only one class"),
    ("bad.jsonl", '{"text": "x", "label": 1}\n{nope\n', "line 2 is not valid JSON"),
    ("bytes.csv", b"text,label\nok,1\n\xff\xfe,0\n", "line 3 is not valid utf-8"),
    ("x.parquet", "a", "unsupported file type"),
])
def test_bad_tables_give_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        _write(tmp_path, name, content, "wb" if isinstance(content, bytes) else "w")
    with pytest.raises(DataError, match=message) as info:
        read_labelled(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unknown_label_in_test_file_and_folder_without_classes(tmp_path):
    test = _write(tmp_path, "t.csv", "text,label\nx,pos\ny,meh\n")
    with pytest.raises(DataError, match="line 3: unknown label 'meh'"):
        read_labelled(test, classes=["neg", "pos"])
    (tmp_path / "flat").mkdir()
    _write(tmp_path / "flat", "a.txt", "text")
    with pytest.raises(DataError, match="no class subfolders"):
        read_labelled(tmp_path / "flat")


def test_stratified_split_keeps_proportions():
    labels = np.array([0] * 80 + [1] * 20)
    train, test = stratified_split(labels, 0.25, seed=1)
    assert len(test) == 25 and labels[test].sum() == 5
    assert not set(train) & set(test)
    again = stratified_split(labels, 0.25, seed=1)
    np.testing.assert_array_equal(again[1], test)


def test_prepare_csv_with_split(tmp_path):
    rows = "\n".join(f"{'good fun' if i % 2 else 'dull bore'} {i},{'pos' if i % 2 else 'neg'}"
                     for i in range(40))
    path = _write(tmp_path, "d.csv", "text,label\n" + rows + "\n")
    data = prepare(str(path), num_words=50, maxlen=6, test_fraction=0.25)
    assert data.x_train.shape == (30, 6) and data.x_test.shape == (10, 6)
    assert data.classes == ["neg", "pos"]
    assert 0.3 < data.y_train[-6:].mean() < 0.7 or len(set(data.y_train)) == 2


def test_embedded_sample_is_balanced_real_reviews():
    train, test = load_sample()
    assert len(train.texts) == 3000 and len(test.texts) == 1000
    assert train.labels.mean() == 0.5 and test.labels.mean() == 0.5
    assert not set(train.texts) & set(test.texts)
    assert all(len(t) > 20 for t in train.texts)


def _tiny_archive() -> bytes:
    files = {
        "aclImdb/train/pos/1_9.txt": "A wonderful film.<br />Loved it!",
        "aclImdb/train/pos/0_8.txt": "Great acting, great film.",
        "aclImdb/train/neg/3_2.txt": "Awful film. Boring.",
        "aclImdb/test/neg/5_1.txt": "Terrible, awful.",
        "aclImdb/test/pos/6_10.txt": "Great!",
        "aclImdb/train/unsup/7_0.txt": "Some film.",
        "aclImdb/README": "readme",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_imdb_pipeline_on_a_tiny_archive(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "cache"))
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(_tiny_archive())
    reviews = list(iter_reviews(archive))
    assert sorted((r.split, r.label, r.rating) for r in reviews)[0] == ("test", 0, 1)
    corpus = IMDBCorpus.load(archive)
    assert [len(corpus.splits[s]) for s in ("train", "test", "unsup")] == [3, 2, 1]
    assert corpus.words[:2] == ["film", "great"]  # film x3, great x3 -> alphabetical tie-break
    x, y = corpus.padded("train", num_words=100, maxlen=4)
    vocab = corpus.vocabulary(100)
    # train order: neg then pos, by id: 3_2, 0_8, 1_9
    assert list(y) == [0, 1, 1]
    np.testing.assert_array_equal(x[0], pad_sequences([vocab.encode("Awful film. Boring.")], 4)[0])
    assert list(corpus.padded("train", 100, 10)[0][2][-7:]) == vocab.encode(
        "A wonderful film.<br />Loved it!")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    again = IMDBCorpus.load(archive)  # from the cache
    np.testing.assert_array_equal(again.padded("train", 100, 4)[0], x)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_verifies_checksum_and_is_atomic(http_root, tmp_path):
    root, url = http_root
    payload = gzip.compress(b"x" * 100_000)
    (root / "a.tar.gz").write_bytes(payload)
    dest = tmp_path / "cache" / "a.tar.gz"
    good = ("sha256", hashlib.sha256(payload).hexdigest())
    with pytest.raises(DataError, match="checksum mismatch"):
        download(f"{url}/a.tar.gz", dest, ("sha256", "0" * 64), quiet=True)
    assert not dest.exists() and not list(dest.parent.iterdir())  # nothing half-written left
    with pytest.raises(DataError, match="download failed"):
        download(f"{url}/missing.tar.gz", dest, good, quiet=True)
    assert not list(dest.parent.iterdir())
    download(f"{url}/a.tar.gz", dest, good, quiet=True)
    assert dest.read_bytes() == payload


def _archive_with_movies(tmp_path, with_urls=True):
    """12 training reviews (6 neg, 6 pos) of 6 movies, each movie all negative or all positive."""
    files, urls = {}, {"pos": [], "neg": []}
    for kind, rating in (("neg", 2), ("pos", 9)):
        for i in range(6):
            files[f"aclImdb/train/{kind}/{i}_{rating}.txt"] = f"{kind} review {i} film"
            movie = (0 if kind == "neg" else 10) + i // 2
            urls[kind].append(f"http://www.imdb.com/title/tt{movie:07d}/usercomments")
    files["aclImdb/test/pos/0_9.txt"] = files["aclImdb/test/neg/0_2.txt"] = "a test film"
    if with_urls:
        for kind, lines in urls.items():
            files[f"aclImdb/train/urls_{kind}.txt"] = "\n".join(lines) + "\n"
            files[f"aclImdb/test/urls_{kind}.txt"] = "http://www.imdb.com/title/tt0999999/usercomments\n"
    archive = tmp_path / f"movies-{with_urls}.tar.gz"
    with tarfile.open(archive, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def test_movie_disjoint_validation_rows(tmp_path, monkeypatch):
    from textrnn.app.runs import TrainSettings, validation_rows
    from textrnn.data import imdb
    from textrnn.data.datasets import imdb_train_movies

    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "cache"))
    archive = _archive_with_movies(tmp_path)
    # corpus order: negative then positive, by review id; urls line i is review i's movie
    assert imdb.movie_ids("train", archive).tolist() == [0, 0, 1, 1, 2, 2, 10, 10, 11, 11, 12, 12]
    assert imdb.movie_ids("test", archive).tolist() == [999999, 999999]
    data = prepare(str(archive), num_words=50, maxlen=4, quiet=True)
    movies = imdb_train_movies(str(archive))
    settings = TrainSettings(model="lstm", data=str(archive), val_split=0.34, val_by_movie=True)
    train, val = validation_rows(settings, data)
    assert sorted(train.tolist() + val.tolist()) == list(range(12))
    assert not set(movies[train]) & set(movies[val])               # no movie on both sides
    assert sorted(data.y_train[val].tolist()) == [0, 0, 1, 1]       # 34 % of each class: one movie each
    last = validation_rows(TrainSettings(model="lstm", data=str(archive), val_split=0.25), data)
    assert [r.tolist() for r in last] == [list(range(9)), [9, 10, 11]]  # fit's validation_split rows
    with pytest.raises(ConfigError, match="needs IMDB"):
        validation_rows(TrainSettings(model="lstm", data="sample", val_by_movie=True), data)
    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(DataError, match="urls_neg.txt has no movie for review 0"):
        imdb.movie_ids("train", _archive_with_movies(tmp_path, with_urls=False))


def test_train_cli_validates_on_whole_movies(tmp_path, monkeypatch, capsys):
    from textrnn.cli import main

    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path / "cache"))
    archive = _archive_with_movies(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "lstm", "--data", str(archive), "--val-by-movie", "--val-split", "0.34",
                 "--epochs", "1", "--maxlen", "6", "--vocab-size", "50", "--out", str(out), "--quiet"]) == 0
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_size"] == 12 and json.loads((out / "run.json").read_text())["val_by_movie"]
    assert "val_loss" in json.loads((out / "history.json").read_text())
    capsys.readouterr()
    assert main(["train", "lstm", "--data", "sample", "--val-by-movie", "--epochs", "1",
                 "--out", str(tmp_path / "other"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs IMDB" in err and err.count("\n") == 1
    assert not (tmp_path / "other").exists()  # refused before the run folder is made
