import os
import uuid

import pytest

from recommender.tasks import health


@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_task_through_the_real_broker(celery_worker):
    token = uuid.uuid4().hex
    result = health.delay(token).get(timeout=60)
    assert result["token"] == token
    assert result["pid"] != os.getpid()  # it ran in the worker process, not here
    assert result["pgvector"]  # the worker reached the database with the vector extension


@pytest.mark.django_db(transaction=True)
def test_a_worker_writes_the_recommendations_of_more_accounts_than_a_download_computes(celery_worker, client,
                                                                                       monkeypatch):
    """The account list's action, past the admin's download limit: a real worker writes the file,
    staff download it, and erasing a shopper it names deletes it (and its file)."""
    import csv
    import io
    import time
    from datetime import timedelta

    from django.contrib.auth.models import Permission, User
    from django.urls import reverse
    from django.utils import timezone

    from catalog import services
    from recommender import admin as recommender_admin
    from recommender import batch
    from recommender.models import STALLED_AFTER, RecommendationExport
    from recommender.privacy import user_erase

    films = [services.item_create(title=f"Film {n}", year=1990 + n, genres=["Drama"]) for n in range(8)]
    raters = [User.objects.create_user(f"rater{n}") for n in range(3)]
    for n, film in enumerate(films):  # popularity differs, so the lists have an order
        for rater in raters[: n % 3 + 1]:
            services.review_save(user=rater, item=film, rating=4)
    shoppers = [User.objects.create_user(f"shopper{n}") for n in range(3)]
    User.objects.create_superuser("boss", "boss@example.com", "boss-password-2026")
    client.login(username="boss", password="boss-password-2026")
    monkeypatch.setattr(recommender_admin, "DOWNLOAD_MAX", 2)
    response = client.post(reverse("admin:auth_user_changelist"), {
        "action": "download_recommendations", "_selected_action": [s.pk for s in shoppers]}, follow=True)
    job = RecommendationExport.objects.get()
    assert "3 active accounts: a worker is writing their recommendations." in response.content.decode()
    assert job.user_ids == [s.pk for s in shoppers] and job.total == 3 and job.base_url == "http://testserver/"

    def finished(job: RecommendationExport) -> RecommendationExport:
        # the worker (one process) embeds the films created above first: on a loaded machine,
        # loading the encoder alone took more than 90 s
        deadline = time.monotonic() + 240
        while job.status in (job.Status.PENDING, job.Status.RUNNING) and time.monotonic() < deadline:
            time.sleep(0.2)
            job.refresh_from_db()
        return job

    assert (finished(job).status, job.done, job.error) == (job.Status.DONE, 3, "")
    page = client.get(reverse("admin:recommender_recommendationexport_changelist")).content.decode()
    assert job.file_name in page and "Download CSV" in page
    download = client.get(reverse("admin:recommender_recommendationexport_download", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "text/csv; charset=utf-8"
    written = b"".join(download.streaming_content).decode()
    expected = io.StringIO()  # the same accounts written here, in this process
    batch.export(batch.recipients([s.pk for s in shoppers]), expected, campaign=job.campaign,
                 base_url="http://testserver/")
    assert written == expected.getvalue()
    rows = list(csv.DictReader(io.StringIO(written)))
    assert len(rows) == job.recommendations == 3 * len(films)  # no model yet: the popular films, all of them

    # a worker stopped midway left an export running: staff start it again, a worker writes it
    stopped = batch.export_queue([s.pk for s in shoppers], by=None, base_url="http://testserver/")
    RecommendationExport.objects.filter(pk=stopped.pk).update(
        status=RecommendationExport.Status.RUNNING, done=1,
        progress_at=timezone.now() - STALLED_AFTER - timedelta(seconds=1))
    changelist = reverse("admin:recommender_recommendationexport_changelist")
    response = client.post(changelist, {"action": "start_again", "_selected_action": [stopped.pk]}, follow=True)
    assert f"Started again: #{stopped.pk}." in response.content.decode()
    stopped.refresh_from_db()
    assert (finished(stopped).status, stopped.done, stopped.recommendations) == (stopped.Status.DONE, 3,
                                                                                 job.recommendations)

    # the download names shoppers: the accounts' view permission too
    clerk = User.objects.create_user("clerk", password="clerk-password-2026", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_recommendationexport"))
    client.login(username="clerk", password="clerk-password-2026")
    assert client.get(reverse("admin:recommender_recommendationexport_download", args=[job.pk])).status_code == 403

    paths = [batch.export_path(job), batch.export_path(stopped)]
    assert all(path.exists() for path in paths)
    user_erase(user=shoppers[1])
    assert not RecommendationExport.objects.exists() and not any(path.exists() for path in paths)
