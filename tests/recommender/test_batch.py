"""``manage.py recommend``: shoppers' feeds written to a file for a mailing, on real
MovieLens-100K with the trained model; a mailed link's click is attributed to its campaign."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from catalog import services
from catalog.models import Event, EventKind, Item
from recommender import batch, serving
from recommender.selectors import item_exposure

BASE = "https://shop.example.com"


@pytest.fixture
def shoppers(trained_model):
    return [User.objects.get(username=name) for name in ("ml_1", "ml_2", "ml_3")]


def recommend(path, *args: str) -> str:
    out = io.StringIO()
    call_command("recommend", "--output", str(path), "--no-progress", *args, stdout=out)
    return out.getvalue()


def test_each_shoppers_rows_are_their_feed_with_tracked_links_and_nothing_is_recorded(shoppers, tmp_path,
                                                                                      trained_model):
    events = Event.objects.count()
    path = tmp_path / "mailing.csv"
    report = recommend(path, "--users", ",".join(str(u.pk) for u in shoppers), "--k", "5",
                       "--campaign", "december-picks", "--base-url", BASE + "/")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert list(rows[0]) == batch.CSV_COLUMNS
    assert report.startswith("15 recommendations for 3 shoppers (0 with personalization off")
    for user in shoppers:
        mine = [row for row in rows if row["user_id"] == str(user.pk)]
        feed = serving.feed_for_user(user, k=5)
        assert [int(row["item_id"]) for row in mine] == [rec.item.pk for rec in feed]
        assert [row["reason"] for row in mine] == [rec.sentence for rec in feed]
        assert [row["position"] for row in mine] == ["1", "2", "3", "4", "5"]
        for row, rec in zip(mine, feed, strict=True):
            assert (row["username"], row["personalized"], row["algorithm"]) == (user.username, "true", "hybrid")
            assert row["url"] == (f"{BASE}{rec.item.get_absolute_url()}?src=batch&pos={row['position']}"
                                  "&rid=december-picks&algo=hybrid")
            assert float(row["score"]) == pytest.approx(rec.score, abs=1e-6)
            assert row["model_version"] == str(trained_model.pk)
    assert Event.objects.count() == events  # no impression: nobody has been sent anything yet


def test_a_mailed_link_records_a_click_credited_to_its_campaign(shoppers, tmp_path, staff_client):
    path = tmp_path / "mailing.csv"
    recommend(path, "--users", str(shoppers[0].pk), "--k", "3", "--campaign", "december-picks")
    row = next(csv.DictReader(path.open(encoding="utf-8")))
    client = Client()
    client.force_login(shoppers[0])
    link = urlsplit(row["url"])
    assert client.get(f"{link.path}?{link.query}").status_code == 200
    item = Item.objects.get(pk=row["item_id"])
    click = Event.objects.filter(user=shoppers[0], item=item, kind=EventKind.CLICK).latest("created_at")
    assert click.context == {"src": "batch", "pos": 1, "rid": "december-picks", "algo": "hybrid"}
    [shown] = [r for r in item_exposure(item).rows if r.row == "batch"]
    assert (shown.impressions, shown.clicks, shown.ctr) == (0, 1, None)
    page = staff_client.get(reverse("admin:catalog_item_change", args=[item.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "<td>Mailed lists (manage.py recommend)</td>" in html
    assert len(item_exposure(item).rows) == 1  # no storefront row showed it in this test
    assert "but clicked 1 time from links without an impression, such as mailed lists." in html


def test_json_lines_hold_the_apis_results_for_each_shopper(shoppers, tmp_path, staff_client):
    path = tmp_path / "mailing.jsonl"
    recommend(path, "--users", f"{shoppers[1].pk},{shoppers[0].pk}", "--k", "4", "--base-url", BASE)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["user"] for line in lines] == sorted([shoppers[0].pk, shoppers[1].pk])  # by id
    for line in lines:
        api = staff_client.get("/api/recommendations/", {"user": line["user"], "k": 4}).json()["results"]
        assert [r["item"] for r in line["results"]] == [r["item"] for r in api]
        assert [r["explanation"] for r in line["results"]] == [r["explanation"] for r in api]
        for position, result in enumerate(line["results"], 1):
            assert result["tracking"] == {"src": "batch", "pos": position, "rid": line["campaign"], "algo": "hybrid"}
            assert result["url"].startswith(f"{BASE}/items/{result['item']['slug']}/?src=batch&pos={position}&")
        assert line["campaign"].startswith("batch-") and line["personalized"] is True


def test_a_shopper_who_turned_personalization_off_gets_the_popular_films(shoppers, tmp_path):
    services.profile_update(user=shoppers[2], personalization_opt_out=True)
    path = tmp_path / "mailing.csv"
    report = recommend(path, "--users", str(shoppers[2].pk), "--k", "3")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert "(1 with personalization off: the popular films)" in report
    assert {(row["personalized"], row["algorithm"]) for row in rows} == {("false", "popularity")}
    assert [int(row["item_id"]) for row in rows] == [rec.item.pk for rec in serving.feed_for_user(shoppers[2], k=3)]


def test_everyone_means_the_active_shoppers(trained_model):
    staff = User.objects.create_user("merchandiser", is_staff=True)
    gone = User.objects.get(username="ml_4")
    gone.is_active = False
    gone.save()
    ids = list(batch.recipients().values_list("pk", flat=True))
    assert staff.pk not in ids and gone.pk not in ids
    assert ids == sorted(User.objects.filter(is_active=True, is_staff=False).values_list("pk", flat=True))
    assert list(batch.recipients([staff.pk])) == [staff]  # named, any active account
    with pytest.raises(ValueError, match=f"no active account with id {gone.pk}"):
        batch.recipients([staff.pk, gone.pk])
    parts = [list(batch.recipients(shard=(i, 3)).values_list("pk", flat=True)) for i in (1, 2, 3)]
    assert sorted(pk for part in parts for pk in part) == ids  # disjoint, and together everyone
    assert all(len(part) >= len(ids) // 3 - 1 for part in parts)  # about even


@pytest.mark.parametrize(("args", "message"), [
    (["--users", "12,x"], "users: comma-separated account ids"),
    (["--users", "999999999"], "no active account with id 999999999"),
    (["--k", "0"], "k: from 1 to 100"),
    (["--k", "101"], "k: from 1 to 100"),
    (["--campaign", "winter sale"], "campaign: 1-64 letters"),
    (["--campaign", "x" * 65], "campaign: 1-64 letters"),
    (["--base-url", "ftp://shop.example.com"], "base-url: an http(s) address"),
    (["--shard", "3/2"], "shard: I/N with 1 <= I <= N"),
    (["--shard", "0/2"], "shard: I/N with 1 <= I <= N"),
    (["--shard", "half"], "shard: I/N with 1 <= I <= N"),
])
def test_bad_options_are_named_and_the_old_file_is_left_alone(shoppers, tmp_path, args, message):
    path = tmp_path / "mailing.csv"
    path.write_text("last week's mailing\n")
    with pytest.raises(CommandError, match=re.escape(message)):
        recommend(path, *(["--users", str(shoppers[0].pk)] if "--users" not in args else []), *args)
    assert path.read_text() == "last week's mailing\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mailing.csv"]


def test_a_failure_midway_leaves_the_old_file_whole(shoppers, tmp_path, monkeypatch):
    path = tmp_path / "mailing.csv"
    path.write_text("last week's mailing\n")
    computed = []
    real = serving.feed_fresh

    def fail_on_the_second(user, k, context):
        computed.append(user.pk)
        if len(computed) == 2:
            raise RuntimeError("the database went away")
        return real(user, k, context)

    monkeypatch.setattr(serving, "feed_fresh", fail_on_the_second)
    with pytest.raises(RuntimeError):
        recommend(path, "--users", ",".join(str(u.pk) for u in shoppers))
    assert len(computed) == 2 and path.read_text() == "last week's mailing\n"
    assert [p.name for p in tmp_path.iterdir()] == ["mailing.csv"]  # no partial file left behind


def test_an_output_in_a_missing_directory_is_an_error(shoppers, tmp_path):
    with pytest.raises(CommandError, match="output: no directory"):
        recommend(tmp_path / "nowhere" / "mailing.csv", "--users", str(shoppers[0].pk))


def test_staff_download_the_selected_shoppers_recommendations_from_the_account_list(shoppers, client):
    clerk = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    accounts = ContentType.objects.get_for_model(User)
    clerk.user_permissions.add(Permission.objects.get_or_create(codename="view_user", content_type=accounts)[0])
    client.force_login(clerk)
    gone = User.objects.get(username="ml_4")
    gone.is_active = False
    gone.save()
    changelist = reverse("admin:auth_user_changelist")
    response = client.post(changelist, {"action": "download_recommendations",
                                        "_selected_action": [shoppers[1].pk, shoppers[0].pk, gone.pk]})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="recommendations-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert sorted({int(row["user_id"]) for row in rows}) == sorted([shoppers[0].pk, shoppers[1].pk])  # not inactive
    assert [int(row["item_id"]) for row in rows if row["user_id"] == str(shoppers[0].pk)] == [
        rec.item.pk for rec in serving.feed_for_user(shoppers[0], k=10)]
    assert all(row["url"].startswith("http://testserver/items/") and "src=batch" in row["url"] for row in rows)

    # everyone selected: more than a request should compute, and a worker's export needs its permission
    response = client.post(changelist, {"action": "download_recommendations", "select_across": "1",
                                        "_selected_action": [shoppers[0].pk]}, follow=True)
    active = User.objects.filter(is_active=True).count()
    assert (f"{active:,} active accounts selected: the admin downloads at most 200 at a time, and more need the "
            "permission to add recommendation exports.") in response.content.decode()


def test_the_download_needs_the_accounts_view_permission(shoppers, client):
    User.objects.create_user("packer", password="packer-password-2026", is_staff=True)
    client.login(username="packer", password="packer-password-2026")
    response = client.post(reverse("admin:auth_user_changelist"),
                           {"action": "download_recommendations", "_selected_action": [shoppers[0].pk]})
    assert response.status_code == 403


def test_exports_are_deleted_with_their_files_a_week_old(db, settings, tmp_path, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from recommender.models import RecommendationExport
    from recommender.tasks import prune_events

    settings.RECSYS_EXPORT_DIR = tmp_path
    old, new = (RecommendationExport.objects.create(user_ids=[1], campaign="x", file_name=f"{name}.csv")
                for name in ("old", "new"))
    for job in (old, new):
        batch.export_path(job).write_text("user_id\n")
    RecommendationExport.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert prune_events()["exports"] == 1  # the daily sweep
    assert list(RecommendationExport.objects.all()) == [new]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.csv"]


def test_a_mailings_results_count_its_clicks_and_the_purchases_that_followed(ml100k, staff_client):
    from datetime import timedelta

    from django.utils import timezone

    from recommender.selectors import mailing_results

    now = timezone.now()
    ann, bob = User.objects.get(username="ml_1"), User.objects.get(username="ml_2")
    films = list(Item.objects.order_by("pk")[:3])

    def event(kind, item, at, user=None, session="", **context):
        Event.objects.create(user=user, session_key=session, item=item, kind=kind, created_at=now - at, context=context)

    link = {"src": "batch", "pos": 1, "algo": "hybrid"}
    event(EventKind.CLICK, films[0], timedelta(days=3), ann, rid="spring", **link)
    event(EventKind.PURCHASE, films[0], timedelta(days=2), ann)  # bought a day later: counts
    event(EventKind.CLICK, films[1], timedelta(days=20), ann, rid="spring", **link)
    event(EventKind.PURCHASE, films[1], timedelta(days=5), ann)  # 15 days later: too late
    event(EventKind.CLICK, films[2], timedelta(days=4), bob, rid="spring", **link)
    event(EventKind.PURCHASE, films[1], timedelta(days=3), bob)  # another film: not this click's
    event(EventKind.CLICK, films[2], timedelta(days=1), None, "s" * 32, rid="spring", **link)  # not signed in
    event(EventKind.PURCHASE, films[2], timedelta(hours=20), None, "s" * 32)  # the same session bought it
    event(EventKind.CLICK, films[0], timedelta(days=1), bob, rid="autumn", **link)
    event(EventKind.PURCHASE, films[0], timedelta(days=2), bob)  # bought before the click: no
    event(EventKind.CLICK, films[0], timedelta(days=100), bob, rid="old", **link)  # outside the 90 days
    event(EventKind.CLICK, films[0], timedelta(days=1), bob, src="for_you", rid="x")  # a storefront card

    results = {r.campaign: r for r in mailing_results()}
    assert set(results) == {"spring", "autumn"}
    spring = results["spring"]
    assert (spring.clicks, spring.shoppers, spring.films, spring.bought) == (4, 2, 3, 2)
    assert (spring.first, spring.last) == (now - timedelta(days=20), now - timedelta(days=1))
    assert (results["autumn"].clicks, results["autumn"].bought) == (1, 0)
    assert [r.campaign for r in mailing_results()] == ["autumn", "spring"]  # the latest click first (then by name)

    page = staff_client.get(reverse("admin:recommender_recommendationexport_results"))
    html = page.content.decode()
    assert page.status_code == 200 and '<th scope="row">spring</th>' in html and "2 (50&thinsp;%)" in html
    exports = staff_client.get(reverse("admin:recommender_recommendationexport_changelist")).content.decode()
    assert "Mailing results" in exports


def test_mailing_results_need_the_exports_view_permission(db, client):
    User.objects.create_user("packer", password="packer-password-2026", is_staff=True)
    client.login(username="packer", password="packer-password-2026")
    assert client.get(reverse("admin:recommender_recommendationexport_results")).status_code == 403


def test_a_second_delivery_of_an_exports_task_leaves_it_alone(db, settings, tmp_path):
    from recommender.models import RecommendationExport

    settings.RECSYS_EXPORT_DIR = tmp_path
    job = RecommendationExport.objects.create(user_ids=[1], total=1, campaign="export-1",
                                              status=RecommendationExport.Status.RUNNING)
    assert batch.export_run(job).status == RecommendationExport.Status.RUNNING
    assert list(tmp_path.iterdir()) == []  # nothing computed, nothing written


def test_an_export_deleted_while_it_is_written_leaves_no_file(shoppers, settings, tmp_path, monkeypatch):
    """Staff deleted it, or an account it names was erased, while the worker wrote it."""
    from recommender.models import RecommendationExport

    settings.RECSYS_EXPORT_DIR = tmp_path
    job = batch.export_queue([u.pk for u in shoppers], by=None, base_url="")
    real = serving.feed_fresh

    def erase_midway(user, k, context):
        if user == shoppers[1]:
            User.objects.filter(pk=user.pk).delete()  # the erasure deletes the exports naming them
        return real(user, k, context)

    monkeypatch.setattr(serving, "feed_fresh", erase_midway)
    batch.export_run(job)
    assert not RecommendationExport.objects.exists()  # not saved back into being
    assert list(tmp_path.iterdir()) == []


def test_an_export_with_the_broker_down_says_so_and_is_left_failed(db, staff_client, broker_down, monkeypatch):
    """Failed, not deleted: the exports list starts it again once the queue is back."""
    from recommender import admin as recommender_admin
    from recommender.models import RecommendationExport

    shoppers = [User.objects.create_user(f"shopper{n}") for n in range(3)]
    monkeypatch.setattr(recommender_admin, "DOWNLOAD_MAX", 2)
    response = staff_client.post(reverse("admin:auth_user_changelist"), {
        "action": "download_recommendations", "_selected_action": [s.pk for s in shoppers]}, follow=True)
    [job] = RecommendationExport.objects.all()
    assert f"Export #{job.pk}</a> not started: the task queue is unreachable." in response.content.decode()
    assert (job.status, job.error, job.total) == (job.Status.FAILED, "Not started: the task queue was unreachable.", 3)


def _exports_in_each_state() -> dict[str, object]:
    """An export in each state a worker leaves it in, by name."""
    from datetime import timedelta

    from django.utils import timezone

    from recommender.models import STALLED_AFTER, RecommendationExport

    Status, now = RecommendationExport.Status, timezone.now()
    states = {
        "failed": {"status": Status.FAILED, "error": "disk full", "done": 5, "finished_at": now},
        "stalled": {"status": Status.RUNNING, "done": 5, "progress_at": now - STALLED_AFTER - timedelta(seconds=5)},
        "running": {"status": Status.RUNNING, "done": 5, "progress_at": now - STALLED_AFTER + timedelta(minutes=1)},
        "pending": {"status": Status.PENDING},
        "done": {"status": Status.DONE, "done": 5, "finished_at": now},
    }
    return {name: RecommendationExport.objects.create(user_ids=[1], total=5, campaign=f"export-{name}", **fields)
            for name, fields in states.items()}


def test_only_a_failed_or_stalled_export_starts_again_from_the_beginning(db):
    """A worker stopped midway leaves its export running (its task was acknowledged on receipt):
    ten minutes without progress, it reads "stalled" and may start again; a live one may not."""
    exports = _exports_in_each_state()
    from recommender.models import RecommendationExport

    assert [job.campaign for job in RecommendationExport.objects.with_stalled() if job.is_stalled] == [
        "export-stalled"]
    assert {name: batch.export_restart(job) for name, job in exports.items()} == {
        "failed": True, "stalled": True, "running": False, "pending": False, "done": False}
    for name, job in exports.items():
        job.refresh_from_db()
        if name in ("failed", "stalled"):
            assert (job.status, job.done, job.error, job.progress_at, job.finished_at) == (
                job.Status.PENDING, 0, "", None, None)
        else:
            assert job.status == {"running": job.Status.RUNNING, "pending": job.Status.PENDING,
                                  "done": job.Status.DONE}[name]
    assert not batch.export_restart(exports["failed"])  # already pending: a second click queues nothing


def test_the_exports_list_names_a_stalled_export_and_a_dead_broker_leaves_it_failed(db, staff_client, broker_down):
    exports = _exports_in_each_state()
    changelist = reverse("admin:recommender_recommendationexport_changelist")
    page = staff_client.get(changelist).content.decode()
    assert page.count("stalled: no progress since") == 1
    response = staff_client.post(changelist, {"action": "start_again", "_selected_action": [exports["stalled"].pk]},
                                 follow=True)
    assert f"Export #{exports['stalled'].pk} not started again: the task queue is unreachable." in (
        response.content.decode())
    exports["stalled"].refresh_from_db()
    assert (exports["stalled"].status, exports["stalled"].error) == (
        exports["stalled"].Status.FAILED, "Not started: the task queue was unreachable.")


def test_starting_exports_again_needs_the_permission_to_add_them(db, client):
    from recommender.models import RecommendationExport

    def may(action: str) -> Permission:
        ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
        kind = ContentType.objects.get_for_model(RecommendationExport)
        return Permission.objects.get_or_create(codename=f"{action}_recommendationexport", content_type=kind)[0]

    _exports_in_each_state()  # a list with rows offers its actions
    clerk = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    clerk.user_permissions.add(may("view"), may("delete"))
    client.login(username="clerk", password="clerk-password-2026")
    page = client.get(reverse("admin:recommender_recommendationexport_changelist")).content.decode()
    assert 'value="delete_selected"' in page and 'value="start_again"' not in page
    clerk.user_permissions.add(may("add"))
    page = client.get(reverse("admin:recommender_recommendationexport_changelist")).content.decode()
    assert 'value="start_again"' in page


def test_the_exports_list_reads_its_rows_in_a_fixed_number_of_queries(db, client):
    """Each row names who started it: that was a query per row (the list's own select_related
    left out created_by)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommender.models import RecommendationExport

    client.force_login(User.objects.create_superuser("lister", "lister@example.com", "lister-pass-2026"))
    url = reverse("admin:recommender_recommendationexport_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    RecommendationExport.objects.create(user_ids=[1], total=1, campaign="c-0",
                                        created_by=User.objects.create_user("starter-0"))
    one = queries()
    for n in range(1, 6):
        RecommendationExport.objects.create(user_ids=[1], total=1, campaign=f"c-{n}",
                                            created_by=User.objects.create_user(f"starter-{n}"))
    assert queries() == one
