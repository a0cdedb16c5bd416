"""Train the recommender from the database and save a versioned artifact.

What trains the model: visible ratings, plus purchases, cart additions and "more like this"
as implicit positives, of users who have not opted out of personalization. Demographics are
never read here.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from catalog.models import Event, EventKind, Item, ItemRelation, Profile, Review
from recommender.algorithms.data import Interactions
from recommender.algorithms.hybrid import Hybrid
from recommender.algorithms.rerank import ExposurePrices, exposure_prices
from recommender.models import ItemEmbedding, ModelVersion

logger = logging.getLogger(__name__)

FAIRNESS_POOL = 200  # candidates per user the exposure prices are fitted on (serving scores as many)
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
}


@dataclass
class TrainingData:
    interactions: Interactions
    item_pks: np.ndarray  # item index -> Item.pk
    item_vectors: np.ndarray
    kg: list[tuple[str, str, str]]


def training_data() -> TrainingData:
    """Read the catalog into the plain-Python structures the algorithms take."""
    items = list(Item.objects.active().order_by("pk").values_list("pk", "external_id"))
    item_keys = [external_id for _, external_id in items]
    opted_out = set(Profile.objects.filter(personalization_opt_out=True).values_list("user_id", flat=True))
    best: dict[tuple[int, str], tuple[float, int]] = {}
    reviews = Review.objects.filter(is_hidden=False, item__is_active=True).values_list(
        "user_id", "item__external_id", "rating", "created_at"
    )
    for user_id, item, rating, created in reviews.iterator(chunk_size=20000):
        if user_id not in opted_out:
            best[(user_id, item)] = (float(rating), int(created.timestamp()))
    events = Event.objects.filter(kind__in=list(IMPLICIT_RATINGS), user__isnull=False, item__is_active=True)
    for user_id, item, kind, created in events.values_list("user_id", "item__external_id", "kind", "created_at"):
        if user_id in opted_out:
            continue
        value = IMPLICIT_RATINGS[kind]
        key = (user_id, item)
        if key not in best or best[key][0] < value:
            best[key] = (value, int(created.timestamp()))
    keys = list(best)
    interactions = Interactions.from_arrays(
        [str(u) for u, _ in keys], [i for _, i in keys],
        [best[k][0] for k in keys], [best[k][1] for k in keys], all_items=item_keys,
    )
    pk_of = {external_id: pk for pk, external_id in items}
    item_pks = np.array([pk_of[key] for key in interactions.item_ids], dtype=np.int64)
    vectors = np.zeros((interactions.n_items, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    index_of_pk = {int(pk): i for i, pk in enumerate(item_pks)}
    for pk, vector in ItemEmbedding.objects.filter(item_id__in=pk_of.values()).values_list("item_id", "vector"):
        vectors[index_of_pk[pk]] = vector
    kg = list(
        ItemRelation.objects.filter(item__is_active=True).values_list("item__external_id", "relation",
                                                                        "entity__external_id")
    )
    return TrainingData(interactions, item_pks, vectors, kg)


def model_train(*, seed: int = 0, activate: bool = True) -> ModelVersion:
    """Fit the hybrid on the current data, save it, and (by default) make it the active version."""
    started = time.monotonic()
    data = training_data()
    if len(data.interactions) == 0:
        raise ValueError("there are no interactions to train on yet")
    model = Hybrid(seed=seed).fit(data.interactions, item_vectors=data.item_vectors, kg=data.kg)
    model.item_pks = data.item_pks  # item index -> Item.pk, for serving
    model.exposure_prices = exposure_prices_fit(model)  # for the fairness re-ranker
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    digest = hashlib.sha256(payload).hexdigest()
    directory = Path(settings.RECSYS_ARTIFACT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"hybrid-{time.strftime('%Y%m%d-%H%M%S')}-{digest[:12]}.pkl"
    tmp = directory / f".{name}.tmp"
    tmp.write_bytes(payload)
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
    return version


def exposure_prices_fit(model: Hybrid, *, k: int = FAIRNESS_K, pool: int = FAIRNESS_POOL) -> ExposurePrices:
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


def artifact_load(version: ModelVersion) -> Hybrid:
    payload = (Path(settings.RECSYS_ARTIFACT_DIR) / version.artifact).read_bytes()
    if hashlib.sha256(payload).hexdigest() != version.sha256:
        raise ValueError(f"artifact of {version} is corrupt (checksum mismatch)")
    return pickle.loads(payload)
