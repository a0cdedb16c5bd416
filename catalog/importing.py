"""Bulk, idempotent import of a :class:`catalog.datasets.Dataset` into the catalog.

Rows are streamed with PostgreSQL ``COPY`` into temporary staging tables and merged with
``INSERT ... ON CONFLICT``, all inside one transaction: a failure leaves nothing behind, and a
second run of the same data changes nothing (and says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils.text import slugify
from tqdm import tqdm

from catalog import signals
from catalog.datasets import EXTERNAL_ID_MAX, Dataset, DatasetError
from catalog.models import Category, Item, Review

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

DEFAULT_PRICE = "9.99"


@dataclass
class ImportReport:
    # table -> [created, updated, unchanged]
    counts: dict[str, list[int]] = field(default_factory=dict)

    def add(self, table: str, created: int, updated: int, total: int) -> None:
        self.counts[table] = [created, updated, max(total - created - updated, 0)]

    @property
    def changed(self) -> bool:
        return any(created or updated for created, updated, _ in self.counts.values())

    def __str__(self) -> str:
        lines = [f"{t:<10} {c:>7} created {u:>7} updated {n:>7} unchanged" for t, (c, u, n) in self.counts.items()]
        lines.append("changed" if self.changed else "nothing changed")
        return "\n".join(lines)


def user_name(namespace: str, external_id: str) -> str:
    return f"{namespace}_{external_id}"


def item_key(namespace: str, external_id: str) -> str:
    return f"{namespace}:{external_id}"


class _Stager:
    """COPY rows into a temporary table that disappears at commit."""

    def __init__(self, cursor, progress: bool) -> None:
        self.cursor = cursor
        self.progress = progress

    def stage(self, name: str, columns: Sequence[str], rows: Iterable[Sequence[object]], total: int) -> None:
        """``columns`` are "name type" pairs."""
        # ON COMMIT DROP does not fire inside an outer transaction (a savepoint): drop first.
        self.cursor.execute(f"DROP TABLE IF EXISTS {name}")
        self.cursor.execute(f"CREATE TEMP TABLE {name} ({', '.join(columns)}) ON COMMIT DROP")
        names = ", ".join(col.split()[0] for col in columns)
        raw = self.cursor.cursor  # the psycopg cursor
        with raw.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
            for row in tqdm(rows, total=total, desc=f"copy {name.removeprefix('stage_')}", unit="row",
                            disable=not self.progress, leave=False):
                copy.write_row(row)
        self.cursor.execute(f"ANALYZE {name}")

    def merge(self, sql: str, params: Sequence[object] = ()) -> tuple[int, int, list[int]]:
        """Run an INSERT .. RETURNING id, (xmax = 0); return created, updated and changed ids."""
        self.cursor.execute(sql, params)
        rows = self.cursor.fetchall()
        created = sum(1 for _, inserted in rows if inserted)
        return created, len(rows) - created, [pk for pk, _ in rows]


def check_namespace(namespace: str) -> None:
    """DatasetError unless ``namespace`` (the prefix of imported ids) is letters, digits and dashes."""
    if not namespace.replace("-", "").isalnum():
        raise DatasetError(f"the namespace {namespace!r} may hold only letters, digits and dashes")


def import_dataset(
    dataset: Dataset, *, namespace: str, demographics_consent: bool = False, progress: bool = True
) -> ImportReport:
    check_namespace(namespace)
    _check_ids(dataset, namespace)
    report = ImportReport()
    with transaction.atomic(), connection.cursor() as cursor:
        stager = _Stager(cursor, progress)
        item_ids = _import_items(stager, dataset, namespace, report)
        _import_users(stager, dataset, namespace, demographics_consent, report)
        _import_kg(stager, dataset, namespace, report)
        review_ids = _import_ratings(stager, dataset, namespace, report)
        _analyze_grown(cursor, report)
        if item_ids:
            signals.send_on_commit(signals.items_changed, Item, ids=item_ids)
        if review_ids:
            signals.send_on_commit(signals.reviews_changed, Review, ids=review_ids)
    return report


def _check_ids(dataset: Dataset, namespace: str) -> None:
    """DatasetError for an item or user id too long to store with its namespace, before anything
    is written (PostgreSQL refused it mid-import)."""
    checks = (("item_id", [*dataset.items, *(r.item for r in dataset.ratings)], item_key, EXTERNAL_ID_MAX),
              ("user_id", [*dataset.users, *(r.user for r in dataset.ratings)], user_name,
               get_user_model()._meta.get_field("username").max_length))
    for column, ids, stored, limit in checks:
        longest = max(ids, key=len, default="")
        if len(stored(namespace, longest)) > limit:
            raise DatasetError(f"{column} {longest[:20]!r}... is too long: with the namespace {namespace!r} an id "
                               f"has at most {limit - len(namespace) - 1} characters")


# the report's names for the tables an import writes
_TABLES = {"items": "catalog_item", "users": "auth_user", "profiles": "catalog_profile",
           "entities": "catalog_entity", "relations": "catalog_itemrelation", "reviews": "catalog_review",
           "events": "catalog_event"}


def _analyze_grown(cursor: CursorWrapper, report: ImportReport) -> None:
    """ANALYZE each table the import changed by more than autovacuum's threshold (50 rows plus
    10% of its rows), in the import's transaction: the queries right after it (the first pages,
    the embedding and training that follow) are planned with its new size. Autovacuum gets there
    up to a minute later; until then a just-filled table can look empty to the planner, and a
    storefront query on it once ran for over 20 minutes (a nested loop over 100,000 reviews)."""
    for name, (created, updated, _) in report.counts.items():
        table = _TABLES[name]
        cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table])
        if created + updated > 50 + 0.1 * cursor.fetchone()[0]:
            cursor.execute(f"ANALYZE {table}")


def _import_items(stager: _Stager, dataset: Dataset, namespace: str, report: ImportReport) -> list[int]:
    name = dataset.name[: Category._meta.get_field("name").max_length]  # the file's name, which may be long
    category, _ = Category.objects.get_or_create(
        slug=slugify(name)[: Category._meta.get_field("slug").max_length] or "imported", defaults={"name": name}
    )
    existing = dict(Item.objects.values_list("external_id", "slug"))
    taken = set(existing.values())
    rows = []
    items = dataset.items or {r.item: None for r in dataset.ratings}
    for external_id, record in items.items():
        key = item_key(namespace, external_id)
        title = record.title if record else f"Item {external_id}"
        year = record.year if record else None
        slug = existing.get(key)
        if slug is None:
            base = slugify(f"{title} {year}" if year else title)[:240] or "item"
            slug, n = base, 2
            while slug in taken:
                slug, n = f"{base}-{n}", n + 1
            taken.add(slug)
        genres = "{" + ",".join('"' + g.replace("\\", "\\\\").replace('"', '\\"') + '"'
                                for g in (record.genres if record else ())) + "}"  # an array literal
        rows.append((key, slug, title, record.description if record else "", genres, year,
                     record.price if record else None, record.image_url if record else ""))
    stager.stage(
        "stage_items",
        ["external_id text", "slug text", "title text", "description text", "genres varchar(50)[]", "year int",
         "price numeric(8, 2)", "image_url text"],
        rows, len(rows),
    )
    created, updated, ids = stager.merge(
        """
        INSERT INTO catalog_item (external_id, slug, title, description, category_id, genres, tags,
                                  attributes, year, price, image_url, is_active, created_at, updated_at)
        SELECT s.external_id, s.slug, s.title, s.description, %s, s.genres, '{}', '{}', s.year,
               COALESCE(s.price, %s), s.image_url, true, now(), now()
        FROM stage_items s
        ON CONFLICT (external_id) DO UPDATE  -- what the file leaves empty, the item keeps
           SET title = EXCLUDED.title,
               genres = CASE WHEN EXCLUDED.genres <> '{}' THEN EXCLUDED.genres ELSE catalog_item.genres END,
               year = COALESCE(EXCLUDED.year, catalog_item.year),
               description = CASE WHEN EXCLUDED.description <> '' THEN EXCLUDED.description
                                  ELSE catalog_item.description END,
               updated_at = now()
         WHERE catalog_item.title <> EXCLUDED.title
            OR (EXCLUDED.genres <> '{}' AND EXCLUDED.genres <> catalog_item.genres)
            OR (EXCLUDED.year IS NOT NULL AND EXCLUDED.year IS DISTINCT FROM catalog_item.year)
            OR (EXCLUDED.description <> '' AND EXCLUDED.description <> catalog_item.description)
        RETURNING id, (xmax = 0)
        """,
        [category.pk, DEFAULT_PRICE],
    )
    # The same for the price and picture, apart: EXCLUDED above cannot tell a price the file left
    # empty from the default a new item gets. Skipped when no row gives either (MovieLens, most
    # ratings files): it joins every staged row to the catalogue.
    if not any(price is not None or image_url for *_, price, image_url in rows):
        report.add("items", created, updated, len(rows))
        return ids
    stager.cursor.execute(
        """
        UPDATE catalog_item i
           SET price = COALESCE(s.price, i.price), image_url = COALESCE(NULLIF(s.image_url, ''), i.image_url),
               updated_at = now()
          FROM stage_items s
         WHERE i.external_id = s.external_id
           AND ((s.price IS NOT NULL AND s.price <> i.price) OR (s.image_url <> '' AND s.image_url <> i.image_url))
        RETURNING i.id
        """
    )
    repriced = {pk for (pk,) in stager.cursor.fetchall()} - set(ids)
    report.add("items", created, updated + len(repriced), len(rows))
    return [*ids, *repriced]


def _import_users(
    stager: _Stager, dataset: Dataset, namespace: str, consent: bool, report: ImportReport
) -> None:
    externals = dict.fromkeys(r.user for r in dataset.ratings)
    externals.update(dict.fromkeys(dataset.users))
    rows = []
    for external_id in externals:
        record = dataset.users.get(external_id)
        gender = record.gender if record and record.gender in {"F", "M", "O"} else ""
        rows.append((
            user_name(namespace, external_id),
            record.age if record else None,
            gender,
            (record.occupation if record else "")[:50],
        ))
    stager.stage("stage_users", ["username text", "age int", "gender text", "occupation text"], rows, len(rows))
    # an account named like an imported user but for case (ML_5 for ml_5) would break the unique
    # index on lower(username) (catalog migration 0009) mid-import: say which, before
    stager.cursor.execute(
        "SELECT s.username, u.username FROM stage_users s JOIN auth_user u "
        "ON lower(u.username) = lower(s.username) AND u.username <> s.username ORDER BY 1 LIMIT 5")
    if clashes := stager.cursor.fetchall():
        raise DatasetError("accounts exist under these names in another case, so the imported users cannot "
                           "be created: " + ", ".join(f"{theirs!r} (for {ours!r})" for ours, theirs in clashes)
                           + "; rename those accounts or import with another namespace")
    created, _, _ = stager.merge(
        """
        INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
                               is_staff, is_active, date_joined)
        SELECT '!', false, s.username, '', '', '', false, true, now() FROM stage_users s
        ON CONFLICT (username) DO NOTHING
        RETURNING id, (xmax = 0)
        """
    )
    report.add("users", created, 0, len(rows))
    p_created, p_updated, _ = stager.merge(
        """
        INSERT INTO catalog_profile (user_id, interests, age, gender, occupation, demographics_consent,
                                     personalization_opt_out, onboarded)
        SELECT u.id, '', s.age, s.gender, s.occupation, %s, false, true
        FROM stage_users s JOIN auth_user u ON u.username = s.username
        ON CONFLICT (user_id) DO UPDATE
           SET age = EXCLUDED.age, gender = EXCLUDED.gender, occupation = EXCLUDED.occupation,
               demographics_consent = EXCLUDED.demographics_consent
         WHERE (catalog_profile.age, catalog_profile.gender, catalog_profile.occupation,
                catalog_profile.demographics_consent) IS DISTINCT FROM
               (EXCLUDED.age, EXCLUDED.gender, EXCLUDED.occupation, EXCLUDED.demographics_consent)
        RETURNING id, (xmax = 0)
        """,
        [consent],
    )
    report.add("profiles", p_created, p_updated, len(rows))


def _import_kg(stager: _Stager, dataset: Dataset, namespace: str, report: ImportReport) -> None:
    if not dataset.kg:
        return
    rows = [(item_key(namespace, item), relation, entity) for item, relation, entity in dataset.kg]
    stager.stage("stage_kg", ["item text", "relation text", "entity text"], rows, len(rows))
    created, _, _ = stager.merge(
        """
        INSERT INTO catalog_entity (external_id, name)
        SELECT DISTINCT s.entity, '' FROM stage_kg s
        ON CONFLICT (external_id) DO NOTHING
        RETURNING id, (xmax = 0)
        """
    )
    stager.cursor.execute("SELECT count(DISTINCT entity) FROM stage_kg")
    report.add("entities", created, 0, stager.cursor.fetchone()[0])
    created, _, _ = stager.merge(
        """
        INSERT INTO catalog_itemrelation (item_id, relation, entity_id)
        SELECT DISTINCT i.id, s.relation, e.id
        FROM stage_kg s JOIN catalog_item i ON i.external_id = s.item
                        JOIN catalog_entity e ON e.external_id = s.entity
        ON CONFLICT (item_id, relation, entity_id) DO NOTHING
        RETURNING id, (xmax = 0)
        """
    )
    stager.cursor.execute("SELECT count(*) FROM (SELECT DISTINCT item, relation, entity FROM stage_kg) t")
    report.add("relations", created, 0, stager.cursor.fetchone()[0])


def _import_ratings(stager: _Stager, dataset: Dataset, namespace: str, report: ImportReport) -> list[int]:
    latest = {}
    for rating in dataset.ratings:  # a (user, item) pair rated twice keeps its latest rating
        key = (rating.user, rating.item)
        if key not in latest or rating.timestamp >= latest[key].timestamp:
            latest[key] = rating
    rows = [
        (
            user_name(namespace, r.user), item_key(namespace, r.item), r.rating,
            datetime.fromtimestamp(r.timestamp, UTC),
            f"import:{namespace}:{r.user}:{r.item}:{r.timestamp}",
        )
        for r in latest.values()
    ]
    stager.stage(
        "stage_ratings", ["username text", "item text", "rating numeric(2,1)", "created timestamptz", "key text"],
        rows, len(rows),
    )
    created, updated, ids = stager.merge(
        """
        INSERT INTO catalog_review (user_id, item_id, rating, text, is_hidden, created_at, updated_at)
        SELECT u.id, i.id, s.rating, '', false, s.created, now()
        FROM stage_ratings s JOIN auth_user u ON u.username = s.username
                             JOIN catalog_item i ON i.external_id = s.item
        ON CONFLICT (user_id, item_id) DO UPDATE
           SET rating = EXCLUDED.rating, created_at = EXCLUDED.created_at, updated_at = now()
         WHERE catalog_review.rating <> EXCLUDED.rating
        RETURNING id, (xmax = 0)
        """
    )
    report.add("reviews", created, updated, len(rows))
    e_created, _, _ = stager.merge(
        """
        INSERT INTO catalog_event (user_id, session_key, item_id, kind, value, context, idempotency_key,
                                   created_at)
        SELECT u.id, '', i.id, 'rate', s.rating, '{"source": "import"}', s.key, s.created
        FROM stage_ratings s JOIN auth_user u ON u.username = s.username
                             JOIN catalog_item i ON i.external_id = s.item
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, (xmax = 0)
        """
    )
    report.add("events", e_created, 0, len(rows))
    return ids
