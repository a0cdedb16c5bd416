"""The contract every component keeps (parametrised over all of them, on synthetic data)."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from recommender.algorithms import (
    ALS,
    BPMF,
    BPR,
    EASE,
    Content,
    Hybrid,
    ItemKNN,
    KnowledgeGraph,
    Popularity,
    PopularityBlend,
    Profile,
    Recommender,
    Session,
    TemporalItemKNN,
    TimePopularity,
    Trending,
    UserKNN,
)
from recommender.algorithms.knowledge import catalog_facts
from recommender.algorithms.neighbors import EASE_TUNING_FOLDS
from recommender.algorithms.tuning import pick_best

FACTORIES = {
    "pop": lambda: Popularity(),
    "trending": lambda: Trending(),
    "timepop": lambda: TimePopularity(bins=8),
    "itemknn": lambda: ItemKNN(seed=3),
    "ease": lambda: EASE(seed=3),
    "tknn": lambda: TemporalItemKNN(seed=3),
    "userknn": lambda: UserKNN(seed=3),
    "als": lambda: ALS(seed=3, num_threads=1),
    "bpr": lambda: BPR(seed=3, num_threads=1, iterations=50),
    "content": lambda: Content(),
    "content+prior": lambda: PopularityBlend(Content(), seed=3),
    "kg+prior": lambda: PopularityBlend(KnowledgeGraph(seed=3), seed=3),
    "session+prior": lambda: PopularityBlend(Session(seed=3), seed=3),
    "kg": lambda: KnowledgeGraph(seed=3),
    "session": lambda: Session(seed=3),
    "bpmf": lambda: BPMF(factors=4, samples=10, burn_in=5, seed=3),
    "hybrid": lambda: Hybrid(seed=3, num_threads=1),
}
PERSONAL = set(FACTORIES) - {"pop", "trending", "timepop"}


def fit(name: str, tiny) -> Recommender:
    data, vectors, kg = tiny
    return FACTORIES[name]().fit(data, item_vectors=vectors, kg=kg)


@pytest.fixture(scope="module")
def fitted(tiny):
    return {name: fit(name, tiny) for name in FACTORIES}


@pytest.mark.parametrize("name", FACTORIES)
def test_shapes_and_unknowns(name: str, fitted, tiny) -> None:
    data = tiny[0]
    model = fitted[name]
    full = model.score(0)
    assert full.shape == (data.n_items,)
    assert np.isfinite(full).any()
    part = model.score(0, [0, 3, -1, data.n_items + 5])
    assert part.shape == (4,)
    assert np.isnan(part[2:]).all()
    np.testing.assert_allclose(part[:2], full[[0, 3]])
    # an unknown user and an empty history never raise
    for ref in (data.n_users + 10, -3, [], None, Profile()):
        scores = model.score(ref)
        assert scores.shape == (data.n_items,)
        idx, _ = model.recommend(ref, k=5)
        assert len(idx) <= 5


@pytest.mark.parametrize("name", FACTORIES)
def test_seen_items_are_excluded(name: str, fitted, tiny) -> None:
    data = tiny[0]
    for user in (0, 1, 7):
        idx, scores = fitted[name].recommend(user, k=8)
        assert not set(idx.tolist()) & set(data.seen(user).tolist())
        assert np.all(np.diff(scores) <= 1e-12)  # best first


@pytest.mark.parametrize("name", FACTORIES)
def test_deterministic_with_seed(name: str, fitted, tiny) -> None:
    again = fit(name, tiny)
    np.testing.assert_allclose(np.nan_to_num(again.score(2), nan=-99), np.nan_to_num(fitted[name].score(2), nan=-99),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", FACTORIES)
def test_many_users_at_once_score_as_one_at_a_time(name: str, fitted, tiny) -> None:
    """``score_users`` (training, the ranker's features, evaluation) and ``score`` (serving) agree.
    It failed for the knowledge graph (batch rows weighted by rating alone) and raised for the
    hybrid (no ``_score_events`` behind ``score_users``)."""
    model = fitted[name]
    users = np.arange(0, tiny[0].n_users, 3)
    one_by_one = np.vstack([model.score(int(u)) for u in users])
    np.testing.assert_allclose(np.nan_to_num(model.score_users(users), nan=-99), np.nan_to_num(one_by_one, nan=-99),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PERSONAL))
def test_adhoc_history_changes_result(name: str, fitted, tiny) -> None:
    data = tiny[0]
    model = fitted[name]
    history = [(0, 5.0, 2_000_000), (1, 4.0, 2_000_060)]
    before = model.score(history)
    assert before.shape == (data.n_items,)
    assert np.isfinite(before).any()
    # the live user rates one more item (of the other cluster): scores move without retraining
    after = model.score([*history, (13, 5.0, 2_000_120)])
    assert not np.allclose(np.nan_to_num(before), np.nan_to_num(after))
    idx, _ = model.recommend(history, k=5)
    assert not {0, 1} & set(idx.tolist())


@pytest.mark.parametrize("name", FACTORIES)
def test_save_and_load(name: str, fitted, tiny, tmp_path) -> None:
    """A saved model scores trained users and ad-hoc histories (new users, sessions: what the
    ranker's cut histories train on) as the fitted one did. ALS failed it: the fitted model
    folded histories in through ``implicit``'s object, which is not saved, and the loaded one
    fell back to another formula (scores up to 0.1 apart on MovieLens)."""
    model = fitted[name]
    path = model.save(tmp_path / f"{name}.pkl")
    loaded = Recommender.load(path)
    history = tiny[0].history(5)[:3]
    for ref in (4, history):
        np.testing.assert_allclose(np.nan_to_num(loaded.score(ref), nan=-99), np.nan_to_num(model.score(ref), nan=-99),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 4.0])
def test_als_folds_a_history_in_as_implicits_recalculate_user(alpha: float, tiny) -> None:
    """ALS folds ad-hoc histories in with its own least-squares step, from the saved factors
    alone; implicit's ``recalculate_user`` on the same factors gives the same user vector."""
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    data = tiny[0]
    model = ALS(seed=3, num_threads=1, alpha=alpha).fit(data)
    reference = AlternatingLeastSquares(factors=model.params_["factors"], alpha=alpha,
                                        regularization=model.params_["regularization"], num_threads=1)
    reference.item_factors = model.item_factors
    for user in (1, 6):
        history = data.history(user)[:4]
        row = sp.csr_matrix((np.ones(len(history), dtype=np.float32), ([0] * len(history), [e[0] for e in history])),
                            shape=(1, data.n_items))
        np.testing.assert_allclose(model._fold_in(history), reference.recalculate_user(0, row), rtol=1e-3, atol=1e-4)


def test_unrated_catalogue_items_are_scored_by_content(fitted, tiny) -> None:
    data = tiny[0]
    new_item = data.item_index("i24")
    assert data.item_counts()[new_item] == 0
    assert np.isfinite(fitted["content"].score(0, [new_item])).all()
    assert np.isfinite(fitted["kg"].score(0, [new_item])).all()


def test_cold_start_profile_vector_drives_the_hybrid(fitted, tiny) -> None:
    data, vectors, _kg = tiny
    hybrid = fitted["hybrid"]
    cluster_b = vectors[data.item_index("i20")]
    idx, _ = hybrid.recommend(Profile(vectors=[(cluster_b, 1.0)]), k=5)
    assert len(idx) == 5
    contributions = hybrid.signal_contributions(Profile(vectors=[(cluster_b, 1.0)]), int(idx[0]))
    assert set(contributions) == {"trending", "content"}
    # onboarding picks act as a history
    idx2, _ = hybrid.recommend(Profile(onboarding=[data.item_index("i1")]), k=5)
    assert data.item_index("i1") not in idx2.tolist()


def test_the_hybrid_scores_extra_items_in_its_pass_without_ranking_them(fitted, tiny, monkeypatch) -> None:
    """Serving scores a promotion's films in the feed's own pass: the same top-k and
    explanations as without them, and each extra item's score as ``score`` gives it."""
    hybrid = fitted["hybrid"]
    monkeypatch.setattr(hybrid, "candidates_per_generator", 2)  # a pool smaller than the catalogue
    history = tiny[0].history(0)
    plain = hybrid.recommend_explained(history, k=5)
    pool = set(hybrid.recommend_explained(history, k=tiny[0].n_items)[0].tolist())
    own = {e[0] for e in history}
    outside = [i for i in range(tiny[0].n_items) if i not in pool and i not in own][:3]
    seen = history[0][0]
    also = [*outside, int(plain[0][0]), seen]
    idx, scores, explained, extra = hybrid.recommend_explained_also(history, k=5, also=also)
    assert outside and idx.tolist() == plain[0].tolist() and explained == plain[2]  # nothing new ranked
    np.testing.assert_allclose(scores, plain[1])
    expected = hybrid.score(history, also)
    assert np.isnan(extra[-1])  # the user's own film: never recommended, not scored
    np.testing.assert_allclose(extra[:-1], expected[:-1], rtol=1e-5, atol=1e-6)
    cold = hybrid.recommend_explained_also(Profile(), k=5, also=outside)[3]  # no history: the fallback's
    np.testing.assert_allclose(cold, hybrid.score(Profile(), outside), rtol=1e-5, atol=1e-6)


def test_an_items_audience_is_where_it_stands_in_each_users_list(fitted, tiny, monkeypatch) -> None:
    """``item_audience``: for each user without the item, its place among their candidates and
    its score, as ``recommend`` and ``score`` give them, in batches or not."""
    hybrid = fitted["hybrid"]
    monkeypatch.setattr(hybrid, "candidates_per_generator", 3)  # a pool smaller than the catalogue
    data = tiny[0]
    item = 5
    users, ranks, scores = hybrid.item_audience(item, batch_size=7)
    owners = {u for u in range(data.n_users) if item in {e[0] for e in data.history(u)}}
    assert owners and set(users.tolist()) == set(range(data.n_users)) - owners
    in_pool = 0
    for user, rank, score in zip(users, ranks, scores, strict=True):
        np.testing.assert_allclose(score, hybrid.score(int(user), [item])[0], rtol=1e-5, atol=1e-6)
        idx, _ = hybrid.recommend(int(user), k=data.n_items)
        if item in idx.tolist():  # in the pool: its position there
            in_pool += 1
            assert rank == idx.tolist().index(item) + 1
        else:  # outside: after every candidate that scores above it
            assert rank == 1 + int(np.sum(hybrid.score(int(user), idx) > score))
    assert 0 < in_pool < len(users)
    again = hybrid.item_audience(item, users=users[::-1])
    np.testing.assert_array_equal(again[1], ranks[::-1])


def test_a_new_items_audience_is_where_a_feed_would_place_it(fitted, tiny) -> None:
    """``new_item_audience``: for each user, the place ``score_new_items`` gives an item the
    model does not know, by content or by its facts, the better of the two; users it would not
    enter the pool of are left out; batches and order do not matter."""
    hybrid = fitted["hybrid"]
    data = tiny[0]
    content, kg = hybrid.components["content"], hybrid.components["kg"]
    item, k = 5, 8  # a trained item's vector and facts, as if it were new
    vector = 3 * content.item_vectors[item]  # not normalised: only its direction counts
    facts = [kg.features[c] for c in kg.incidence[item].indices]
    users, ranks, scores, signals, similarities = hybrid.new_item_audience(vector, facts, k=k, batch_size=7)
    expected = {}
    for user in range(data.n_users):
        events = data.history(user)
        _idx, ranked = hybrid.recommend(user, k=k)
        similarity = content.taste_vector(events) @ content.item_vectors[item]
        by = {"content": hybrid.score_new_items(user, [similarity], ranked, "content")[0]}
        fact_score = kg.score_facts(events, [facts])[0]
        if fact_score > 0:
            by["kg"] = hybrid.score_new_items(user, [fact_score], ranked, "kg")[0]
        placed = {signal: score for signal, score in by.items() if np.isfinite(score)}
        if placed:
            expected[user] = (max(placed.values()), ranked, placed, similarity)
    assert 0 < len(expected) < data.n_users
    assert set(users.tolist()) == set(expected)
    for user, rank, score, signal, close in zip(users, ranks, scores, signals, similarities, strict=True):
        best, ranked, placed, similarity = expected[int(user)]
        assert close == pytest.approx(similarity)
        assert score == pytest.approx(best)
        assert ranked[rank - 1] == pytest.approx(score)  # the place whose score it takes
        assert placed[signal] == pytest.approx(score)
    assert {"content", "kg"} <= set(signals)
    again = hybrid.new_item_audience(vector, facts, k=k, users=users[::-1])
    np.testing.assert_array_equal(again[1], ranks[::-1])
    assert hybrid.new_item_audience(None, [], k=k)[0].size == 0  # no vector, no facts: no place


@pytest.mark.parametrize("name", ["ease", "itemknn", "tknn", "userknn", "als"])
def test_frozen_copy_reuses_tuned_hyper_parameters(name: str, fitted, tiny) -> None:
    model = fitted[name]
    copy = model.frozen()
    assert copy is not model
    refit = copy.fit(tiny[0])
    assert not hasattr(refit, "tuning_")  # nothing was tuned again
    np.testing.assert_allclose(np.nan_to_num(refit.score(1)), np.nan_to_num(model.score(1)), rtol=1e-4, atol=1e-5)


def test_tuning_over_several_hold_outs_averages_them_and_takes_the_best(tiny) -> None:
    data = tiny[0]
    grid = [{"lam": lam} for lam in (1.0, 10.0, 100.0, 1000.0)]
    singles = [pick_best(EASE, grid, data, seed=5 + fold)[1] for fold in range(3)]
    best, averaged = pick_best(EASE, grid, data, seed=5, folds=3)
    expected = {key: np.mean([s[key] for s in singles]) for key in singles[0]}
    assert averaged == pytest.approx(expected)
    assert repr(best) == max(expected, key=expected.get)
    assert len(set(map(frozenset, (s.items() for s in singles)))) > 1  # the hold-outs differ


def test_ease_tunes_lambda_along_one_eigendecomposition_as_one_inverse_per_lambda_would(tiny) -> None:
    data = tiny[0]
    model = EASE(seed=5).fit(data)
    lams = [ast.literal_eval(key)["lam"] for key in model.tuning_]
    best, direct = pick_best(EASE, [{"lam": lam} for lam in lams], data, seed=5, folds=EASE_TUNING_FOLDS)
    assert model.tuning_ == pytest.approx(direct, abs=1e-12)
    assert model.lam_ == best["lam"]
    assert len(set(np.round(list(direct.values()), 9))) > 1  # the lambdas do rank differently


def test_the_hybrid_ranks_with_raw_scores_and_still_serves_a_model_saved_without_them(fitted, tiny,
                                                                                    monkeypatch) -> None:
    data, vectors, kg = tiny
    current = fitted["hybrid"]
    assert {f"{name}_raw" for name in current.components} <= set(current.feature_names)
    prepare = Hybrid._prepare_item_stats

    def before_raw_scores(self, data) -> None:  # the feature layout of older artifacts
        prepare(self, data)
        self.feature_names = [n for n in self.feature_names if not n.endswith("_raw")]

    monkeypatch.setattr(Hybrid, "_prepare_item_stats", before_raw_scores)
    old = Hybrid(seed=3, num_threads=1).fit(data, item_vectors=vectors, kg=kg)
    monkeypatch.undo()
    scores = old.score(0)
    assert np.isfinite(scores).any()
    best = int(np.nanargmax(scores))
    parts = old.signal_contributions(0, best)
    assert sum(parts.values()) == pytest.approx(scores[best], abs=1e-6)


def test_knowledge_graph_keeps_only_relations_that_improve_the_combined_score(tiny) -> None:
    data, _vectors, kg = tiny
    # "studio" repeats the director for half of the items: some signal alone, nothing new beside it
    studio = [(f"i{i}", "studio", f"studio{i // 12}") for i in range(0, 26, 2)]
    model = KnowledgeGraph(seed=0).fit(data, kg=kg + studio)
    gains = model.relation_weights_tuning_
    assert gains["directed_by"] > gains["studio"] > 0 and gains["actor"] == 0
    assert model.relations_kept_ == ["directed_by"]
    weights = dict(zip(model.relations, model.relation_weights.tolist(), strict=True))
    assert weights == {"actor": 0.0, "directed_by": 1.0, "studio": 0.0}


def test_catalog_facts_name_genres_and_release_years() -> None:
    facts = catalog_facts([("m1", ("Sci-Fi", "War"), 1977), ("m2", (), None), ("m3", ["Drama"], None)])
    assert facts == [("m1", "listed_genre", "Sci-Fi"), ("m1", "listed_genre", "War"), ("m1", "release_year", "1977"),
                     ("m3", "listed_genre", "Drama")]


def test_knowledge_graph_scores_an_unknown_item_from_its_facts_as_a_known_one(tiny) -> None:
    data, _vectors, kg = tiny
    model = KnowledgeGraph(learn_relation_weights=False, seed=0).fit(data, kg=kg)
    history = data.history(0)
    known = data.item_index("i3")
    facts_of_i3 = [(r, e) for item, r, e in kg if item == "i3"]
    scores = model.score_facts(history, [facts_of_i3, [*facts_of_i3, ("actor", "nobody")], [("studio", "x")], []])
    # an item with i3's facts scores as i3; a fact the model never saw adds nothing
    assert scores[0] == pytest.approx(model.score(history)[known]) and scores[1] == pytest.approx(scores[0])
    assert scores[0] > 0 and np.isnan(scores[2:]).all()  # nothing known: no score
    assert np.isnan(model.score_facts([], [facts_of_i3])).all()
    links = model.shared_entities(history, facts_of_i3)
    expected = model.shared_entities(history, known)
    assert [(x["relation"], x["entity"], x["item"]) for x in links] == [
        (x["relation"], x["entity"], x["item"]) for x in expected]
    assert [x["contribution"] for x in links] == pytest.approx([x["contribution"] for x in expected], rel=1e-5)
    assert {(link["relation"], link["entity"]) for link in links} <= set(facts_of_i3)


def test_ranker_rows_of_a_cut_history_leave_out_its_hidden_items() -> None:
    import scipy.sparse as sp

    from recommender.algorithms.hybrid import _Batch, _labelled_groups

    # two users (batch rows 0, 1 = users 3, 5); candidates 0-5; the item index is the feature
    rows = np.array([0, 0, 0, 0, 1, 1, 1])
    items = np.array([0, 1, 2, 3, 2, 4, 5])
    batch = _Batch(rows, items, items[:, None].astype(np.float32))
    validation = sp.csr_matrix(([1.0, 1.0, 1.0], ([3, 5, 5], [1, 4, 2])), shape=(6, 6))
    # user 3's training items 0 and 2 were cut from its history; user 5's item 5 too
    known = sp.csr_matrix(([1.0, 1.0, 1.0], ([3, 3, 5], [0, 2, 5])), shape=(6, 6))
    groups = _labelled_groups(batch, np.array([3, 5]), validation, known)
    assert [g[0].ravel().tolist() for g in groups] == [[1, 3], [2, 4]]  # neither positive nor negative
    assert [g[1].tolist() for g in groups] == [[1, 0], [1, 1]]
    # a user without a positive left gives no group
    assert _labelled_groups(batch, np.array([3, 5]), sp.csr_matrix((6, 6)), known) == []
