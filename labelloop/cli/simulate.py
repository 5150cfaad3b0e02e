"""``labelloop simulate``: replay the labelling loop on labelled data and compare strategies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from labelloop.cli.common import app, err_console, out_console, progress_bars, reports_errors
from labelloop.exceptions import ValidationError

__all__ = ["simulate_command"]

FEATURIZERS = ("tfidf", "embeddings")


@app.command("simulate")
@reports_errors
def simulate_command(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="A labelled table: .csv, .jsonl or .parquet.", show_default=False
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="A bundled data set instead of --data: digits, breast_cancer, wine, iris, "
            "mnist, rotten_tomatoes.",
            show_default=False,
        ),
    ] = None,
    label_column: Annotated[
        str, typer.Option("--label-column", help="The column of true labels.")
    ] = "label",
    text_column: Annotated[
        str | None,
        typer.Option("--text-column", help="A text column to learn from.", show_default=False),
    ] = None,
    feature_columns: Annotated[
        str | None,
        typer.Option(
            "--feature-columns",
            help="Comma-separated numeric columns to learn from (default: every numeric "
            "column but the label).",
            show_default=False,
        ),
    ] = None,
    featurizer: Annotated[
        str,
        typer.Option(
            "--featurizer",
            help="For text: tfidf, or embeddings (needs the embeddings extra).",
        ),
    ] = "tfidf",
    strategy: Annotated[
        str, typer.Option("--strategy", help="Comma-separated strategies to compare.")
    ] = "auto,margin,random",
    initial: Annotated[int, typer.Option("--initial", help="Random labels to start from.")] = 20,
    batch: Annotated[int, typer.Option("--batch", help="Items picked per round.")] = 20,
    budget: Annotated[
        int, typer.Option("--budget", help="Labels used in total, initial ones included.")
    ] = 300,
    seeds: Annotated[int, typer.Option("--seeds", help="Repetitions with different splits.")] = 3,
    scoring: Annotated[
        str, typer.Option("--scoring", help="A scikit-learn scorer name, e.g. f1_macro.")
    ] = "accuracy",
    test_size: Annotated[
        float, typer.Option("--test-size", help="Share of the data held out for scoring.")
    ] = 0.25,
    random_state: Annotated[int, typer.Option("--random-state", help="The first seed.")] = 0,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            help="Score the pool this many items at a time, as the service's rounds do "
            "(each chunk proposes, the proposals compete); default: all at once.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for curves.csv, summary.json, learning_curve.png."),
    ] = Path("simulation-out"),
) -> None:
    """Simulate labelling with the true labels as the oracle and compare strategies.

    Prints AULC (mean test score over the budget) and the labels each strategy needs to
    reach 95% and 99% of the full-pool score, with ratios to random sampling.
    """
    from threadpoolctl import threadpool_limits

    _check_sizes(initial=initial, batch=batch, budget=budget, seeds=seeds, test_size=test_size)
    strategies = _strategies(strategy)
    X, y, source = _load(data, dataset, label_column, text_column, feature_columns, featurizer)
    _prepare_out(out)
    err_console.print(
        f"{source}: {X.shape[0]} rows, {X.shape[1]} features, {len(np.unique(y))} classes",
        highlight=False,
    )
    from sklearn.linear_model import LogisticRegression

    with _progress_bar() as progress, threadpool_limits(limits=1):
        # Small fits gain nothing from BLAS threads and slow down badly on a busy machine.
        result = _simulate_or_explain(
            source,
            LogisticRegression(max_iter=2000),
            X,
            y,
            strategy=strategies,
            initial=initial,
            batch=batch,
            budget=budget,
            test_size=test_size,
            seeds=seeds,
            scoring=scoring,
            random_state=random_state,
            progress=progress,
            chunk_size=chunk_size,
        )
    summary = result.summary("random")
    out_console.print(_table(summary, result.full_score, scoring))
    result.to_csv(out / "curves.csv")
    result.plot(out / "learning_curve.png", title=f"{source}: {scoring}")
    document = {
        "data": source,
        "label_column": label_column if data is not None else None,
        "n_rows": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "scoring": scoring,
        "initial": initial,
        "batch": batch,
        "budget": budget,
        "seeds": list(result.seeds),
        "full_score": result.full_score,
        "strategies": summary,
    }
    (out / "summary.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    err_console.print(
        f"wrote {out / 'curves.csv'}, {out / 'summary.json'} and {out / 'learning_curve.png'}",
        highlight=False,
    )


def _simulate_or_explain(source: str, *args: Any, **kwargs: Any) -> Any:
    """Run the simulation; data that scikit-learn cannot fit becomes a one-line error."""
    from labelloop.simulation import simulate

    try:
        return simulate(*args, **kwargs)
    except ValidationError:
        raise
    except ValueError as exc:  # e.g. a split that leaves the pool with one class
        raise ValidationError(f"{source}: cannot simulate on this data: {exc}") from exc


def _check_sizes(*, initial: int, batch: int, budget: int, seeds: int, test_size: float) -> None:
    """Check the numeric options before any data is read, naming the option at fault."""
    for name, value, low in (("initial", initial, 0), ("batch", batch, 1), ("seeds", seeds, 1)):
        if value < low:
            raise ValidationError(f"--{name} must be at least {low}, got {value}", field=name)
    if budget <= initial:
        raise ValidationError(
            f"--budget ({budget}) must be larger than --initial ({initial})", field="budget"
        )
    if not 0 < test_size < 1:
        raise ValidationError(
            f"--test-size must be between 0 and 1, got {test_size}", field="test_size"
        )


def _strategies(text: str) -> list[str]:
    from labelloop.selection import check_strategy

    names = [check_strategy(name.strip()) for name in text.split(",") if name.strip()]
    if not names:
        raise ValidationError("--strategy names no strategy", field="strategy")
    if "random" not in names:
        err_console.print("adding random as the baseline the ratios compare with")
        names.append("random")
    return list(dict.fromkeys(names))


def _load(
    data: Path | None,
    dataset: str | None,
    label_column: str,
    text_column: str | None,
    feature_columns: str | None,
    featurizer: str,
) -> tuple[Any, np.ndarray, str]:
    """Features, labels and a name for the source, from a table file or a bundled set."""
    if (data is None) == (dataset is None):
        raise ValidationError("give either --data FILE or --dataset NAME", field="data")
    if featurizer not in FEATURIZERS:
        raise ValidationError(
            f"--featurizer must be one of {', '.join(FEATURIZERS)}, not {featurizer!r}",
            field="featurizer",
        )
    if dataset is not None:
        if text_column or feature_columns:
            raise ValidationError(
                "--text-column and --feature-columns apply to --data only", field="dataset"
            )
        from labelloop.datasets import load_dataset

        bundled = load_dataset(dataset)
        X, y, is_text, source = bundled.X, bundled.y, bundled.is_text, dataset
    else:
        from labelloop.io.tables import load_labelled_table

        columns = [c.strip() for c in feature_columns.split(",")] if feature_columns else None
        table = load_labelled_table(
            data, label_column=label_column, text_column=text_column, feature_columns=columns
        )
        X, y, is_text, source = table.X, table.y, table.is_text, str(data)
    if is_text:
        return _featurize(X, featurizer, source), y, source
    from sklearn.preprocessing import StandardScaler

    # Scaling sees no labels, so it may see the whole table.
    return StandardScaler().fit_transform(X), y, source


def _featurize(texts: list[str], featurizer: str, source: str) -> Any:
    from labelloop.models.text import SentenceEmbeddingFeaturizer, TfidfFeaturizer

    if featurizer == "tfidf":
        min_df = 2 if len(texts) >= 100 else 1
        return TfidfFeaturizer(min_df=min_df).fit_transform(texts)
    err_console.print(f"{source}: embedding {len(texts)} texts (cached after the first run)")
    try:
        return SentenceEmbeddingFeaturizer().transform(texts)
    except ImportError as exc:
        raise ValidationError(str(exc), field="featurizer") from exc


def _prepare_out(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"{out}: cannot create the output folder ({exc.strerror})", field="out"
        ) from exc


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A rich progress bar on stderr, handed to simulate as ``progress(done, total, text)``."""
    bar = progress_bars("{task.description:<36}")
    task = bar.add_task("simulating", total=None)

    def update(done: int, total: int, description: str) -> None:
        bar.update(task, completed=done, total=total, description=description)

    with bar:
        yield update


def _table(summary: dict[str, dict[str, Any]], full_score: float, scoring: str) -> Table:
    table = Table(title=f"full-pool {scoring}: {full_score:.3f}")
    headers = ("strategy", "AULC", "to 95%", "to 99%", "AULC/random", "95%/random")
    for header in headers:
        if header == "strategy":
            # Names are what users type back into --strategy: never cut them short.
            widest = max((len(name) for name in summary), default=len(header))
            table.add_column(header, justify="left", no_wrap=True, min_width=widest)
        else:
            table.add_column(header, justify="right")

    def show(value: float | None, digits: int, missing: str = "-") -> str:
        return missing if value is None else f"{value:.{digits}f}"

    for name, row in summary.items():
        table.add_row(
            name,
            show(row["aulc"], 3),
            show(row["labels_to_95"], 0, "not reached"),
            show(row["labels_to_99"], 0, "not reached"),
            show(row["aulc_ratio"], 2),
            show(row["labels_to_95_ratio"], 2),
        )
    return table
