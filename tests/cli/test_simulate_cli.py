"""``labelloop simulate`` through Typer's runner, and once as the real console script."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelloop.cli import app

runner = CliRunner()
# Small and quick: iris, one seed, a few rounds.
FAST = ["--initial", "6", "--batch", "6", "--budget", "30", "--seeds", "1"]


def invoke(*args: str):
    return runner.invoke(app, ["simulate", *args], catch_exceptions=False)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris()
    rows = [[*x, data.target_names[t]] for x, t in zip(data.data, data.target, strict=True)]
    return write_csv(tmp_path / "iris.csv", ["a", "b", "c", "d", "species"], rows)


def test_bundled_dataset_writes_table_curves_summary_and_plot(tmp_path):
    out = tmp_path / "out"
    result = invoke("--dataset", "iris", "--strategy", "auto,margin", *FAST, "--out", str(out))
    assert result.exit_code == 0, result.output
    for name in ("auto", "margin", "random", "AULC", "to 95%", "95%/random"):
        assert name in result.stdout
    assert "wrote" in result.stderr and "wrote" not in result.stdout
    assert "adding random" in result.stderr

    with (out / "curves.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == {"strategy", "seed", "n_labels", "score"}
    assert {r["strategy"] for r in rows} == {"auto", "margin", "random"}
    assert max(int(r["n_labels"]) for r in rows) == 30

    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"] == "iris" and summary["budget"] == 30
    assert set(summary["strategies"]) == {"auto", "margin", "random"}
    assert summary["strategies"]["random"]["aulc_ratio"] == 1.0
    assert 0 < summary["full_score"] <= 1
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_long_strategy_names_are_printed_whole_on_a_narrow_terminal(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    names = "cluster_margin,least_confidence"
    result = invoke("--dataset", "iris", "--strategy", names, *FAST, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "cluster_margin" in result.stdout and "least_confidence" in result.stdout


def test_chunk_size_scores_the_pool_in_chunks_and_a_bad_one_is_named(tmp_path):
    out = tmp_path / "out"
    chunked = invoke("--dataset", "iris", "--strategy", "margin", *FAST, "--chunk-size", "25",
                     "--out", str(out))  # fmt: skip
    assert chunked.exit_code == 0, chunked.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["strategies"]) == {"margin", "random"}
    bad = runner.invoke(app, ["simulate", "--dataset", "iris", *FAST, "--chunk-size", "0",
                              "--out", str(out)])  # fmt: skip
    assert bad.exit_code == 2
    assert "chunk_size" in bad.output


def test_unreached_target_is_null_in_summary(tmp_path):
    out = tmp_path / "out"
    args = ["--dataset", "digits", "--strategy", "random", "--initial", "10", "--batch", "10"]
    result = invoke(*args, "--budget", "20", "--seeds", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    random = json.loads((out / "summary.json").read_text())["strategies"]["random"]
    assert random["labels_to_99"] is None and random["labels_to_95"] is None
    assert "not reached" in result.stdout


def test_csv_with_named_feature_columns(tmp_path, iris_csv):
    out = tmp_path / "out"
    result = invoke(
        "--data",
        str(iris_csv),
        "--label-column",
        "species",
        "--feature-columns",
        "a,c",
        "--strategy",
        "margin,random",
        *FAST,
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_features"] == 2 and summary["label_column"] == "species"


def test_jsonl_text_column_uses_tfidf(tmp_path):
    words = {"pos": "great lovely superb fine", "neg": "awful dull poor bad"}
    path = tmp_path / "reviews.jsonl"
    with path.open("w") as handle:
        for i in range(60):
            label = "pos" if i % 2 else "neg"
            text = f"{words[label].split()[i % 4]} film {words[label].split()[(i + 1) % 4]} {i}"
            handle.write(json.dumps({"text": text, "label": label}) + "\n")
    out = tmp_path / "out"
    result = invoke("--data", str(path), "--text-column", "text", *FAST, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["full_score"] > 0.5


def test_parquet_uses_every_numeric_column_by_default(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.datasets import load_iris

    data = load_iris()
    table = pa.table(
        {
            "x0": data.data[:, 0],
            "x1": data.data[:, 1],
            "x2": data.data[:, 2],
            "note": ["n"] * 150,
            "label": data.target,
        }
    )
    path = tmp_path / "iris.parquet"
    pq.write_table(table, path)
    out = tmp_path / "out"
    result = invoke("--data", str(path), "--strategy", "random", *FAST, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["n_features"] == 3


def assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    # The error is the last line on stderr and one line long.
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error:")
    for fragment in fragments:
        assert fragment in " ".join(message.split())


def test_missing_label_column_names_file_and_column(tmp_path, iris_csv):
    result = invoke("--data", str(iris_csv), "--label-column", "kind", "--out", str(tmp_path))
    assert_clean_error(result, str(iris_csv), "'kind'", "species")


def test_missing_feature_column_is_named(tmp_path, iris_csv):
    result = invoke(
        "--data",
        str(iris_csv),
        "--label-column",
        "species",
        "--feature-columns",
        "a,zz",
        "--out",
        str(tmp_path),
    )
    assert_clean_error(result, "iris.csv", "'zz'")


def test_one_class_only(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["x", "label"], [[i, "same"] for i in range(20)])
    result = invoke("--data", str(path), "--out", str(tmp_path / "out"))
    assert_clean_error(result, "one.csv", "'label'", "one class")


def test_text_feature_column_and_missing_label_name_the_line(tmp_path):
    rows = [[1, "a"], [2, "b"], ["three", "a"]]
    path = write_csv(tmp_path / "mixed.csv", ["x", "label"], rows)
    result = invoke("--data", str(path), "--feature-columns", "x", "--out", str(tmp_path))
    assert_clean_error(result, "mixed.csv:4", "'x'", "not numeric")

    path = tmp_path / "gap.jsonl"
    path.write_text('{"x": 1, "label": "a"}\n{"x": 2}\n{"x": 3, "label": "b"}\n')
    result = invoke("--data", str(path), "--out", str(tmp_path))
    assert_clean_error(result, "gap.jsonl:2", "'label'")


def test_unreadable_files(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file")
    assert_clean_error(invoke("--data", str(broken), "--out", str(tmp_path)), "broken.parquet")

    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"x": 1, "label": "a"}\n{oops\n')
    assert_clean_error(invoke("--data", str(bad_json), "--out", str(tmp_path)), "bad.jsonl:2")

    missing = tmp_path / "nowhere.csv"
    assert_clean_error(invoke("--data", str(missing), "--out", str(tmp_path)), "nowhere.csv")

    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    assert_clean_error(invoke("--data", str(odd), "--out", str(tmp_path)), "data.xlsx", ".csv")


def test_bad_options(tmp_path):
    assert_clean_error(invoke("--dataset", "cifar", "--out", str(tmp_path)), "cifar", "digits")
    assert_clean_error(invoke("--out", str(tmp_path)), "--data", "--dataset")
    assert_clean_error(
        invoke("--dataset", "iris", "--strategy", "psychic", "--out", str(tmp_path)), "psychic"
    )
    assert_clean_error(
        invoke("--dataset", "iris", "--initial", "50", "--budget", "20", "--out", str(tmp_path)),
        "budget",
    )


def _console_script() -> str:
    beside = Path(sys.executable).with_name("labelloop")
    found = str(beside) if beside.exists() else shutil.which("labelloop")
    if found is None:
        pytest.skip("the labelloop console script is not installed")
    return found


def test_console_script_runs_a_simulation(tmp_path):
    script = _console_script()
    out = tmp_path / "out"
    done = subprocess.run(
        [
            script,
            "simulate",
            "--dataset",
            "iris",
            "--strategy",
            "margin,random",
            *FAST,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "margin" in done.stdout and "AULC" in done.stdout
    assert (out / "summary.json").is_file() and (out / "learning_curve.png").is_file()


def test_data_the_model_cannot_fit_is_a_clean_error(tmp_path):
    path = write_csv(
        tmp_path / "tiny.csv", ["x", "label"], [[1, "a"], [2, "a"], [3, "a"], [4, "b"]]
    )
    result = invoke(
        "--data",
        str(path),
        "--initial",
        "1",
        "--batch",
        "1",
        "--budget",
        "3",
        "--seeds",
        "3",
        "--out",
        str(tmp_path / "out"),
    )
    assert_clean_error(result, "tiny.csv", "cannot simulate")
