"""The minimal storefront pages and the admin, on the real data."""

from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from catalog import services
from catalog.demo import DEMO_STAFF, seed_demo
from catalog.models import Item, ItemRelation
from catalog.services import review_save


def test_browse_lists_items_paginated_sorted_and_by_genre(ml100k, client):
    response = client.get("/browse/")
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1682
    assert b"Star Wars (1977)" in response.content  # the most rated movie is on page 1
    page = client.get("/browse/Film-Noir/", {"page": 2, "sort": "rating"})
    assert page.status_code == 200
    assert all("Film-Noir" in item.genres for item in page.context["page"])
    scores = [item.rating_score or 0 for item in page.context["page"]]
    assert scores == sorted(scores, reverse=True)
    first = client.get("/browse/", {"sort": "rating"}).context["page"]
    assert first[0].avg_rating is not None  # unrated items go last, not first
    # a few 5-star ratings do not outrank hundreds of 4.5s (a Bayesian average)
    assert all(item.review_count >= 50 for item in list(first)[:10])
    assert first[0].display_title in {"Schindler's List (1993)", "Casablanca (1942)",
                                      "The Shawshank Redemption (1994)", "Star Wars (1977)"}
    assert client.get("/browse/", {"page": "999", "sort": "bogus"}).status_code == 200  # no 500
    newest = client.get("/browse/", {"sort": "newest"}).context["page"]
    assert newest[0].year >= newest[len(newest) - 1].year


def test_unknown_genres_and_impossible_filters_are_messages_not_errors(ml100k, client):
    assert client.get("/browse/NoSuchGenre/").status_code == 404
    assert client.get("/browse/Act%00ion/").status_code == 404  # PostgreSQL refuses NUL: never a 500
    assert "unknown" not in client.get("/browse/").context["genres"]  # MovieLens' placeholder for none
    for params, message in [
        ({"q": "star", "genre": "\x00"}, "Select a valid choice"),
        ({"q": "star", "genre": "NoSuchGenre"}, "Select a valid choice"),
        ({"q": "star", "year_min": "abc"}, "From year must be a year such as 1995."),
        ({"q": "star", "year_min": "1990", "year_max": "1980"}, "To year must not be before from year."),
        ({"q": "x" * 301}, "Search text is limited to 300 characters."),
    ]:
        response = client.get("/search/", params)
        assert response.status_code == 200
        assert any(message in error for error in response.context["errors"]), response.context["errors"]
        assert not response.context["results"]
    found = client.get("/search/", {"q": "star", "genre": "Sci-Fi", "year_min": "1977", "year_max": "1977"})
    assert not found.context["errors"]
    assert [item.display_title for item in found.context["results"]][:1] == ["Star Wars (1977)"]


def test_search_pages_through_results_and_lists_what_filters_alone_allow(ml100k, client):
    def shown(params: dict) -> list:
        context = client.get("/search/", params).context
        return context["results"] + context["related"]

    first = client.get("/search/", {"q": "comedy"})
    page = first.content.decode()
    assert len(first.context["results"]) == 24 and "The 24 best matches for" in page  # not "24 matches"
    assert 'href="?q=comedy&amp;n=48">Show more results' in page
    more = shown({"q": "comedy", "n": "48"})
    assert len(more) == 48 and more[:24] == first.context["results"]  # the same first page, then more
    assert len(shown({"q": "comedy", "n": "10000"})) == 72  # capped
    assert len(shown({"q": "comedy", "n": "²"})) == 24
    # the matches end where relevance drops: the two Godfather films, then 22 films only related
    # (they were "the 24 best matches")
    short = client.get("/search/", {"q": "godfathr"})
    page = short.content.decode()
    assert [item.display_title for item in short.context["results"]] == [
        "The Godfather (1972)", "The Godfather: Part II (1974)"]
    assert len(short.context["related"]) == 22 and "best matches" not in page
    assert "2 matches for <strong>“godfather”</strong>" in page
    assert page.index("The Godfather: Part II") < page.index("Related films") < page.index(
        short.context["related"][0].display_title)
    # a genre and years without words: the films they allow, most reviewed first (was an empty page)
    comedies = client.get("/search/", {"genre": "Comedy", "year_min": "1990", "year_max": "1995"})
    films = comedies.context["results"]
    assert len(films) == 24 and all("Comedy" in f.genres and 1990 <= f.year <= 1995 for f in films)
    assert [f.review_count for f in films] == sorted((f.review_count for f in films), reverse=True)
    assert "Add words to search among them." in comedies.content.decode()
    none = client.get("/search/", {"genre": "Western", "year_min": "2030"})
    assert "No film fits these filters." in none.content.decode()
    assert "Type words or a description" in client.get("/search/", {"q": " "}).content.decode()


def test_item_page_shows_reviews_and_facts(ml100k, client):
    seed_demo()
    response = client.get(reverse("item_detail", kwargs={"slug": "star-wars-1977"}))
    assert response.status_code == 200
    assert b"space adventure that started it all" in response.content
    facts = response.context["facts"]
    # MovieLens' Freebase entities are bare ids: the page names the films they link to instead
    assert facts["actor"]["phrase"] == "Shares an actor with"
    assert facts["actor"]["linked"] and not facts["actor"]["names"]
    assert "m.0" not in response.content.decode()
    # the films sharing the most of Star Wars' actors first (then the most rated), counted directly
    star_wars = response.context["item"]
    actors = ItemRelation.objects.filter(item=star_wars, relation="actor").values("entity_id")
    shared = Counter(ItemRelation.objects.filter(relation="actor", entity_id__in=actors, item__is_active=True)
                     .exclude(item=star_wars).values_list("item_id", flat=True))
    rated = {pk: (n, title) for pk, n, title in Item.objects.filter(pk__in=shared)
             .values_list("pk", "review_count", "title")}
    expected = sorted(shared, key=lambda pk: (-shared[pk], -rated[pk][0], rated[pk][1], pk))[:5]
    assert [other.pk for other in facts["actor"]["linked"]] == expected
    # a fact much of the catalogue shares (English: 1,435 films) links to nothing, it is no news:
    # every linked film shares a narrower entity of that relation
    most = 0.02 * Item.objects.count()

    def narrow(relation: str) -> list[int]:
        mine = ItemRelation.objects.filter(item=star_wars, relation=relation).values_list("entity_id", flat=True)
        return [e for e in mine if ItemRelation.objects.filter(entity_id=e).count() <= most]

    assert len(narrow("language")) < ItemRelation.objects.filter(item=star_wars, relation="language").count()
    for relation, fact in facts.items():
        for other in fact["linked"]:
            assert ItemRelation.objects.filter(item=other, relation=relation, entity_id__in=narrow(relation)).exists()
    linked = facts["actor"]["linked"][0]
    assert f'href="{linked.get_absolute_url()}"' in response.content.decode()
    assert response.context["reviews_rated"] == 583  # the histogram's; the list has the written ones
    written = star_wars.reviews.filter(is_hidden=False).exclude(text="")
    assert response.context["reviews"].paginator.count == written.count()
    missing = client.get("/items/no-such-movie/")
    assert missing.status_code == 404
    assert b"We could not find that page" in missing.content and b'href="/browse/"' in missing.content


def test_error_pages_are_the_stores_own():
    from django.template.loader import render_to_string

    assert "Something went wrong on our side" in render_to_string("500.html")  # no request context needed
    for name, heading in [("400.html", "did not make sense"), ("403.html", "not allowed")]:
        assert heading in render_to_string(name)


def test_the_author_sees_that_a_moderator_hid_their_review(ml100k, client):
    user = User.objects.create_user("hidden", password="hidden-pass-2026")
    review = review_save(user=user, item=Item.objects.get(slug="star-wars-1977"), rating="4", text="Meh")
    client.force_login(user)
    url = reverse("item_detail", kwargs={"slug": "star-wars-1977"})
    assert b"data-hidden-review" not in client.get(url).content
    review.is_hidden = True
    review.save()
    assert b"data-hidden-review" in client.get(url).content


@pytest.mark.parametrize("model", ["item", "review", "event", "profile", "entity", "itemrelation", "category"])
def test_admin_changelists_with_search(ml100k, client, model):
    seed_demo()
    client.login(username=DEMO_STAFF[0], password=DEMO_STAFF[1])
    url = reverse(f"admin:catalog_{model}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "star"}).status_code == 200


def test_admin_needs_staff(ml100k, client):
    User.objects.create_user("shopper", password="pw-123456789")
    client.login(username="shopper", password="pw-123456789")
    assert client.get(reverse("admin:catalog_item_changelist")).status_code == 302


def test_a_bad_rating_says_which_field_and_what_to_do(ml100k, client):
    user = User.objects.create_user("rater", password="rater-pass-2026")
    client.force_login(user)
    url = reverse("item_rate", kwargs={"slug": "star-wars-1977"})
    for data, message in [({"text": "Great"}, "Stars: Choose how many stars."),
                          ({"rating": "7", "text": ""}, "Stars: Choose from 0.5 to 5 stars, in half stars."),
                          ({"rating": "4", "text": "x" * 5001}, "Your review: Ensure this value has at most 5000")]:
        response = client.post(url, data, follow=True)
        shown = [str(m) for m in response.context["messages"]]
        assert any(m.startswith(message) for m in shown), shown
    assert not user.reviews.exists()


def test_the_refine_box_says_how_it_read_the_request(trained_model, client):
    request = {"refine": "more sci-fi, less horror and something lighter"}
    page = client.get("/", request).content.decode()
    reading = page[page.index("data-refine-reading"):].split("</p>")[0]
    assert "more Sci-Fi" in reading and "less Horror" in reading and "more Comedy" in reading
    assert "data-refine-ignored" not in page
    assert "data-refine-reading" not in client.get("/").content.decode()
    # a feed that cannot follow the request says so instead of claiming to have read it
    user = User.objects.create_user("no-profiling")
    services.profile_update(user=user, personalization_opt_out=True)
    client.force_login(user)
    page = client.get("/", request).content.decode()
    assert "data-refine-reading" not in page and "Popular right now" in page
    assert "Personal recommendations are off for your account" in page


def test_click_context_keeps_what_cards_send_and_drops_the_rest(ml100k, client):
    from catalog.models import Event

    item = Item.objects.get(slug="star-wars-1977")
    shopper = User.objects.create_user("clicker")
    client.force_login(shopper)
    sent = {"kind": "more_like_this", "src": "for_you", "pos": "3", "rid": "abc123"}
    assert client.post(reverse("item_feedback", args=[item.slug]), sent).status_code == 302
    assert Event.objects.filter(user=shopper).latest("id").context == {"src": "for_you", "pos": 3, "rid": "abc123"}
    # what no card sends ("²" passes str.isdigit, int() refuses it; PostgreSQL's JSON refuses NUL)
    odd = {"src": "for\x00you", "pos": "²", "rid": "abc123"}
    assert client.post(reverse("item_feedback", args=[item.slug]), {**odd, "kind": "not_interested"}).status_code == 302
    assert client.post(reverse("cart_add", args=[item.slug]), odd).status_code == 302
    assert [e.context for e in Event.objects.filter(user=shopper).order_by("-id")[:2]] == [{"rid": "abc123"}] * 2


def test_the_page_again_after_an_action_on_it_is_not_another_view_or_click(ml100k, client):
    from catalog.models import Event

    item, other = Item.objects.get(slug="star-wars-1977"), Item.objects.get(slug="fargo-1996")
    shopper = User.objects.create_user("viewer-once")
    client.force_login(shopper)

    def counts() -> Counter:
        return Counter(Event.objects.filter(user=shopper, item=item).values_list("kind", flat=True))

    page = client.get(item.get_absolute_url(), {"src": "for_you", "pos": "1", "rid": "r1"})
    assert 'name="next" value="/items/star-wars-1977/"' in page.content.decode()  # the forms come back here
    assert counts() == {"click": 1, "view": 1}
    back = client.post(reverse("cart_add", args=[item.slug]), {"next": item.get_absolute_url()},
                       HTTP_REFERER=f"http://testserver{item.get_absolute_url()}?src=for_you&pos=1&rid=r1")
    assert back.url == item.get_absolute_url()  # not the referrer: its ?src= would count a second click
    client.get(back.url)
    client.post(reverse("item_feedback", args=[item.slug]), {"kind": "more_like_this", "next": back.url}, follow=True)
    client.get(item.get_absolute_url())  # a reload
    assert counts() == {"click": 1, "view": 1, "add_to_cart": 1, "more_like_this": 1}
    client.get(other.get_absolute_url())
    client.get(item.get_absolute_url())  # coming back after another film is a view
    assert counts()["view"] == 2


def test_the_home_page_shows_each_film_once(trained_model, client):
    """Trending and new arrivals leave out what the rows above them show: an anonymous
    visitor's feed is close to popularity, and "Trending now" used to repeat most of it."""
    from recommender import serving
    from recommender.views import ROW_SIZE

    rows = {row.key: [rec.item.pk for rec in row.items] for row in client.get("/").context["rows"]}
    assert set(rows) == {"for_you", "trending", "new"} and all(len(pks) == ROW_SIZE for pks in rows.values())
    everything = [pk for pks in rows.values() for pk in pks]
    assert len(everything) == len(set(everything))
    assert set(rows["for_you"]) & {rec.item.pk for rec in serving.trending(k=10)}  # there was something to leave out


def test_onboarding_offers_films_matching_the_interests_first(ml100k, client):
    """What a new shopper wrote at sign-up leads the films offered (up to half), the most
    reviewed fill the rest; without interests the offer is the most reviewed films."""
    from recommender.selectors import ONBOARDING_CHOICES

    popular = list(Item.objects.active().order_by("-review_count", "id").values_list("pk", flat=True))
    plain = User.objects.create_user("plain-newcomer")
    client.force_login(plain)
    assert [item.pk for item in client.get(reverse("onboarding")).context["items"]] == popular[:ONBOARDING_CHOICES]

    kid = User.objects.create_user("cartoon-fan")
    services.profile_update(user=kid, interests="animated children's movies")
    client.force_login(kid)
    page = client.get(reverse("onboarding"))
    offered = page.context["items"]
    assert len(offered) == len({item.pk for item in offered}) == ONBOARDING_CHOICES
    first = offered[: ONBOARDING_CHOICES // 2]
    assert sum("Animation" in item.genres or "Children's" in item.genres for item in first) >= len(first) // 2
    assert sum("Animation" in item.genres for item in first) > sum(
        "Animation" in Item.objects.get(pk=pk).genres for pk in popular[: len(first)])
    assert "Films that match “animated children&#x27;s movies” come first" in page.content.decode()
    # the offer is what the form accepts
    pick = offered[0]
    response = client.post(reverse("onboarding"), {"picks": [str(pick.pk)]})
    assert response.status_code == 302
    assert kid.events.filter(item=pick).exists()


def test_a_card_and_the_history_page_stop_using_an_item_for_recommendations(trained_model, client):
    user = User.objects.create_user("history-page")
    star_wars, fargo = Item.objects.get(slug="star-wars-1977"), Item.objects.get(slug="fargo-1996")
    review_save(user=user, item=star_wars, rating="5")
    review_save(user=user, item=fargo, rating="5")
    button = "Don't use Star Wars (1977) for my recommendations"
    assert button not in client.get("/").content.decode()  # not signed in: no history to edit
    client.force_login(user)
    assert button in client.get("/").content.decode()

    response = client.post(reverse("history_use", args=[star_wars.pk]), {"used": "0", "next": "/"}, follow=True)
    assert response.redirect_chain == [("/", 302)]
    page = response.content.decode()
    assert "your recommendations no longer use Star Wars (1977)" in page
    assert button not in page and "Because you rated Star Wars" not in page
    assert "Don't use Fargo (1996) for my recommendations" in page  # the other rating still explains

    history = client.get(reverse("history")).content.decode()
    assert history.index("Star Wars (1977)") < history.index("Fargo (1996)")  # newest first: the exclusion
    row = history[history.index("Star Wars (1977)"):].split("</tr>")[0]
    assert "Not used." in row and 'value="1"' in row
    client.post(reverse("history_use", args=[star_wars.pk]), {"used": "1"})
    assert not user.history_exclusions.exists()

    response = client.post(reverse("history_use", args=[star_wars.pk]), {"used": "maybe"}, follow=True)
    assert "Say whether to use the item" in response.content.decode() and not user.history_exclusions.exists()
    assert client.post(reverse("history_use", args=[999999]), {"used": "0"}).status_code == 404
    client.logout()
    response = client.post(reverse("history_use", args=[star_wars.pk]), {"used": "0"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("history"))["Location"].startswith(reverse("login"))


def test_not_interested_can_be_undone_on_the_card_and_in_the_history(trained_model, client):
    user = User.objects.create_user("undo-page")
    fargo = Item.objects.get(slug="fargo-1996")
    client.force_login(user)
    url = reverse("item_feedback", args=[fargo.slug])
    card = client.post(url, {"kind": "not_interested"}, HTTP_HX_REQUEST="true").content.decode()
    assert "won&#x27;t show Fargo (1996) again" in card and 'value="show_again"' in card and ">Undo<" in card
    history = client.get(reverse("history")).content.decode()
    row = history[history.index("Fargo (1996)"):].split("</tr>")[0]
    assert "Not interested." in row and ">Show again<" in row
    undone = client.post(url, {"kind": "show_again"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Fargo (1996) can be recommended to you again." in undone and "Undo" not in undone
    assert "Fargo (1996)" not in client.get(reverse("history")).content.decode()  # nothing else done with it

    client.post(url, {"kind": "not_interested"})
    response = client.post(url, {"kind": "show_again", "next": reverse("history")}, follow=True)
    assert response.redirect_chain == [(reverse("history"), 302)]
    assert "can be recommended to you again" in response.content.decode()


def test_posters_show_the_items_image_or_its_initial(db, client):
    """An item's ``image_url`` (set in the admin or the API) is its poster on every page; an item
    without one gets a lettered poster, the letter past a leading article."""
    pictured = services.item_create(title="The Lighthouse Keeper", year=2031, genres=["Drama"],
                                    image_url="https://images.example.org/keeper.jpg")
    lettered = services.item_create(title="The Owl Court", year=2031, genres=["Drama"])
    assert (lettered.initial, services.item_create(title="A", year=2030).initial) == ("O", "A")
    image = '<img src="https://images.example.org/keeper.jpg" alt="" loading="lazy">'
    for url in (reverse("item_detail", args=[pictured.slug]), reverse("browse_genre", args=["Drama"]) + "?sort=newest"):
        assert image in client.get(url).content.decode(), url
    page = client.get(reverse("item_detail", args=[lettered.slug])).content.decode()
    assert f'style="--hue:{lettered.poster_hue}" aria-hidden="true"><span>O</span>' in page and "<img" not in page


def test_the_item_page_lists_written_reviews_and_counts_the_ratings_in_its_histogram(db, client):
    """A rating without words is a bar in the histogram, not a card of its own (Star Wars had 59
    pages of cards, 582 of them a star and a name)."""
    from rest_framework.test import APIClient

    film = Item.objects.create(title="Quiet Film", slug="quiet-film", external_id="t:quiet")
    for n in range(12):
        review_save(user=User.objects.create_user(f"rater{n}"), item=film, rating=4)
    written = review_save(user=User.objects.create_user("writer"), item=film, rating=2, text="Too slow for me.")
    page = client.get(film.get_absolute_url())
    html = page.content.decode()
    assert [review.pk for review in page.context["reviews"]] == [written.pk]
    assert "(13 ratings, 1 written)" in html and "Too slow for me." in html
    assert [(stars, count) for stars, count, _ in page.context["histogram"]] == [(5, 0), (4, 12), (3, 0), (2, 1),
                                                                                 (1, 0)]
    written.text = ""
    written.save()
    assert "No written reviews yet." in client.get(film.get_absolute_url()).content.decode()
    api = APIClient()
    assert api.get("/api/reviews/", {"item": film.pk}).json()["count"] == 13
    written.text = "Better the second time."
    written.save()
    only = api.get("/api/reviews/", {"item": film.pk, "written": 1}).json()
    assert only["count"] == 1 and only["results"][0]["text"] == "Better the second time."


def test_a_shopper_deletes_their_own_rating_and_review_on_the_item_page(db, client):
    film = Item.objects.create(title="Quiet Film", slug="quiet-film", external_id="t:quiet")
    other = review_save(user=User.objects.create_user("neighbour"), item=film, rating=5, text="Lovely.")
    user = User.objects.create_user("regretful", password="regretful-pass-2026")
    review_save(user=user, item=film, rating=1, text="Did not get it.")
    url = reverse("item_rate_delete", kwargs={"slug": film.slug})
    assert client.post(url).url == f"{reverse('login')}?next={film.get_absolute_url()}"
    client.force_login(user)
    page = client.get(film.get_absolute_url()).content.decode()
    assert f'action="{url}"' in page and "Delete my rating and review" in page
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Deleted: your rating and review of Quiet Film."]
    html = response.content.decode()
    assert "Rate this movie" in html and "Did not get it." not in html and f'action="{url}"' not in html
    assert list(user.reviews.all()) == [] and list(film.reviews.all()) == [other]
    film.refresh_from_db()
    assert (film.review_count, film.avg_rating) == (1, 5.0)
    again = client.post(url, follow=True)
    assert [str(m) for m in again.context["messages"]] == ["You have not rated Quiet Film."]
    review_save(user=user, item=film, rating=3)
    assert "Delete my rating<" in client.get(film.get_absolute_url()).content.decode()  # no words: just the rating
