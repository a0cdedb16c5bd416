"""``python -m recommender.evaluation`` end to end on a small CSV dataset."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from recommender.evaluation.__main__ import main


def _write_csv(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ratings, items = folder / "ratings.csv", folder / "items.csv"
    with items.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "genres", "description"])
        for i in range(40):
            writer.writerow([f"m{i}", f"Movie {i} (1990)", "Drama|Comedy" if i < 20 else "Action", ""])
    with ratings.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for u in range(60):
            home = (u % 2) * 20
            for t, i in enumerate(rng.choice(20, 12, replace=False) + home):
                writer.writerow([f"u{u}", f"m{i}", int(rng.integers(1, 6)), 1000 + 10 * t])
    return ratings, items


def test_cli_writes_the_documented_json(tmp_path: Path, capsys) -> None:
    ratings, items = _write_csv(tmp_path)
    out = tmp_path / "eval.json"
    code = main(["--ratings", str(ratings), "--items", str(items), "--models", "pop,ease,itemknn,hybrid",
                 "--skip", "fairness", "--no-embeddings", "--quiet", "--json", str(out), "--seed", "1"])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["protocol"] == "recbole" and result["k"] == 10
    assert set(result["models"]) == {"pop", "ease", "itemknn", "hybrid"}
    for row in result["models"].values():
        assert {"ndcg", "recall", "precision", "mrr", "hit", "coverage", "gini", "novelty"} <= set(row)
        assert 0.0 <= row["ndcg"] <= 1.0
    assert result["rating"]["rmse"] > 0 and result["rating"]["mae"] > 0
    assert set(result["cold_start"]) == {"hybrid", "pop"}
    # five rounds of disjoint groups: every user with test items is simulated once
    assert result["cold_start"]["hybrid"]["users"] == result["cold_start"]["pop"]["users"] == \
        result["models"]["pop"]["users"]
    assert "ndcg" in capsys.readouterr().out


def test_cli_fairness_sweep_of_the_exposure_priced_reranker(tmp_path: Path) -> None:
    from recommender.evaluation.runner import FAIRNESS_STRENGTHS

    ratings, items = _write_csv(tmp_path)
    out = tmp_path / "fair.json"
    assert main(["--ratings", str(ratings), "--items", str(items), "--models", "hybrid", "--skip", "rating,cold_start",
                 "--no-embeddings", "--quiet", "--json", str(out), "--seed", "1"]) == 0
    rows = json.loads(out.read_text())["fairness"]["exposure"]
    assert [row["strength"] for row in rows] == list(FAIRNESS_STRENGTHS)
    for row in rows:
        assert {"ndcg", "gini", "coverage", "avg_popularity", "ndcg_change", "gini_change"} <= set(row)
    assert rows[0]["ndcg_change"] == rows[0]["gini_change"] == 0.0
    assert rows[-1]["gini"] <= rows[0]["gini"]


def test_cli_temporal_protocol_and_bad_input(tmp_path: Path) -> None:
    ratings, _items = _write_csv(tmp_path)
    out = tmp_path / "t.json"
    assert main(["--ratings", str(ratings), "--protocol", "temporal", "--models", "pop,ease", "--quiet",
                 "--skip", "rating,cold_start,fairness", "--no-embeddings", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["protocol"] == "temporal"
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating,timestamp\nu1,m1,seven,1\n")
    assert main(["--ratings", str(bad), "--quiet", "--no-embeddings"]) == 2


def test_manage_py_evaluate_runs_the_same_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    ratings, items = _write_csv(tmp_path)
    out = tmp_path / "eval.json"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "manage.py", "evaluate", "--ratings", str(ratings), "--items", str(items),
         "--models", "pop,itemknn", "--skip", "fairness,rating,cold_start", "--no-embeddings", "--quiet",
         "--json", str(out)], cwd=root, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert set(json.loads(out.read_text())["models"]) == {"pop", "itemknn"}
    bad = subprocess.run([sys.executable, "manage.py", "evaluate", "--ratings", str(tmp_path / "missing.csv")],
                         cwd=root, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
