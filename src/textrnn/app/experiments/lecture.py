"""`textrnn experiment lecture`: the lecture's four recommendations, measured.

1. "Always use LSTM instead of SimpleRNN."          simple-rnn vs lstm, all training reviews
2. "Use Bi-RNN instead of RNN whenever possible."   lstm vs bi-lstm, all training reviews
3. "Stacked RNN may be better (if n is big)."       lstm vs stacked-lstm at several n
4. "Pretrain the embedding layer (if n is small)."  bi-lstm, random vs frozen word2vec embedding
                                                    (pretrained on unlabelled text only), several n
Every run is an ordinary `textrnn train` run folder (cached); the report is markdown with one plot
per claim.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from textrnn.app import report
from textrnn.app.experiments.runner import compare, run_grid, summary, verdict
from textrnn.app.runs import TrainSettings
from textrnn.io_utils import atomic_write_text


@dataclass
class LectureSetup:
    data: str = "imdb"                    # labelled data: imdb, or sample for --quick
    corpus: str = "imdb-unsup"            # unlabelled text for claim 4's word2vec
    vocab: str = "imdb"                   # the vocabulary the pretrained embedding is aligned to
    seeds: int = 3
    sizes: list[int] = field(default_factory=lambda: [1000, 5000, 25000])  # n for claims 3 and 4
    full: int = 25000                     # the training-set size that counts as "all"
    epochs: int = 10
    maxlen: int = 500
    vocab_size: int = 10000
    units: int = 32
    w2v_epochs: int = 5

    @classmethod
    def quick(cls) -> LectureSetup:
        """The same pipeline on the embedded sample in a few minutes."""
        return cls(data="sample", corpus="sample", vocab="sample", seeds=2, sizes=[500, 3000], full=3000,
                   epochs=4, maxlen=200, w2v_epochs=3)


def _settings(setup: LectureSetup, model: str, n: int, seed: int, embedding: str | None = None):
    return TrainSettings(model=model, data=setup.data, epochs=setup.epochs, maxlen=setup.maxlen,
                         vocab_size=setup.vocab_size, units=setup.units, seed=seed,
                         train_size=None if n >= setup.full else n, embedding=embedding,
                         freeze_embedding=embedding is not None,
                         min_epoch_steps=0)  # the lecture's Keras training: one pass an epoch


def plan(setup: LectureSetup, embedding: str) -> dict[str, TrainSettings]:
    runs: dict[str, TrainSettings] = {}
    for seed in range(setup.seeds):
        for model in ("simple-rnn", "lstm", "bi-lstm"):
            runs[f"n{setup.full}/{model}/seed-{seed}"] = _settings(setup, model, setup.full, seed)
        for n in setup.sizes:
            for model in ("lstm", "stacked-lstm", "bi-lstm"):
                runs[f"n{n}/{model}/seed-{seed}"] = _settings(setup, model, n, seed)
            runs[f"n{n}/bi-lstm-w2v-frozen/seed-{seed}"] = _settings(setup, "bi-lstm", n, seed, embedding)
    return runs


def run(setup: LectureSetup, root: Path, report_path: Path, verbose: int = 1) -> str:
    from textrnn.app.pretrain.run import pretrain

    root.mkdir(parents=True, exist_ok=True)
    emb = root / "emb-word2vec"
    if not (emb / "embedding.safetensors").is_file():
        if verbose:
            print(f"pretraining word2vec on {setup.corpus} (claim 4) -> {emb}", flush=True)
        pretrain("word2vec", setup.corpus, emb, vocab=setup.vocab, vocab_size=setup.vocab_size,
                 dim=32, epochs=setup.w2v_epochs, verbose=0)
    results = run_grid(root, plan(setup, str(emb)), verbose)
    text = write_report(setup, results, root, report_path)
    if verbose:
        print(f"-> {report_path}")
    return text


def _acc(results, n: int, model: str) -> list[float]:
    return [m["test"]["accuracy"] for name, m in sorted(results.items())
            if name.startswith(f"n{n}/{model}/")]


def _fmt(values: list[float]) -> str:
    s = summary(values)
    return f"{100 * s['mean']:.2f} ± {100 * s['sd']:.2f}"


def write_report(setup: LectureSetup, results: dict, root: Path, report_path: Path) -> str:
    fig_dir = report_path.parent / "lecture"
    fig_dir.mkdir(parents=True, exist_ok=True)
    rel = fig_dir.name
    full = setup.full
    lines = ["# The lecture's summary, measured", "",
             f"Data: `{setup.data}`; test accuracy on its test set, mean ± sd over {setup.seeds} seeds; "
             f"every model: vocabulary {setup.vocab_size}, {setup.maxlen} words, state {setup.units}, "
             f"at most {setup.epochs} epochs with early stopping on the last 20 % of the training "
             "rows. Verdict rule: a claim holds when the difference is at least twice its standard "
             "error across seeds (Welch's t >= 2), fails when it is that large the other way, and is "
             "otherwise within noise.", ""]

    def pair_section(title, worse, better, number):
        a, b = _acc(results, full, worse), _acc(results, full, better)
        diff, t = compare(a, b)
        lines.extend([f"## {number}. {title}", "", f"**Verdict: {verdict(diff, t, better, worse)}.**", "",
                      report.markdown_table(["model", "test acc %", "per seed"],
                                            [[m, _fmt(v), ", ".join(f"{100 * x:.2f}" for x in v)]
                                             for m, v in ((worse, a), (better, b))]),
                      f"![claim {number}]({rel}/claim{number}.png)", ""])
        report.bar_plot({worse: a, better: b}, fig_dir / f"claim{number}.png", title)

    pair_section('"Always use LSTM instead of SimpleRNN"', "simple-rnn", "lstm", 1)
    pair_section('"Use Bi-RNN instead of RNN whenever possible"', "lstm", "bi-lstm", 2)

    def size_section(title, worse, better, number, when):
        rows, curves, verdicts = [], {worse: [], better: []}, []
        for n in setup.sizes:
            a, b = _acc(results, n, worse), _acc(results, n, better)
            diff, t = compare(a, b)
            v = verdict(diff, t, better, worse)
            verdicts.append((n, v))
            rows.append([f"{n:,}", _fmt(a), _fmt(b), v])
            curves[worse].append(a)
            curves[better].append(b)
        held = [n for n, v in verdicts if v.startswith("holds")]
        if len(held) == len(verdicts):
            overall = "holds at every n measured"
        elif not held:
            failed = all(v.startswith("does not") for _, v in verdicts)
            overall = "does not hold at any n measured" if failed else "not supported at any n measured"
        else:
            overall = f"holds only when n is {', '.join(f'{n:,}' for n in held)} ({when})"
        lines.extend([f"## {number}. {title}", "", f"**Verdict: {overall}.**", "",
                      report.markdown_table(["n (training reviews)", f"{worse} %", f"{better} %",
                                             "verdict"], rows),
                      f"![claim {number}]({rel}/claim{number}.png)", ""])
        report.size_plot(setup.sizes, curves, fig_dir / f"claim{number}.png", title)

    size_section('"Stacked RNN may be better than a single layer (if n is big)"', "lstm", "stacked-lstm",
                 3, "the lecture expects large n")
    size_section('"Pretrain the embedding layer (if n is small)"', "bi-lstm", "bi-lstm-w2v-frozen", 4,
                 "the lecture expects small n")

    times = {}
    for name, m in results.items():
        model = name.split("/")[1]
        if name.startswith(f"n{full}/"):
            times.setdefault(model, []).append(m["train_time_s"])
    lines.extend(["## Training time per run (all training reviews)", "",
                  report.markdown_table(["model", "mean train time", "epochs run"],
                                        [[k, f"{statistics.mean(v):.0f} s",
                                          ", ".join(str(results[n]['epochs_run']) for n in sorted(results)
                                                    if n.startswith(f"n{full}/{k}/"))]
                                         for k, v in sorted(times.items())]),
                  "## Reproduce", "", "```bash",
                  f"textrnn experiment lecture --data {setup.data} --seeds {setup.seeds} --sizes "
                  f"{' '.join(str(n) for n in setup.sizes)} --full {setup.full} --epochs {setup.epochs} "
                  f"--maxlen {setup.maxlen} --units {setup.units} --vocab-size {setup.vocab_size} "
                  f"--out {root}",
                  "```", "", f"Run folders (cached, resumable): `{root}`.", ""])
    text = "\n".join(lines)
    atomic_write_text(report_path, text)
    return text

