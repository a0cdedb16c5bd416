"""``POST /api/items/{id}/audience/`` and ``/api/exports/``: a worker writes a film's audience to
a file for a model of any size; API clients follow the export and download the file."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Item
from recommender import batch
from recommender.audience import audience
from recommender.models import STALLED_AFTER, RecommendationExport

EXPORTING = ("auth.view_user", "recommender.add_recommendationexport", "recommender.view_recommendationexport")


def api_client(username: str, *perms: str, staff: bool = True) -> APIClient:
    user = User.objects.create_user(username, is_staff=staff)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def contact() -> Item:
    return Item.objects.get(title="Contact", year=1997)


@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_a_films_audience_that_the_client_follows_and_downloads(transactional_db, trained_model,
                                                                               celery_worker):
    film, api = contact(), api_client("mailer", *EXPORTING)
    response = api.post(f"/api/items/{film.pk}/audience/", {"limit": 30}, format="json")
    assert response.status_code == 202, response.content
    job = response.json()
    assert response["Location"] == f"http://testserver/api/exports/{job['id']}/"
    assert (job["item"], job["total"], job["status"], job["file"]) == (film.pk, 30, "pending", None)
    deadline = time.monotonic() + 240  # the worker loads the model and the encoder first
    while job["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = api.get(response["Location"]).json()
    assert (job["status"], job["done"], job["error"], job["stalled"]) == ("done", 30, "", False)
    download = api.get(job["file"])
    assert download.status_code == 200 and download["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    expected = audience(film, limit=30, campaign=job["campaign"])
    assert [(int(r["user_id"]), int(r["rank"]), r["reason"]) for r in rows] == [
        (f.user.pk, f.rank, f.card.sentence) for f in expected]
    assert rows[0]["url"].startswith("http://testserver/items/") and f"rid={job['campaign']}" in rows[0]["url"]
    assert api.get("/api/exports/").json()["results"][0]["id"] == job["id"]  # newest first
    restarted = api.post(f"/api/exports/{job['id']}/restart/")
    assert restarted.status_code == 409
    assert restarted.json()["error"]["message"] == (
        f"Export {job['id']} is done: only a failed or stalled export starts again.")


def test_bad_input_and_a_queue_that_is_down_are_said_and_the_export_starts_again(trained_model, broker_down,
                                                                                   settings, tmp_path):
    settings.RECSYS_EXPORT_DIR = tmp_path
    film, api = contact(), api_client("mailer", *EXPORTING)
    url = f"/api/items/{film.pk}/audience/"
    for body, field in (({"limit": 0}, "limit"), ({"limit": 1_000_001}, "limit"), ({"limit": "all"}, "limit"),
                        ({"shoppers": 5}, "shoppers")):
        response = api.post(url, body, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], body
    assert not RecommendationExport.objects.exists()
    response = api.post(url, {"limit": 12}, format="json")
    [job] = RecommendationExport.objects.all()
    assert response.status_code == 503 and response.json()["error"] == {
        "status": 503, "code": "unavailable", "fields": {},
        "message": f"Export {job.pk} not started: the task queue is unreachable. Start it again with "
                   f"POST /api/exports/{job.pk}/restart/ once the queue is back."}
    body = api.get(f"/api/exports/{job.pk}/").json()
    assert (body["status"], body["error"]) == ("failed", "Not started: the task queue was unreachable.")
    missing = api.get(f"/api/exports/{job.pk}/file/")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Export {job.pk} has no file: it failed."
    assert api.post(f"/api/exports/{job.pk}/restart/").status_code == 503  # still down: failed again
    # a running export without progress for STALLED_AFTER (its worker stopped) shows stalled and starts again
    RecommendationExport.objects.filter(pk=job.pk).update(
        status=job.Status.RUNNING, error="", progress_at=timezone.now() - STALLED_AFTER - timedelta(seconds=1))
    assert api.get(f"/api/exports/{job.pk}/").json()["stalled"] is True
    assert api.post(f"/api/exports/{job.pk}/restart/").status_code == 503  # restarted, then the queue refused it
    body = api.get(f"/api/exports/{job.pk}/").json()
    assert (body["status"], body["stalled"], body["done"]) == ("failed", False, 0)
    assert batch.export_restart(job)  # what restart/ does once the broker is back, before it queues the task
    batch.export_run(RecommendationExport.objects.get(pk=job.pk))
    download = api.get(f"/api/exports/{job.pk}/file/")
    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert [int(r["user_id"]) for r in rows] == [f.user.pk for f in audience(film, limit=12)]
    for gone in ("/api/exports/999999/", "/api/exports/abc/", "/api/items/999999/audience/"):
        assert (api.post(gone, {"limit": 1}, format="json") if "items" in gone else api.get(gone)).status_code == 404


def test_the_exports_name_shoppers_so_each_step_needs_its_permission(trained_model, broker_down):
    film = contact()
    job = batch.audience_queue(film, 5, by=None, base_url="")
    url, follow = f"/api/items/{film.pk}/audience/", f"/api/exports/{job.pk}/"
    assert APIClient().post(url, {"limit": 5}, format="json").status_code == 401
    assert APIClient().get(follow).status_code == 401
    shopper = api_client("shopper", *EXPORTING, staff=False)  # permissions alone are not enough
    assert shopper.post(url, {"limit": 5}, format="json").status_code == 403
    assert shopper.get(follow).status_code == 403
    # may view accounts and exports, but not start one
    viewer = api_client("viewer", "auth.view_user", "recommender.view_recommendationexport")
    assert viewer.post(url, {"limit": 5}, format="json").status_code == 403
    assert viewer.post(f"{follow}restart/").status_code == 403
    assert viewer.get(follow).status_code == 200
    pending = viewer.get(f"{follow}file/")
    assert pending.status_code == 404
    assert pending.json()["error"]["message"] == f"Export {job.pk} has no file: it is not written yet."
    # may follow exports, but a file names shoppers: not without the accounts' view permission
    clerk = api_client("clerk", "recommender.view_recommendationexport")
    assert clerk.get(follow).status_code == 200 and clerk.get(f"{follow}file/").status_code == 403
    assert api_client("nobody").get(follow).status_code == 403
    assert RecommendationExport.objects.count() == 1
