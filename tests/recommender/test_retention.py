"""Event retention: anonymous visitors' events and impressions are deleted after
RECSYS_EVENT_RETENTION_DAYS; a running experiment's events are kept, a stopped one's results
are frozen first."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse
from django.utils import timezone

from catalog.models import Event, Item
from recommender import experiments
from recommender.models import Experiment
from recommender.privacy import events_prune
from recommender.tasks import prune_events

pytestmark = pytest.mark.django_db

VARIANTS = [{"name": "a", "weight": 50, "params": {}}, {"name": "b", "weight": 50, "params": {"diversity": 0.5}}]


@pytest.fixture
def item() -> Item:
    return Item.objects.create(title="Kept Film", slug="kept-film", external_id="t:kept")


def _event(item: Item, days_ago: float, kind: str = "view", user: User | None = None, session: str = "",
           **context) -> Event:
    return Event.objects.create(user=user, session_key=session, item=item, kind=kind, context=context,
                                created_at=timezone.now() - timedelta(days=days_ago))


def _exists(*events: Event) -> list[bool]:
    found = set(Event.objects.filter(pk__in=[e.pk for e in events]).values_list("pk", flat=True))
    return [e.pk in found for e in events]


def test_old_anonymous_events_and_impressions_go_a_shoppers_own_actions_stay(item, settings):
    shopper = User.objects.create_user("keeps-history")
    old_anonymous = _event(item, 200, session="gone-session")
    old_anonymous_purchase = _event(item, 91, "purchase", session="gone-session")
    old_impression = _event(item, 200, "impression", user=shopper)
    recent_anonymous = _event(item, 89, session="recent-session")
    recent_impression = _event(item, 10, "impression", user=shopper)
    old_own_click = _event(item, 400, "click", user=shopper)
    old_own_purchase = _event(item, 400, "purchase", user=shopper)
    old = [old_anonymous, old_anonymous_purchase, old_impression]
    kept = [recent_anonymous, recent_impression, old_own_click, old_own_purchase]

    counted = events_prune(days=90, dry_run=True)
    assert counted["would_delete"] >= 3 and _exists(*old, *kept) == [True] * 7
    settings.RECSYS_EVENT_RETENTION_DAYS = 90
    result = events_prune(batch=1)  # one row per batch: the loop, not one statement, deletes them
    assert result["deleted"] == counted["would_delete"]
    assert _exists(*old) == [False] * 3 and _exists(*kept) == [True] * 4
    assert events_prune(days=90)["deleted"] == 0  # nothing older is left
    assert events_prune(days=0) == {"deleted": 0, "cutoff": None}  # retention off


def test_retention_shorter_than_the_trending_window_is_refused(item):
    recent = _event(item, 40, session="s-recent")
    with pytest.raises(ValueError, match="at least 30 days"):
        events_prune(days=29)
    with pytest.raises(CommandError, match="at least 30 days"):
        call_command("prune_events", "--days", "7", "--no-progress")
    assert _exists(recent) == [True]


@pytest.mark.parametrize("days", [1, 29, -5])
def test_a_retention_setting_the_daily_task_would_refuse_stops_the_checks(settings, days):
    """Set below the trending window, the daily task would fail in a worker every night; the system
    checks (``manage.py check`` / ``migrate``, run by ``make demo`` and a deploy) say so at once."""
    settings.RECSYS_EVENT_RETENTION_DAYS = days
    with pytest.raises(SystemCheckError, match=f"RECSYS_EVENT_RETENTION_DAYS is {days}: it must be 0"):
        call_command("check")
    for fine in (0, 30, 90):
        settings.RECSYS_EVENT_RETENTION_DAYS = fine
        call_command("check")


def test_the_command_counts_deletes_and_beat_runs_it_daily(item, settings, capsys):
    old = _event(item, 120, session="s-old")
    call_command("prune_events", "--dry-run", "--no-progress")
    assert "would delete" in capsys.readouterr().out and _exists(old) == [True]
    call_command("prune_events", "--no-progress")
    assert capsys.readouterr().out.startswith("deleted ") and _exists(old) == [False]
    call_command("prune_events", "--days", "0")
    assert "retention is off" in capsys.readouterr().out
    entry = settings.CELERY_BEAT_SCHEDULE["prune-events"]
    assert entry["task"] == prune_events.name and entry["schedule"] == 24 * 3600


def test_a_running_experiment_keeps_every_event_since_it_started(item):
    running = Experiment.objects.create(key="long", name="Long test", variants=VARIANTS, is_active=True,
                                        started_at=timezone.now() - timedelta(days=200))
    before_start = _event(item, 250, session="early")
    impression = _event(item, 150, "impression", session="visitor", exp="long", variant="a")
    purchase = _event(item, 149, "purchase", session="visitor")
    events_prune(days=90)
    assert _exists(before_start, impression, purchase) == [False, True, True]
    assert {v.name: v.converters for v in experiments.experiment_report(running)}["a"] == 1


def test_stopping_an_experiment_in_the_admin_freezes_its_results_before_retention(item, staff_client):
    form = {"key": "frozen", "name": "Frozen test", "variants": json.dumps(VARIANTS)}
    staff_client.post(reverse("admin:recommender_experiment_add"), {**form, "is_active": "on"})
    experiment = Experiment.objects.get(key="frozen")
    assert experiment.started_at is not None and experiment.results is None
    for _ in range(4):  # shown 100 days ago (a long experiment), two clicks and a purchase
        _event(item, 100, "impression", session="v1", exp="frozen", variant="a")
    _event(item, 100, "click", session="v1", exp="frozen", variant="a")
    _event(item, 99, "click", session="v1", exp="frozen", variant="a")
    _event(item, 99, "purchase", session="v1")
    change = reverse("admin:recommender_experiment_change", args=[experiment.pk])

    staff_client.post(change, form)  # unticked: stopped
    experiment.refresh_from_db()
    assert not experiment.is_active and experiment.stopped_at is not None
    frozen = {row["name"]: row for row in experiment.results}
    assert (frozen["a"]["impressions"], frozen["a"]["clicks"], frozen["a"]["converters"]) == (4, 2, 1)

    assert events_prune(days=90)["deleted"] >= 7
    assert experiments.experiment_report(experiment)[0].impressions == 0  # the events are gone
    page = staff_client.get(change)
    stats = {v.name: v for v in page.context["report"]}
    assert (stats["a"].impressions, stats["a"].clicks, stats["a"].units, stats["a"].converters) == (4, 2, 1, 1)
    assert f"{stats['a'].ctr:.4f}" == "0.5000" and "As they were when it stopped" in page.content.decode()

    staff_client.post(change, {**form, "is_active": "on"})  # restarted: live again, first start kept
    restarted = Experiment.objects.get(pk=experiment.pk)
    assert restarted.results is None and restarted.stopped_at is None
    assert restarted.started_at == experiment.started_at
    assert staff_client.get(change).context["report"][0].impressions == 0


def test_an_experiment_stopped_before_results_were_kept_is_frozen_before_its_events_go(item):
    legacy = Experiment.objects.create(key="legacy", name="Legacy", variants=VARIANTS)  # stopped, no results
    never_run = Experiment.objects.create(key="never", name="Never run", variants=VARIANTS)
    _event(item, 120, "impression", session="v2", exp="legacy", variant="b")
    _event(item, 120, "click", session="v2", exp="legacy", variant="b")
    from django.apps import apps
    importlib.import_module("recommender.migrations.0004_experiment_results").started_since_created(apps, None)
    events_prune(days=90)
    legacy.refresh_from_db()
    never_run.refresh_from_db()
    assert {v.name: (v.impressions, v.clicks) for v in experiments.experiment_results(legacy)} == {
        "a": (0, 0), "b": (1, 1)}
    assert never_run.results is None and never_run.started_at is None  # never scanned for by pruning


def test_a_started_experiment_keeps_its_key_and_variants(staff_client):
    """A unit's variant hashes the key over the weights: changing either mid-test would move units
    between variants and mix their figures."""
    form = {"key": "fixed", "name": "Fixed test", "variants": json.dumps(VARIANTS)}
    staff_client.post(reverse("admin:recommender_experiment_add"), form)
    experiment = Experiment.objects.get(key="fixed")
    change = reverse("admin:recommender_experiment_change", args=[experiment.pk])
    assert 'name="variants"' in staff_client.get(change).content.decode()  # not started: editable
    staff_client.post(change, {**form, "is_active": "on"})
    page = staff_client.get(change).content.decode()
    assert 'name="variants"' not in page and 'name="key"' not in page and 'name="name"' in page
    other = [{"name": "a", "weight": 90, "params": {}}, {"name": "b", "weight": 10, "params": {}}]
    staff_client.post(change, {"key": "moved", "name": "Renamed", "variants": json.dumps(other), "is_active": "on"})
    experiment.refresh_from_db()
    assert (experiment.key, experiment.name, experiment.variants) == ("fixed", "Renamed", VARIANTS)
    staff_client.post(change, {"name": "Renamed"})  # stopped: still fixed, its results are of these variants
    experiment.refresh_from_db()
    assert not experiment.is_active and experiment.variants == VARIANTS and 'name="variants"' not in (
        staff_client.get(change).content.decode())
