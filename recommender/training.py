"""Train the recommender from the database and save a versioned artifact.

What trains the model: visible ratings, plus purchases, cart additions and "more like this"
as implicit positives, of users who have not opted out of personalization. Demographics are
never read here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from catalog.models import EventKind, Item, ItemRelation
from recommender.algorithms.data import Interactions
from recommender.algorithms.hybrid import Hybrid
from recommender.algorithms.knowledge import catalog_facts
from recommender.algorithms.rerank import CANDIDATE_POOL, ExposurePrices, exposure_prices
from recommender.models import ItemEmbedding, ModelVersion

logger = logging.getLogger(__name__)

ORPHAN_AGE_SECONDS = 3600  # an artifact no version names is removed once this old
FAIRNESS_K = 10  # list length the prices spread exposure for
# Users the prices are fitted on at most (a seeded sample; exposure shares scale): 5,000, and
# fewer on large catalogues, where each user's candidate list costs a pass over every item.
FAIRNESS_USERS = 5000
FAIRNESS_CELLS = 100_000_000  # users x items scored for the prices at most (1,000 users at 100K items)

# implicit positives and the rating they count as
IMPLICIT_RATINGS = {
    EventKind.MORE_LIKE_THIS: 5.0,
    EventKind.PURCHASE: 4.5,
    EventKind.ADD_TO_CART: 4.0,
    EventKind.SAVE: 4.0,
}


@dataclass
class TrainingData:
    interactions: Interactions
    item_pks: np.ndarray  # item index -> Item.pk
    item_vectors: np.ndarray
    kg: list[tuple[str, str, str]]


def training_data() -> TrainingData:
    """Read the catalog into the plain-Python structures the algorithms take.

    A (user, item) pair counts once, as :func:`one_event_per_item` counts it for a live history:
    the user's rating when there is one, else the implicit rating of the strongest event, at
    the time of the pair's newest event. Rows are
    streamed with binary ``COPY`` into numpy (10M rows: seconds, not an ORM loop).
    """
    items = list(Item.objects.active().order_by("pk").values_list("pk", "external_id", "genres", "year"))
    item_keys = [external_id for _, external_id, _, _ in items]
    item_pks = np.array([pk for pk, *_ in items], dtype=np.int64)
    rows = _interaction_rows()
    # the order the rows were read in: reviews, then events, each newest first
    order = np.lexsort((-rows["id"], -rows["ts"], rows["src"]))
    rows = rows[order]
    position = np.arange(len(rows))
    # per pair: a review first, then the best value, then the newest row; the pair's place is its first row
    best = np.lexsort((position, -rows["value"], rows["src"], rows["item"], rows["user"]))
    pair_start = np.ones(len(best), dtype=bool)
    pair_start[1:] = (rows["user"][best][1:] != rows["user"][best][:-1]) | (
        rows["item"][best][1:] != rows["item"][best][:-1])
    starts = np.flatnonzero(pair_start)
    winners = best[pair_start]
    first_seen = np.minimum.reduceat(position[best], starts) if len(best) else position[:0]
    newest = np.maximum.reduceat(rows["ts"][best], starts) if len(best) else rows["ts"][:0]
    by_place = np.argsort(first_seen, kind="stable")
    winners, newest = winners[by_place], newest[by_place]
    users, item_of_row = rows["user"][winners], rows["item"][winners]
    # users in order of first appearance, as ``Interactions.from_arrays`` numbers them
    unique_users, first_index, user_index = np.unique(users, return_index=True, return_inverse=True)
    rank = np.empty(len(unique_users), dtype=np.int64)
    rank[np.argsort(first_index, kind="stable")] = np.arange(len(unique_users))
    interactions = Interactions(
        [str(u) for u in unique_users[np.argsort(first_index, kind="stable")]], item_keys,
        rank[user_index], np.searchsorted(item_pks, item_of_row),
        rows["value"][winners], newest // 1_000_000 + PG_EPOCH,
    )
    vectors = _item_vectors(item_pks)
    kg = list(
        ItemRelation.objects.filter(item__is_active=True).values_list("item__external_id", "relation",
                                                                        "entity__external_id")
    ) + catalog_facts(row[1:] for row in items)
    return TrainingData(interactions, item_pks, vectors, kg)


def item_facts(pks: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """The ``(relation, entity)`` facts of the items ``pks``, as :func:`training_data` reads
    them for the knowledge graph: their relations plus their genres and release year. Serving
    reads them for items newer than the model."""
    out: dict[int, list[tuple[str, str]]] = {pk: [] for pk in pks}
    relations = ItemRelation.objects.filter(item__in=out).values_list("item_id", "relation", "entity__external_id")
    for pk, relation, entity in [*relations, *catalog_facts(Item.objects.filter(pk__in=out).values_list(
            "pk", "genres", "year"))]:
        out[pk].append((relation, entity))
    return out


PG_EPOCH = 946_684_800  # 2000-01-01 in unix seconds: binary timestamps count microseconds from it
_ROW = np.dtype([("n", ">i2"), ("l0", ">i4"), ("src", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"),
                 ("user", ">i8"), ("l3", ">i4"), ("item", ">i8"), ("l4", ">i4"), ("value", ">f4"),
                 ("l5", ">i4"), ("ts", ">i8")])


def _copy_out(sql: str, params: list[object], dtype: np.dtype) -> np.ndarray:
    """Fixed-width rows of a ``COPY (query) TO STDOUT (FORMAT BINARY)`` as a numpy record array."""
    buffer = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)",
                                                            params) as copy:
        for chunk in copy:
            buffer += chunk
    if not buffer:
        return np.zeros(0, dtype)
    header = 19 + int.from_bytes(buffer[15:19], "big")  # signature, flags, extension; a 2-byte trailer
    # a view of the buffer, not a copy (the vectors alone are 1.5 GB at 1M items)
    return np.frombuffer(buffer, dtype=dtype, offset=header, count=(len(buffer) - header - 2) // dtype.itemsize)


def _interaction_rows() -> np.ndarray:
    """Visible ratings (src 0) and implicit events (src 1) of users who did not opt out, on active
    items, but not about items their user asked us not to use."""
    kinds = list(IMPLICIT_RATINGS)
    value = "CASE e.kind " + " ".join("WHEN %s THEN %s" for _ in kinds) + " END"
    sql = (
        "SELECT 0::int2, r.id::int8, r.user_id::int8, r.item_id::int8, r.rating::float4, r.created_at "
        "FROM catalog_review r "
        "JOIN catalog_item i ON i.id = r.item_id WHERE NOT r.is_hidden AND i.is_active "
        f"AND r.user_id NOT IN ({OPTED_OUT}) AND NOT EXISTS ({UNUSED.format(row='r')}) UNION ALL "
        f"SELECT 1::int2, e.id::int8, e.user_id::int8, e.item_id::int8, ({value})::float4, e.created_at "
        "FROM catalog_event e "
        "JOIN catalog_item i ON i.id = e.item_id WHERE e.kind = ANY(%s) AND e.user_id IS NOT NULL AND i.is_active "
        f"AND e.user_id NOT IN ({OPTED_OUT}) AND NOT EXISTS ({UNUSED.format(row='e')})"
    )
    params: list[object] = [x for kind in kinds for x in (str(kind), IMPLICIT_RATINGS[kind])]
    rows = _copy_out(sql, [*params, [str(kind) for kind in kinds]], _ROW)
    out = np.empty(len(rows), dtype=[("src", "i2"), ("id", "i8"), ("user", "i8"), ("item", "i8"),
                                     ("value", "f4"), ("ts", "i8")])
    for name in out.dtype.names:
        out[name] = rows[name]
    return out


OPTED_OUT = "SELECT p.user_id FROM catalog_profile p WHERE p.personalization_opt_out"
UNUSED = "SELECT 1 FROM catalog_historyexclusion x WHERE x.user_id = {row}.user_id AND x.item_id = {row}.item_id"


def _item_vectors(item_pks: np.ndarray) -> np.ndarray:
    """(n_items, d) item embeddings in ``item_pks`` order; zeros where an item has none."""
    dim = settings.EMBEDDING_DIMENSIONS
    dtype = np.dtype([("n", ">i2"), ("l0", ">i4"), ("pk", ">i8"), ("l1", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                      ("v", ">f4", (dim,))])
    rows = _copy_out(f"SELECT e.item_id::int8, e.vector FROM {ItemEmbedding._meta.db_table} e "
                     "JOIN catalog_item i ON i.id = e.item_id WHERE i.is_active", [], dtype)
    vectors = np.zeros((len(item_pks), dim), dtype=np.float32)
    vectors[np.searchsorted(item_pks, rows["pk"])] = rows["v"]
    return vectors


def model_train(*, seed: int = 0, activate: bool = True, keep: int | None = None) -> ModelVersion:
    """Fit the hybrid on the current data, save it, and (by default) make it the active version;
    then :func:`models_prune` to the ``keep`` newest versions (``RECSYS_KEEP_MODELS``)."""
    keep = settings.RECSYS_KEEP_MODELS if keep is None else keep
    if keep < 1:  # said before the training, not after it
        raise ValueError(f"keep at least one model version (keep={keep})")
    started = time.monotonic()
    data = training_data()
    if len(data.interactions) == 0:
        raise ValueError("there are no interactions to train on yet")
    model = Hybrid(seed=seed).fit(data.interactions, item_vectors=data.item_vectors, kg=data.kg)
    model.item_pks = data.item_pks  # item index -> Item.pk, for serving
    model.exposure_prices = exposure_prices_fit(model)  # for the fairness re-ranker
    directory = Path(settings.RECSYS_ARTIFACT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".hybrid-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.tmp"
    with tmp.open("wb") as handle:  # streamed: no artifact-sized copy in memory (4 GB at 1M items)
        writer = _HashingWriter(handle)
        pickle.dump(model, writer, protocol=pickle.HIGHEST_PROTOCOL)
    digest = writer.sha256.hexdigest()
    name = f"{tmp.name[1:-len('.tmp')]}-{digest[:12]}.pkl"
    tmp.replace(directory / name)  # atomic: a reader never sees half a file
    elapsed = time.monotonic() - started
    with transaction.atomic():
        version = ModelVersion.objects.create(
            algorithm="hybrid", artifact=name, sha256=digest,
            params={"seed": seed, "components": list(model.components)},
            n_users=data.interactions.n_users, n_items=data.interactions.n_items,
            n_interactions=len(data.interactions), training_seconds=round(elapsed, 2),
        )
        if activate:
            version_activate(version=version)
    logger.info("trained %s in %.1f s", version, elapsed)
    models_prune(keep=keep)
    return version


@dataclass(frozen=True)
class Pruned:
    versions: int  # model versions deleted (their artifacts with them)
    files: int  # artifacts no version named, and leftovers of interrupted trainings


def models_prune(*, keep: int) -> Pruned:
    """Delete all but the ``keep`` newest model versions (the active one is always kept), and
    their artifacts: every training adds one (42 MB at MovieLens-100K, about 4 GB at 1M items),
    and each holds what it learned from users who may since have erased their accounts.
    Artifacts no version names (a row deleted outside Django, a training killed between
    writing its file and recording it) go too, once an hour old, so a training in progress
    keeps its file."""
    if keep < 1:
        raise ValueError(f"keep at least one model version (keep={keep})")
    with transaction.atomic():
        ids = list(ModelVersion.objects.select_for_update().values_list("pk", flat=True))  # ordered newest first
        stale = ModelVersion.objects.filter(pk__in=ids[keep:], is_active=False)
        versions, _ = stale.delete()
    directory = Path(settings.RECSYS_ARTIFACT_DIR)
    named = set(ModelVersion.objects.values_list("artifact", flat=True))
    cutoff = time.time() - ORPHAN_AGE_SECONDS
    files = 0
    for path in [*directory.glob("hybrid-*.pkl"), *directory.glob(".hybrid-*.tmp")] if directory.is_dir() else []:
        if path.name not in named and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            files += 1
    if versions or files:
        logger.info("pruned %d model versions and %d unnamed artifacts", versions, files)
    return Pruned(versions=versions, files=files)


def artifact_delete(version: ModelVersion) -> None:
    """Remove ``version``'s artifact unless another version names the same file (post_delete,
    after the commit: a rolled-back delete keeps it)."""
    def remove() -> None:
        if not ModelVersion.objects.filter(artifact=version.artifact).exists():
            (Path(settings.RECSYS_ARTIFACT_DIR) / version.artifact).unlink(missing_ok=True)

    transaction.on_commit(remove)


def exposure_prices_fit(model: Hybrid, *, k: int = FAIRNESS_K, pool: int = CANDIDATE_POOL) -> ExposurePrices:
    """Exposure prices fitted on every trained user's candidate list (their own items masked):
    training data only, so serving can apply them statelessly."""
    users = np.arange(model.data.n_users)
    cap = min(FAIRNESS_USERS, max(100, FAIRNESS_CELLS // max(model.n_items, 1)))
    if len(users) > cap:  # shares of exposure need a sample, not everyone: bounded time
        users = np.sort(np.random.default_rng(0).choice(users, cap, replace=False))
    items, scores = model.recommend_users(users, pool, exclude=[model.data.seen(int(u)) for u in users])
    return exposure_prices(items, scores, n_items=model.n_items, k=k)


@transaction.atomic
def version_activate(*, version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one serving uses (rolling back is activating an older one)."""
    ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
    version.is_active = True
    return version


class _HashingWriter:
    """A binary file that hashes what is written to it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.sha256 = handle, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self.handle.write(data)


def artifact_load(version: ModelVersion) -> Hybrid:
    """The version's model, once its file's checksum matches: the file is hashed in chunks and
    then unpickled from disk, so a serving process never holds the raw bytes next to the model
    (that doubled its peak memory while loading: 8.4 GiB for a 4 GB artifact at 1M items)."""
    path = Path(settings.RECSYS_ARTIFACT_DIR) / version.artifact
    with path.open("rb") as handle:
        if hashlib.file_digest(handle, "sha256").hexdigest() != version.sha256:
            raise ValueError(f"artifact of {version} is corrupt (checksum mismatch)")
        handle.seek(0)
        return pickle.load(handle)
