"""An item's knowledge-graph facts in the admin, in words: the relation's label, the entity, and
the other films with the same fact (MovieLens' Freebase entities are bare ids such as m.06nr3_)."""

import html

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import services
from catalog.models import Entity, Item, ItemRelation

# Other tests of the session may have committed MovieLens to this database: the entities here
# are ones it does not have.


def _film(title: str, year: int, **facts: Entity) -> Item:
    film = services.item_create(title=title, year=year)
    for relation, entity in facts.items():
        ItemRelation.objects.create(item=film, relation=relation, entity=entity)
    return film


def _change_page(client, film: Item) -> str:
    response = client.get(reverse("admin:catalog_item_change", args=[film.pk]))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _link(film: Item) -> str:
    return f'<a href="{reverse("admin:catalog_item_change", args=[film.pk])}">{film.display_title}</a>'


def test_an_items_facts_say_the_relation_the_entity_and_the_films_sharing_it(staff_client):
    director = Entity.objects.create(external_id="m.0test_director")  # no name, as MovieLens'
    composer = Entity.objects.create(external_id="m.0test_composer")
    star = Entity.objects.create(external_id="m.0test_star", name="Tippi Hedren")
    psycho = _film("Psycho Test", 1960, directed_by=director, written_by=composer, actor=star)
    others = [_film(title, year, directed_by=director) for title, year in (
        ("Vertigo Test", 1958), ("Rope Test", 1948), ("Marnie Test", 1964), ("Topaz Test", 1969),
        ("Frenzy Test", 1972))]
    birds = _film("Birds Test", 1963, written_by=composer)
    page = _change_page(staff_client, psycho)
    rows = {relation: page[page.index(f"<p>{relation}</p>"):].split("</tr>")[0]
            for relation in ("directed_by", "written_by", "actor")}
    shown = sorted(others, key=lambda film: film.title)[:3]  # none reviewed: by title
    assert "<p>directed by</p>" in rows["directed_by"] and "m.0test_director" in rows["directed_by"]
    assert f"5 films: {', '.join(_link(film) for film in shown)} and 2 more" in rows["directed_by"]
    assert "<p>written by</p>" in rows["written_by"] and f"1 film: {_link(birds)}</p>" in rows["written_by"]
    assert "Tippi Hedren" in rows["actor"] and "only this film" in rows["actor"]
    # without Django's heading line ("Psycho Test (1960) directed_by m.0test_director") over each row
    assert 'class="module plain-rows"' in page and 'href="/static/css/admin.css"' in page
    # the films' pages link back
    assert "1 film: " + _link(psycho) in _change_page(staff_client, birds)
    # the list of all facts says them in words too, and filters by them
    url = reverse("admin:catalog_itemrelation_changelist")
    listing = staff_client.get(url, {"q": "Psycho Test"}).content.decode()
    assert '<td class="field-relation_label">directed by</td>' in listing
    assert 'relation=directed_by">directed by</a>' in listing
    assert staff_client.get(url, {"q": "Psycho Test", "relation": "directed_by"}).context["cl"].result_count == 1


def test_the_facts_shared_films_are_read_in_one_query_however_many_facts(staff_client):
    def queries(film: Item) -> int:
        with CaptureQueriesContext(connection) as captured:
            _change_page(staff_client, film)
        return len(captured)

    few = _film("Few Facts", 2001, actor=Entity.objects.create(external_id="m.0test_few"))
    many = services.item_create(title="Many Facts", year=2002)
    for n in range(12):
        entity = Entity.objects.create(external_id=f"m.0test_many{n}", name=f"Person {n}" if n % 2 else "")
        ItemRelation.objects.create(item=many, relation="actor" if n % 3 else "produced_by", entity=entity)
        _film(f"Sharing {n}", 1990 + n, **{"actor" if n % 3 else "produced_by": entity})
    _change_page(staff_client, few)  # (the first page of a session reads a little more)
    assert queries(many) == queries(few)
    with CaptureQueriesContext(connection) as captured:
        _change_page(staff_client, many)
    assert sum("catalog_itemrelation" in query["sql"] for query in captured) == 2  # the facts, the shared films


def test_staff_add_and_delete_facts_in_the_inline_with_the_entity_autocomplete(staff_client):
    director = Entity.objects.create(external_id="m.0test_added", name="Test Director")
    kept = Entity.objects.create(external_id="m.0test_kept")
    gone = Entity.objects.create(external_id="m.0test_gone")
    film = _film("Editable Facts", 1999, actor=kept, genre=gone)
    url = reverse("admin:catalog_item_change", args=[film.pk])
    form = staff_client.get(url).context["adminform"].form
    page = _change_page(staff_client, film)
    # the saved facts are read only; the row to add has the autocomplete
    assert 'name="relations-0-relation"' not in page and 'name="relations-0-entity"' not in page
    assert 'name="relations-__prefix__-entity"' in page and "admin-autocomplete" in page
    found = staff_client.get(reverse("admin:autocomplete"), {
        "term": "Test Director", "app_label": "catalog", "model_name": "itemrelation", "field_name": "entity"}).json()
    assert [result["id"] for result in found["results"]] == [str(director.pk)]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"genres": ",".join(film.genres), "tags": "", "attributes": "{}", "is_active": "on",
                 "relations-TOTAL_FORMS": "3", "relations-INITIAL_FORMS": "2", "relations-MIN_NUM_FORMS": "0",
                 "relations-MAX_NUM_FORMS": "1000", "relations-2-relation": "directed_by",
                 "relations-2-entity": str(director.pk), "relations-2-item": str(film.pk)})
    data.pop("category", None)
    for n, fact in enumerate(ItemRelation.objects.filter(item=film).order_by("relation")):  # actor, genre
        data.update({f"relations-{n}-id": str(fact.pk), f"relations-{n}-item": str(film.pk)})
    data["relations-1-DELETE"] = "on"
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert set(ItemRelation.objects.filter(item=film).values_list("relation", "entity__external_id")) == {
        ("actor", "m.0test_kept"), ("directed_by", "m.0test_added")}
