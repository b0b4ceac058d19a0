"""`textrnn experiment pretraining`: does pretraining the embedding help when n is small?

For each model (bi-lstm, lstm) and each number n of labelled training reviews, test accuracy with
(a) a random embedding trained with the model, and (b, c) an embedding pretrained on unlabelled text
only (word2vec; a next-word LSTM language model), either frozen or fine-tuned; over several seeds,
on the whole test set. Every run is a cached `textrnn train` run folder.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from textrnn.app import report
from textrnn.app.experiments.runner import run_grid
from textrnn.app.runs import TrainSettings
from textrnn.errors import ConfigError
from textrnn.io_utils import atomic_write_text


@dataclass
class PretrainingSetup:
    data: str = "imdb"
    corpus: str = "imdb-unsup"           # unlabelled text only: never the test reviews
    vocab: str = "imdb"
    models: list[str] = field(default_factory=lambda: ["bi-lstm", "lstm"])
    methods: list[str] = field(default_factory=lambda: ["word2vec", "lm"])
    sizes: list[int] = field(default_factory=lambda: [100, 250, 500, 1000, 2500, 5000, 25000])
    full: int = 25000
    seeds: int = 3
    epochs: int = 20                      # small n needs more epochs; early stopping ends runs
    maxlen: int = 500
    vocab_size: int = 10000
    units: int = 32
    lm_minutes: float = 15.0              # the language model's training budget
    w2v_epochs: int = 5

    @classmethod
    def quick(cls) -> PretrainingSetup:
        return cls(data="sample", corpus="sample", vocab="sample", models=["bi-lstm"], sizes=[100, 500, 3000],
                   full=3000, seeds=2, epochs=6, maxlen=200, lm_minutes=1.0, w2v_epochs=3)


def _cell(accs: list[float], seeds: int) -> str:
    if not accs:
        return "—"
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    partial = f" ({len(accs)})" if len(accs) < seeds else ""
    return f"{100 * statistics.mean(accs):.2f} ± {100 * sd:.2f}{partial}"


def _label(method: str | None, freeze: bool) -> str:
    return "random" if method is None else f"{method}-{'frozen' if freeze else 'finetuned'}"


def plan(setup: PretrainingSetup, embeddings: dict[str, str]) -> dict[str, TrainSettings]:
    runs = {}
    # Every seed of the small sizes before any full-size run: those take hours on a CPU, and the
    # lecture's claim is about small n, so a partial grid should answer that first.
    by_cost = [(seed, n) for full in (False, True) for seed in range(setup.seeds)
               for n in setup.sizes if (n >= setup.full) == full]
    for seed, n in by_cost:
        for model in setup.models:
            options = [(None, False)] + [(m, f) for m in setup.methods for f in (True, False)]
            for method, freeze in options:
                runs[f"{model}/{_label(method, freeze)}/n{n}/seed-{seed}"] = TrainSettings(
                    model=model, data=setup.data, epochs=setup.epochs, maxlen=setup.maxlen,
                    vocab_size=setup.vocab_size, units=setup.units, seed=seed,
                    train_size=None if n >= setup.full else n,
                    embedding=embeddings.get(method) if method else None, freeze_embedding=freeze,
                    min_epoch_steps=0)  # the grid as it ran: Keras's epochs
    return runs


def run(setup: PretrainingSetup, root: Path, report_path: Path, verbose: int = 1,
        report_only: bool = False) -> str:
    """Pretrain the embeddings, train the grid, write the report. report_only: write it from the
    runs finished so far, training nothing."""
    from textrnn.app.pretrain.run import pretrain

    root.mkdir(parents=True, exist_ok=True)
    embeddings = {}
    for method in setup.methods:
        out = root / f"emb-{method}"
        if report_only and not (out / "card.json").is_file():
            raise ConfigError(f"{out}: no pretrained embedding yet; run the experiment first")
        if not (out / "embedding.safetensors").is_file():
            if verbose:
                print(f"pretraining {method} on {setup.corpus} -> {out}", flush=True)
            pretrain(method, setup.corpus, out, vocab=setup.vocab, vocab_size=setup.vocab_size, dim=32,
                     epochs=setup.w2v_epochs if method == "word2vec" else 100,  # lm: the budget ends it
                     max_minutes=setup.lm_minutes if method == "lm" else None, verbose=0)
        embeddings[method] = str(out)
    runs = plan(setup, embeddings)
    results = run_grid(root, runs, verbose, train=not report_only)
    text = write_report(setup, results, embeddings, root, report_path, total=len(runs))
    if verbose:
        print(f"-> {report_path}")
    return text


def write_report(setup, results, embeddings, root: Path, report_path: Path, total: int) -> str:
    fig_dir = report_path.parent / "pretraining"
    fig_dir.mkdir(parents=True, exist_ok=True)
    configs = ["random"] + [f"{m}-{f}" for m in setup.methods for f in ("frozen", "finetuned")]
    lines = ["# Pretraining the embedding: does it help when n is small?", "",
             f"Data `{setup.data}`; embeddings pretrained on `{setup.corpus}` only; test accuracy % on "
             f"the whole test set, mean ± sd over {setup.seeds} seeds; at most {setup.epochs} epochs "
             "with early stopping on the last 20 % of the n training reviews.", ""]
    if len(results) < total:
        lines += [f"**Partial: {len(results)} of {total} runs finished**; a cell with fewer seeds says "
                  "how many in brackets, and `—` means none yet. Rerunning the command below resumes "
                  "the grid.", ""]
    lines += ["Pretraining:", ""]
    for method, path in embeddings.items():
        card = json.loads((Path(path) / "card.json").read_text())
        extra = f", perplexity {card['perplexity']:.0f}" if "perplexity" in card else ""
        lines.append(f"- {method}: {card['time_s']:.0f} s on {card.get('documents', '?'):,} documents "
                     f"({card.get('tokens', 0):,} tokens){extra}")
    lines.append("")
    for model in setup.models:
        rows, curves = [], {c: [] for c in configs}
        for n in setup.sizes:
            row = [f"{n:,}"]
            for c in configs:
                accs = [m["test"]["accuracy"] for k, m in sorted(results.items())
                        if k.startswith(f"{model}/{c}/n{n}/")]
                curves[c].append(accs)
                row.append(_cell(accs, setup.seeds))
            rows.append(row)
        lines.extend([f"## {model}", "", report.markdown_table(["n", *configs], rows),
                      f"![{model}]({fig_dir.name}/{model}.png)", ""])
        report.size_plot(setup.sizes, curves, fig_dir / f"{model}.png", f"{model}: test accuracy vs n")
    lines.extend(["## Reproduce", "", "```bash",
                  f"textrnn experiment pretraining --data {setup.data} --models {' '.join(setup.models)} "
                  f"--methods {' '.join(setup.methods)} --sizes {' '.join(map(str, setup.sizes))} "
                  f"--full {setup.full} --seeds {setup.seeds} --epochs {setup.epochs} "
                  f"--maxlen {setup.maxlen} --lm-minutes {setup.lm_minutes} --out {root}", "```", ""])
    text = "\n".join(lines)
    atomic_write_text(report_path, text)
    return text
