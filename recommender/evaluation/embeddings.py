"""Item embeddings for offline evaluation, cached as .npy under ``var/cache/`` by text hash."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from catalog.datasets import Dataset
from recommender.documents import item_document

DEFAULT_CACHE = Path(os.environ.get("RECSITE_VAR_DIR", "var")) / "cache"


def item_texts(dataset: Dataset, item_ids: list[str]) -> list[str]:
    """One document per item id; KG entities have no names here, so only titled facts count."""
    facts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for item, relation, entity in dataset.kg:
        if not entity.startswith("m."):  # Freebase ids are not names
            facts[item][relation].append(entity)
    texts = []
    for item_id in item_ids:
        record = dataset.items.get(item_id)
        if record is None:
            texts.append("")
            continue
        texts.append(item_document(title=record.title, year=record.year, genres=record.genres,
                                   description=record.description, facts=facts.get(item_id)))
    return texts


def item_embeddings(dataset: Dataset, item_ids: list[str], cache_dir: Path = DEFAULT_CACHE) -> np.ndarray:
    """(len(item_ids), d) float32; empty texts give zero rows. Cached by a hash of all texts."""
    texts = item_texts(dataset, item_ids)
    digest = hashlib.sha256("\x1e".join(texts).encode("utf-8")).hexdigest()[:24]
    path = cache_dir / f"items-{digest}.npy"
    if path.exists():
        return np.load(path)
    from recommender.encoder import get_encoder

    non_empty = [i for i, t in enumerate(texts) if t]
    vectors = get_encoder().encode([texts[i] for i in non_empty])
    out = np.zeros((len(texts), vectors.shape[1] if len(non_empty) else 384), dtype=np.float32)
    out[non_empty] = vectors
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, out)
    os.replace(tmp, path)
    return out
