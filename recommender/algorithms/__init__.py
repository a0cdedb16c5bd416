"""Pure-Python recommendation components (no Django): one interface, many algorithms.

Every component has ``fit(data, **side_info)``, ``score(user_or_history, items)`` and
``recommend(user_or_history, k, exclude)``; see :mod:`.base`. :func:`build` makes one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import Recommender, top_k
from .content import Content
from .data import Interactions, Profile, split_per_user
from .factorization import ALS, BPR
from .hybrid import Hybrid
from .knowledge import KnowledgeGraph
from .neighbors import EASE, ItemKNN, TemporalItemKNN, UserKNN
from .popularity import Popularity, TimePopularity, Trending
from .prior import PopularityBlend
from .rating import BPMF
from .session import Session

# name -> factory(seed, num_threads). Content / KG / session stand alone with a learned
# popularity prior (see :mod:`.prior`); the hybrid uses them raw and learns its own weights.
REGISTRY: dict[str, Callable[..., Recommender]] = {
    "pop": lambda seed=0, num_threads=None: Popularity(),
    "trending": lambda seed=0, num_threads=None: Trending(),
    "timepop": lambda seed=0, num_threads=None: TimePopularity(),
    "itemknn": lambda seed=0, num_threads=None: ItemKNN(seed=seed),
    "ease": lambda seed=0, num_threads=None: EASE(seed=seed),
    "tknn": lambda seed=0, num_threads=None: TemporalItemKNN(seed=seed),
    "userknn": lambda seed=0, num_threads=None: UserKNN(seed=seed),
    "als": lambda seed=0, num_threads=None: ALS(seed=seed, num_threads=num_threads),
    "bpr": lambda seed=0, num_threads=None: BPR(seed=seed, num_threads=num_threads),
    "content": lambda seed=0, num_threads=None: PopularityBlend(Content(), seed=seed),
    "kg": lambda seed=0, num_threads=None: PopularityBlend(KnowledgeGraph(seed=seed), seed=seed),
    "session": lambda seed=0, num_threads=None: PopularityBlend(Session(seed=seed), seed=seed),
    "bpmf": lambda seed=0, num_threads=None: BPMF(seed=seed),
    "hybrid": lambda seed=0, num_threads=None: Hybrid(seed=seed, num_threads=num_threads),
}


def build(name: str, **kwargs: Any) -> Recommender:
    """A new, unfitted component by registry name."""
    try:
        return REGISTRY[name](**kwargs)
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(REGISTRY)}") from None


__all__ = [
    "ALS", "BPMF", "BPR", "EASE", "REGISTRY", "Content", "Hybrid", "Interactions", "ItemKNN", "KnowledgeGraph",
    "Popularity", "PopularityBlend", "Profile", "Recommender", "Session", "TemporalItemKNN", "TimePopularity",
    "Trending", "UserKNN", "build", "split_per_user", "top_k",
]
