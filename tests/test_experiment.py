"""`textrnn experiment lecture` end to end on a tiny subset of the embedded sample, so the report
generator cannot rot; a second call reuses every cached run."""

import time

from textrnn.cli import main

TINY = ["experiment", "lecture", "--quick", "--seeds", "2", "--sizes", "60", "120", "--full", "120",
        "--epochs", "1", "--maxlen", "20", "--units", "4", "--vocab-size", "500"]


def test_lecture_experiment_writes_the_report_and_caches_runs(tmp_path, capsys):
    report = tmp_path / "docs" / "LECTURE.md"
    args = [*TINY, "--out", str(tmp_path / "runs"), "--report", str(report), "-q"]
    assert main(args) == 0
    text = report.read_text()
    assert text.count("**Verdict:") == 4
    for claim in ("LSTM instead of SimpleRNN", "Bi-RNN", "Stacked RNN", "Pretrain the embedding"):
        assert claim in text
    for i in range(1, 5):
        assert (tmp_path / "docs" / "lecture" / f"claim{i}.png").stat().st_size > 1000
    assert "textrnn experiment lecture --data sample" in text
    runs = sorted(p.parent.name for p in (tmp_path / "runs").glob("*/*/*/metrics.json"))
    assert len(runs) == 2 * (3 + 2 * 4 - 2)  # per seed: 3 models at n=all, 4 settings per n, 2 shared
    start = time.perf_counter()
    assert main(args) == 0  # everything cached: only the report is rewritten
    assert time.perf_counter() - start < 20
    assert report.read_text() == text


def test_pretraining_experiment_on_a_tiny_subset(tmp_path):
    report = tmp_path / "docs" / "PRETRAINING.md"
    args = ["experiment", "pretraining", "--quick", "--seeds", "1", "--sizes", "60", "--full", "3000",
            "--epochs", "1", "--maxlen", "20", "--units", "4", "--lm-minutes", "0.05",
            "--out", str(tmp_path / "runs"), "--report", str(report), "-q"]
    assert main(args) == 0
    text = report.read_text()
    header = "| n | random | word2vec-frozen | word2vec-finetuned | lm-frozen | lm-finetuned |"
    assert header in text and "| 60 |" in text and "perplexity" in text
    assert (tmp_path / "docs" / "pretraining" / "bi-lstm.png").stat().st_size > 1000
    # a partial report: with 2 seeds planned, only seed 0's runs exist; nothing is trained
    partial = tmp_path / "docs" / "PARTIAL.md"
    assert main([*args[:4], "2", *args[5:-3], "--report", str(partial), "--report-only"]) == 0
    text = partial.read_text()
    assert "Partial: 5 of 10 runs finished" in text and " (1) |" in text
    assert not (tmp_path / "runs" / "bi-lstm" / "random" / "n60" / "seed-1").exists()
