"""A film deleted (by staff, in the admin) while a page that lists it is being computed is left
out of that page; it was a ``KeyError`` and a 500: the pages look films up by id after a first
query found their ids (``tests/recommender/test_serving.py`` has the item page's "also liked")."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from catalog import selectors, services
from catalog.models import EventKind, Item
from tests.conftest import deleted_before

pytestmark = pytest.mark.django_db
BY_ID = '"catalog_item"."id" IN ('  # in_bulk's query


def test_knowledge_graph_links(ml100k):
    star_wars = Item.objects.get(external_id="ml:50")
    linked = {item for fact in selectors.item_facts(item=star_wars).values() for item in fact["linked"]}
    gone = max(linked, key=lambda item: item.pk)
    with deleted_before(gone, BY_ID) as deleted:
        facts = selectors.item_facts(item=star_wars)
    assert deleted == [gone.pk]
    after = {item for fact in facts.values() for item in fact["linked"]}
    assert after == linked - {gone}


def test_history(ml100k):
    user = User.objects.create_user("historian")
    films = list(Item.objects.filter(external_id__in=["ml:1", "ml:50", "ml:100"]))
    for item in films:
        services.event_record(user=user, item=item, kind=EventKind.VIEW)
    with deleted_before(films[1], BY_ID) as deleted:
        history = selectors.user_history(user=user)
    assert deleted == [films[1].pk]
    assert {entry.item for entry in history} == {films[0], films[2]}


def test_search(ml100k):
    from recommender.selectors import item_search

    star_wars = Item.objects.get(external_id="ml:50")
    assert star_wars in {item for item, _ in item_search(query="star wars", k=10)}
    with deleted_before(star_wars, BY_ID) as deleted:
        results = item_search(query="star wars", k=10)
    assert deleted == [star_wars.pk]
    assert results and star_wars not in {item for item, _ in results}
