"""Audit metrics against hand-computed examples (pure functions, no database)."""

import math

import pytest

from recommender.evaluation import fairness as fm
from recommender.experiments import wilson


def test_exposure_lorenz_and_long_tail():
    lists = [[0, 1], [0, 2]]
    counts = fm.exposure_counts(lists, 4)
    assert counts.tolist() == [2, 1, 1, 0]
    curve = dict(fm.lorenz_curve(counts, points=5))  # sorted exposure 0,1,1,2 of total 4
    assert curve[0.0] == 0.0 and curve[1.0] == 1.0
    assert curve[0.25] == pytest.approx(0.0) and curve[0.5] == pytest.approx(0.25)
    assert curve[0.75] == pytest.approx(0.5)
    tail = fm.long_tail_mask([10, 5, 1, 0], head_share=0.34)  # 3 items with interactions -> head of 2
    assert tail.tolist() == [False, False, True, True]
    assert fm.long_tail_share(lists, tail) == pytest.approx(1 / 4)


def test_popularity_deciles():
    popularity = list(range(10))  # item i is the i-th least popular: decile i + 1
    shares = fm.popularity_decile_exposure([[9, 9, 0], [5]], popularity)
    assert shares[9] == pytest.approx(0.5) and shares[0] == pytest.approx(0.25) and shares[5] == pytest.approx(0.25)


def test_genre_distribution_and_calibration_kl():
    genres = [["Comedy"], ["Drama"], ["Comedy", "Drama"]]
    assert fm.genre_distribution([0, 2], genres) == {"Comedy": 0.75, "Drama": 0.25}
    p = {"Comedy": 0.5, "Drama": 0.5}
    assert fm.calibration_kl(p, p) == pytest.approx(0.0)
    q = {"Comedy": 1.0}
    alpha = 0.01
    expected = 0.5 * math.log(0.5 / ((1 - alpha) * 1.0 + alpha * 0.5)) + 0.5 * math.log(0.5 / (alpha * 0.5))
    assert fm.calibration_kl(p, q) == pytest.approx(expected)
    table = fm.genre_exposure_vs_catalog([[0], [0]], genres, [0, 1, 2])
    assert table["Comedy"] == {"exposure": 1.0, "catalog": pytest.approx(0.5)}


@pytest.mark.parametrize(("age", "bracket"), [(None, None), (17, "under 18"), (18, "18-24"), (34, "25-34"),
                                              (54, "45-54"), (70, "55+")])
def test_age_brackets(age, bracket):
    assert fm.age_bracket(age) == bracket


def test_wilson_interval():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert wilson(0, 0) == (0.0, 0.0)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and 0 < hi < 0.35
