"""Property-based tests of the readers: whatever text a user's file holds, each reader gives back
exactly the texts written (in order, none split or merged) or one DataError line; never another
exception. Hypothesis generates the inputs, shrinking any failure to a minimal example."""

import csv
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textrnn.data.inputs import parse_texts
from textrnn.data.tables import read_labelled
from textrnn.data.text import TextEncoder, Vocabulary, tokenize
from textrnn.errors import DataError, TextRNNError
from textrnn.models import read_json

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any character a file may hold (no surrogates: they cannot be written as UTF-8).
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
TEXT = st.text(ANY_CHAR, min_size=1, max_size=40).filter(lambda t: t.strip() != "")


@FAST
@given(st.lists(TEXT.filter(lambda t: "\n" not in t and not t.endswith("\r")), min_size=1, max_size=12))
def test_text_lines_come_back_one_per_line(texts):
    got = parse_texts("\n".join(texts) + "\n", "txt")
    assert got.texts == texts
    assert got.lines == list(range(1, len(texts) + 1))


@FAST
@given(st.lists(TEXT.filter(lambda t: "\x00" not in t), min_size=1, max_size=12))
def test_csv_cells_come_back_whole(texts):
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    writer.writerows([i, t] for i, t in enumerate(texts))
    assert parse_texts(buffer.getvalue(), "csv").texts == texts


@FAST
@given(st.lists(TEXT, min_size=1, max_size=12), st.booleans())
def test_jsonl_records_come_back_whole(texts, as_objects):
    lines = [json.dumps({"text": t} if as_objects else t) for t in texts]
    assert parse_texts("\n".join(lines), "jsonl").texts == texts


@FAST
@given(st.text(ANY_CHAR, max_size=200), st.sampled_from(["txt", "csv", "tsv", "jsonl"]))
def test_any_content_reads_or_fails_in_one_line(content, kind):
    try:
        got = parse_texts(content, kind)
    except DataError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert len(got.texts) == len(got.lines)
    assert all(t.strip() for t in got.texts)


@FAST
@given(st.lists(st.tuples(TEXT.filter(lambda t: "\x00" not in t), st.sampled_from(["pos", "neg"])),
                min_size=2, max_size=20).filter(lambda rows: {label for _, label in rows} == {"pos", "neg"}))
def test_labelled_csv_round_trips(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    got = read_labelled(path)
    assert got.texts == [t for t, _ in rows]
    assert [got.classes[i] for i in got.labels] == [label for _, label in rows]


@FAST
@given(st.lists(st.text(ANY_CHAR, max_size=60), min_size=1, max_size=8), st.integers(5, 300),
       st.integers(1, 50))
def test_encoding_any_text_gives_ids_in_range(texts, num_words, maxlen):
    vocab = Vocabulary.fit([tokenize(t) for t in texts], num_words=num_words)
    ids = TextEncoder(vocab, maxlen).encode(texts)
    assert ids.shape == (len(texts), maxlen)
    assert ids.min() >= 0 and ids.max() < max(num_words, 4)


@FAST
@given(st.binary(max_size=300))
def test_a_garbled_json_file_is_one_line(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("json") / "vocab.json"
    path.write_bytes(data)
    try:
        read_json(path)
    except TextRNNError as exc:
        assert str(path) in str(exc)


@FAST
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                max_size=3),
                    max_leaves=10))
def test_a_vocabulary_of_any_json_shape_is_one_line(tmp_path_factory, value):
    path = tmp_path_factory.mktemp("vocab") / "vocab.json"
    path.write_text(json.dumps(value))
    from textrnn.models import load_vocabulary_file

    try:
        load_vocabulary_file(path)
    except TextRNNError as exc:
        assert "vocab.json" in str(exc)


def test_the_encoder_round_trips_through_json():
    vocab = Vocabulary.fit([["a", "b", "b"]], num_words=10)
    encoder = TextEncoder(vocab, 5, ["neg", "pos"])
    again = TextEncoder.from_json(json.loads(json.dumps(encoder.to_json())))
    np.testing.assert_array_equal(again.encode(["b a c"]), encoder.encode(["b a c"]))
    with pytest.raises(DataError):
        parse_texts('{"other": 1}\n', "jsonl")
