"""Audits, experiments, admin pages and actions on MovieLens-100K."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from itertools import pairwise

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from catalog import services
from catalog.models import Event, Item
from recommender import experiments
from recommender.audits import audit_compute
from recommender.models import AuditRun, Experiment, ItemEmbedding, ModelVersion, ReviewEmbedding


def test_audit_metrics_and_monotone_mitigation_curve(trained_model):
    m = audit_compute(sample=80, k=10, progress=False)
    assert m["users"] == 80
    assert 0 < m["gini"] < 1 and 0 < m["coverage"] < 1 and m["avg_popularity"] > m["catalog_avg_popularity"]
    assert len(m["lorenz"]) == 21 and m["lorenz"][-1] == (1.0, 1.0)
    assert sum(m["popularity_deciles"]) == pytest.approx(1.0)
    assert set(m["groups"]) == {"gender", "age_bracket", "occupation"}
    assert {"F", "M"} == set(m["groups"]["gender"]["groups"])
    ginis = [row["gini"] for row in m["tradeoff"]]
    assert all(b <= a + 1e-9 for a, b in pairwise(ginis))  # monotone in the strength
    assert ginis[-1] < ginis[0]


def test_audit_only_uses_consenting_users_for_groups_and_drops_opted_out(trained_model):
    from catalog.models import Profile

    Profile.objects.filter(user__username__startswith="ml_").update(demographics_consent=False)
    m = audit_compute(sample=30, k=10, progress=False)
    assert all(not data["groups"] for data in m["groups"].values())


def test_audit_command_stores_a_run_with_exports(trained_model, staff_client):
    out = io.StringIO()
    call_command("audit", "--sample", "40", "--no-progress", stdout=out)
    assert "shown in the store (30 days): " in out.getvalue()
    run = AuditRun.objects.get()
    assert run.status == AuditRun.Status.DONE and run.model_version_id == trained_model.pk
    page = staff_client.get(reverse("admin:recommender_auditrun_change", args=[run.pk]))
    assert page.status_code == 200 and page.content.count(b"<svg") >= 6
    exported = staff_client.get(reverse("admin:recommender_auditrun_json", args=[run.pk])).json()
    assert exported["metrics"]["users"] == 40
    rows = staff_client.get(reverse("admin:recommender_auditrun_csv", args=[run.pk])).content.decode().splitlines()
    assert rows[0] == "metric,key,value" and any(r.startswith("gini,") for r in rows)
    assert staff_client.get(reverse("admin:recommender_auditrun_changelist")).status_code == 200


def test_experiment_assignment_is_sticky_and_balanced():
    experiment = Experiment(key="div", name="Diversity", variants=[
        {"name": "a", "weight": 50, "params": {}}, {"name": "b", "weight": 50, "params": {"diversity": 0.5}}])
    first = [experiments.variant_for(experiment, f"u{n}")["name"] for n in range(4000)]
    again = [experiments.variant_for(experiment, f"u{n}")["name"] for n in range(4000)]
    assert first == again
    share = first.count("a") / len(first)
    assert 0.47 < share < 0.53
    weighted = Experiment(key="w", name="w", variants=[{"name": "x", "weight": 9}, {"name": "y", "weight": 1}])
    shares = [experiments.variant_for(weighted, f"s{n}")["name"] for n in range(4000)]
    assert 0.87 < shares.count("x") / 4000 < 0.93


@pytest.mark.parametrize("variants", [[], [{"name": "a"}], [{"name": "a"}, {"name": "a"}],
                                      [{"name": "a"}, {"name": "b", "weight": -1}],
                                      [{"name": "a"}, {"name": "b", "params": {"algorithm": "magic"}}],
                                      [{"name": "a"}, {"name": "b", "params": {"diversity": 3}}],
                                      [{"name": "a"}, {"name": "b", "params": {"colour": "red"}}]])
def test_experiment_variants_are_validated(variants):
    with pytest.raises(ValidationError):
        Experiment(key="bad", name="bad", variants=variants).clean()


def test_experiment_report_attributes_clicks_and_purchases(trained_model, client):
    experiment = Experiment.objects.create(key="algo", name="Hybrid vs EASE", is_active=True, variants=[
        {"name": "hybrid", "weight": 50, "params": {}},
        {"name": "ease", "weight": 50, "params": {"algorithm": "ease"}}])
    shopper = User.objects.get(username="ml_1")
    client.force_login(shopper)
    assert client.get("/").status_code == 200
    variant = experiments.variant_for(experiment, f"u{shopper.pk}")["name"]
    impressions = Event.objects.filter(user=shopper, kind="impression", context__exp="algo")
    assert impressions.exists() and set(impressions.values_list("context__variant", flat=True)) == {variant}
    shown = impressions.filter(context__src="for_you").first()
    assert shown.context["algo"] == ("ease" if variant == "ease" else "hybrid")
    # click through the tracked link, then buy
    client.get(shown.item.get_absolute_url(), shown.context)
    client.post(reverse("cart_add", args=[shown.item.slug]))
    client.post(reverse("checkout"))
    stats = {v.name: v for v in experiments.experiment_report(experiment)}
    assert stats[variant].clicks == 1 and stats[variant].units == 1 and stats[variant].converters == 1
    assert stats[variant].impressions == impressions.count()
    other = "ease" if variant == "hybrid" else "hybrid"
    assert stats[other].impressions == 0


def test_admin_item_embedding_status_reembed_and_review_moderation(ml100k, staff_client):
    url = reverse("admin:catalog_item_changelist")
    page = staff_client.get(url, {"embedding": "fresh"})
    assert page.status_code == 200 and page.context["cl"].result_count == Item.objects.count()
    item = Item.objects.get(external_id="ml:50")
    ItemEmbedding.objects.filter(item=item).delete()
    assert staff_client.get(url, {"embedding": "missing"}).context["cl"].result_count == 1
    response = staff_client.post(url, {"action": "reembed", "_selected_action": [item.pk]})
    assert response.status_code == 302
    response = staff_client.post(url, {"action": "deactivate", "_selected_action": [item.pk]})
    item.refresh_from_db()
    assert not item.is_active
    assert staff_client.get(url, {"genre": "Film-Noir"}).context["cl"].result_count == 24
    seventies = staff_client.get(url, {"decade": "1970"})
    assert seventies.context["cl"].result_count == Item.objects.filter(year__range=(1970, 1979)).count() > 0
    assert "1990s" in seventies.content.decode()
    assert staff_client.get(url, {"decade": "x"}).status_code == 200  # ignored, not a 500
    # moderation: hiding a review drops it from the store and from embeddings
    from recommender.embedding import embed_rows

    review = services.review_save(user=User.objects.get(username="ml_2"), item=item, rating=5,
                                  text="Rude words a moderator will hide.")
    embed_rows(kind="review", ids=[review.pk])
    assert ReviewEmbedding.objects.filter(review=review).exists()
    staff_client.post(reverse("admin:catalog_review_changelist"), {"action": "hide", "_selected_action": [review.pk]})
    review.refresh_from_db()
    assert review.is_hidden
    embed_rows(kind="review", ids=[review.pk])  # what the queued task does
    assert not ReviewEmbedding.objects.filter(review=review).exists()


def test_admin_model_version_activate_and_roll_back(trained_model, staff_client):
    older = ModelVersion.objects.create(artifact=trained_model.artifact, sha256=trained_model.sha256)
    url = reverse("admin:recommender_modelversion_changelist")
    staff_client.post(url, {"action": "activate", "_selected_action": [older.pk]})
    assert ModelVersion.objects.get(is_active=True) == older
    staff_client.post(url, {"action": "activate", "_selected_action": [trained_model.pk]})
    assert ModelVersion.objects.get(is_active=True) == trained_model
    assert staff_client.get(reverse("admin:recommender_experiment_add")).status_code == 200
    # the version being served cannot be deleted (feeds would silently fall back to popularity)
    delete = reverse("admin:recommender_modelversion_delete", args=[trained_model.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    selected = {"action": "delete_selected", "_selected_action": [trained_model.pk, older.pk]}
    assert "Cannot delete" in staff_client.post(url, selected).content.decode()  # the confirmation page says so
    assert staff_client.post(url, {**selected, "post": "yes"}).status_code == 403
    assert ModelVersion.objects.filter(pk__in=[trained_model.pk, older.pk]).count() == 2
    staff_client.post(reverse("admin:recommender_modelversion_delete", args=[older.pk]), {"post": "yes"})
    assert not ModelVersion.objects.filter(pk=older.pk).exists()  # an older one can go


def test_starting_an_audit_with_the_broker_down_says_so(staff_client, broker_down):
    response = staff_client.post(reverse("admin:recommender_auditrun_run"), {"sample": "20", "k": "10"}, follow=True)
    assert response.status_code == 200
    assert b"task queue is unreachable" in response.content
    run = AuditRun.objects.get()
    assert run.status == AuditRun.Status.FAILED and "Could not queue" in run.error


# ------------------------------------------------------- admin defects found in QA
@pytest.mark.parametrize("model", ["auditrun", "experiment"])
@pytest.mark.parametrize("object_id", ["abc", "999999"])
def test_admin_change_page_of_a_bad_id_redirects_like_stock_admin(staff_client, model, object_id):
    """Django's own ``_get_obj_does_not_exist_redirect``: to the admin index, with a warning."""
    response = staff_client.get(f"/admin/recommender/{model}/{object_id}/change/", follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert f"with ID “{object_id}” doesn’t exist. Perhaps it was deleted?" in response.content.decode()


GENRES = ("Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western", "unknown")


def _done_run(**metrics: object) -> AuditRun:
    """A finished run with the shape of the demo's (ML-100K, 50 users): close NDCGs along the
    trade-off curve, 19 genres, long occupation names."""
    tradeoff = [{"strength": s / 10, "ndcg": 0.3109 + 0.0019 * s, "gini": 0.9319 - 0.005 * s} for s in range(11)]
    return AuditRun.objects.create(status=AuditRun.Status.DONE, params={"sample": 50}, metrics={
        "users": 50, "k": 10, "ndcg": 0.3109, "recall": 0.1742, "avg_popularity": 284.952, "long_tail_share": 0.056,
        "gini": 0.9319, "coverage": 0.1171, "calibration_kl": 0.704, "caveat": "optimistic",
        "lorenz": [(n / 20, (n / 20) ** 4) for n in range(21)], "popularity_deciles": [0.1] * 10,
        "tradeoff": tradeoff,
        "genre_exposure": {g: {"exposure": 1 / 19, "catalog": 1 / 19} for g in GENRES},
        "groups": {"occupation": {"groups": {"administrator": {"users": 6, "ndcg": 0.17, "recall": 0.12},
                                             "entertainment": {"users": 5, "ndcg": 0.2, "recall": 0.1}},
                                  "ndcg_gap": 0.03}},
        **metrics,
    })


def _texts(svg: str, attributes: str = "") -> list[str]:
    """The chart's text elements (those with ``attributes``, e.g. a tick's font size and anchor)."""
    return [html.unescape(t) for t in re.findall(r"<text[^>]*" + attributes + r"[^>]*>([^<]*)</text>", svg)]


X_TICK, Y_TICK = 'font-size="10" text-anchor="middle"', 'font-size="10" text-anchor="end"'


def _charts(page: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(r'<svg class="chart"[^>]*aria-label="([^"]*)".*?</svg>',
                                                          page, re.S)}


def test_audit_page_charts_have_distinct_ticks_every_label_and_whole_counts(staff_client):
    for _ in range(2):
        _done_run()
    run = _done_run()
    page = staff_client.get(reverse("admin:recommender_auditrun_change", args=[run.pk])).content.decode()
    charts = _charts(page)
    for title, svg in charts.items():  # tick labels tell their ticks apart
        for axis in (X_TICK, Y_TICK):
            assert len(set(_texts(svg, axis))) == len(_texts(svg, axis)), (title, _texts(svg, axis))
    tradeoff = charts["Fairness re-ranker: NDCG@10 vs exposure Gini"]
    assert len(_texts(tradeoff, Y_TICK)) >= 3
    trend = _texts(charts["Trend across audits"], X_TICK)
    assert trend == ["1", "2", "3"]  # run numbers: whole numbers only
    genres = charts["Genre share: recommendations vs catalogue"]
    assert set(GENRES) <= set(_texts(genres))  # all 19, in full
    occupation = next(svg for title, svg in charts.items() if title.startswith("NDCG@10 and recall by occupation"))
    assert {"administrator", "entertainment"} <= set(_texts(occupation))
    assert re.search(r"<th scope=\"row\">users</th><td>50</td>", page)
    assert re.search(r"<th scope=\"row\">ndcg</th><td>0\.3109</td>", page)
    strengths = re.findall(r"<tr><td>([0-9.]+)</td><td>0\.3", page.split("Fairness trade-off</h2>")[1])
    assert strengths == ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"]


@pytest.mark.parametrize(("lo", "hi"), [(0.3109, 0.3297), (0.8817, 0.9319), (0.0, 0.81), (284.9, 285.0), (5.0, 5.0),
                                        (1e-4, 3e-4), (0.0, 1.0)])
def test_chart_axis_ticks_are_distinct_round_and_cover_the_data(lo, hi):
    from recommender.charts import axis

    ax = axis(lo, hi)
    labels = [ax.label(t) for t in ax.ticks]
    assert 3 <= len(labels) <= 7 and len(set(labels)) == len(labels), labels
    assert ax.lo <= lo and ax.hi >= hi and ax.ticks[0] == pytest.approx(ax.lo) and ax.ticks[-1] == pytest.approx(ax.hi)
    assert [t.is_integer() for t in axis(1, 3, integer=True, fixed=True).ticks] == [True, True, True]
    assert axis(1, 50, integer=True, fixed=True).decimals == 0


def test_audit_tries_every_tenth_of_fairness_strength():
    from recommender.audits import STRENGTHS

    assert STRENGTHS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _variant_errors(variants: object) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        Experiment(key="bad", name="bad", variants=variants).clean()
    return raised.value.message_dict["variants"]


@pytest.mark.parametrize(("variants", "expected"), [
    ([{"weight": 50}], ["Variant 1 needs a name", "Give at least two variants (there is 1)"]),
    (["control"], ["Variant 1 is not an object with a name, weight and params: \"control\"",
                   "Give at least two variants"]),
    ([{"name": "a", "wieght": 5}, {"name": "b", "params": "ease"}],
     ["Variant 1 (a): unknown key(s) ['wieght']", "Variant 2 (b): params must be an object"]),
    ({"name": "a"}, ["Give a list of variants"]),
])
def test_experiment_variant_errors_name_each_real_problem(variants, expected):
    errors = _variant_errors(variants)
    assert len(errors) == len(expected) and all(e.startswith(x) for e, x in zip(errors, expected, strict=True)), errors


@pytest.mark.parametrize("weight", [1e308, float("inf"), float("nan"), -1, 0, "50", True, 10_001])
def test_experiment_variant_weight_must_be_finite_positive_and_reasonable(weight):
    errors = _variant_errors([{"name": "a", "weight": 50}, {"name": "b", "weight": weight}])
    assert len(errors) == 1 and errors[0].startswith("Variant 2 (b): weight must be a number greater than 0 and "
                                                     "at most 10,000"), errors


def test_experiment_variant_with_a_negligible_share_is_rejected():
    errors = _variant_errors([{"name": "a", "weight": 10_000}, {"name": "b", "weight": 0.5}])
    assert errors == ["Variant 'b' would get no one: its weight is under 1/10,000 of the total."]
    Experiment(key="ok", name="ok", variants=[{"name": "a", "weight": 5_000}, {"name": "b", "weight": 1}]).clean()


def test_experiment_admin_rejects_a_huge_weight_in_the_form(staff_client):
    response = staff_client.post(reverse("admin:recommender_experiment_add"), {
        "key": "huge", "name": "Huge", "variants": '[{"name": "a"}, {"name": "b", "weight": 1e308}]'})
    assert response.status_code == 200 and not Experiment.objects.exists()
    assert "Variant 2 (b): weight must be a number greater than 0" in response.content.decode()


def test_events_with_a_variant_that_is_not_a_name_count_nowhere_and_break_nothing(ml100k, staff_client):
    """Written before the API checked the tracking keys (or by another client), an impression whose
    variant is an object or a list is in no arm; the page and the stop (which freezes the
    results) work. It was a 500 (TypeError: unhashable type: 'dict')."""
    experiment = Experiment.objects.create(key="algo", name="Hybrid vs EASE", is_active=True, variants=[
        {"name": "hybrid", "weight": 50, "params": {}}, {"name": "ease", "weight": 50, "params": {}}])
    experiments.experiment_save(experiment)
    item = Item.objects.first()
    for n, variant in enumerate([{"x": 1}, ["hybrid"], 7, None, "hybrid"]):
        Event.objects.create(session_key=f"s{n}", item=item, kind="impression", created_at=timezone.now(),
                             context={"exp": "algo", "variant": variant})
    stats = {v.name: v for v in experiments.experiment_report(experiment)}
    assert (stats["hybrid"].impressions, stats["hybrid"].units, stats["ease"].impressions) == (1, 1, 0)
    page = reverse("admin:recommender_experiment_change", args=[experiment.pk])
    assert staff_client.get(page).status_code == 200
    experiment.is_active = False
    experiments.experiment_save(experiment)
    experiment.refresh_from_db()
    assert experiment.results and staff_client.get(page).status_code == 200


def test_experiment_admin_report_shows_params_as_json_and_no_data_instead_of_zero_intervals(ml100k, staff_client):
    experiment = Experiment.objects.create(key="algo", name="Hybrid vs EASE", variants=[
        {"name": "hybrid", "weight": 50, "params": {}},
        {"name": "ease", "weight": 50, "params": {"algorithm": "ease", "diversity": 0.5}}])
    item = Item.objects.first()
    for kind in ("impression", "impression", "impression", "click"):
        Event.objects.create(session_key="s1", item=item, kind=kind, created_at=timezone.now(),
                             context={"exp": "algo", "variant": "hybrid"})
    page = staff_client.get(reverse("admin:recommender_experiment_change", args=[experiment.pk])).content.decode()
    rows = {re.search(r"<td>(\w+)</td>", row).group(1): html.unescape(row)
            for row in re.findall(r"<tr><td>.*?</tr>", page, re.S)}
    assert '<code>{"algorithm": "ease", "diversity": 0.5}</code>' in rows["ease"]
    assert "<code>{}</code>" in rows["hybrid"]
    assert "0.0000 – 0.0000" not in page and rows["ease"].count("no data yet") == 2
    assert "0.3333" in rows["hybrid"] and "no data yet" not in rows["hybrid"]  # CTR 1/3, intervals shown
    assert len(re.findall(r"\d\.\d{4} – \d\.\d{4}", rows["hybrid"])) == 2


@pytest.mark.parametrize(("sample", "k", "message"), [
    ("abc", "10", "Audit not started. Users to sample: Enter a whole number."),
    ("0", "10", "Audit not started. Users to sample: Ensure this value is greater than or equal to 1."),
    ("20", "x", "Audit not started. k: Enter a whole number."),
    ("20", "500", "Audit not started. k: Ensure this value is less than or equal to 100."),
])
def test_starting_an_audit_with_bad_input_says_what_is_wrong_in_words(staff_client, sample, k, message):
    response = staff_client.post(reverse("admin:recommender_auditrun_run"), {"sample": sample, "k": k}, follow=True)
    assert response.redirect_chain == [(reverse("admin:recommender_auditrun_changelist"), 302)]
    assert [str(m) for m in response.context["messages"]] == [message]
    assert not AuditRun.objects.exists()


@pytest.mark.parametrize(("sample", "expected"), [(" 25 ", 25), ("all", None), ("", None)])
def test_starting_an_audit_queues_a_run_with_the_form_values(staff_client, broker_down, sample, expected):
    staff_client.post(reverse("admin:recommender_auditrun_run"), {"sample": sample, "k": "5"})
    assert AuditRun.objects.get().params["sample"] == expected and AuditRun.objects.get().params["k"] == 5


def test_admin_index_shows_the_recommender_status(trained_model, staff_client):
    """The index page answers "is it working?": the model serving and what it has not learned
    yet, vectors waiting, the latest audit, the running experiment; each row links onwards."""
    index = reverse("admin:index")

    def text() -> str:
        return " ".join(staff_client.get(index).content.decode().split())

    def actions_since() -> int:
        return Event.objects.exclude(kind="impression").filter(created_at__gt=trained_model.created_at).count()

    page = text()
    assert f"hybrid v{trained_model.pk}</a>, trained" in page
    before = actions_since()  # 0 unless an earlier test committed some: MovieLens' are older
    assert f"{before:,} action{'' if before == 1 else 's'} since" in page
    assert f"{Item.objects.count():,} of {Item.objects.count():,} current" in page
    assert "none yet: <a" in page and "none running" in page

    item = Item.objects.get(external_id="ml:50")
    services.review_save(user=User.objects.get(username="boss"), item=item, rating=4)
    ItemEmbedding.objects.filter(item=item).delete()
    run = _done_run(gini=0.8765)
    variants = [{"name": "control", "weight": 50, "params": {}},
                {"name": "ease", "weight": 50, "params": {"algorithm": "ease"}}]
    experiment = Experiment.objects.create(key="status-ab", name="Status A/B", is_active=True, variants=variants)
    page = text()
    assert actions_since() == before + 1 and f"{before + 1:,} action{'' if before == 0 else 's'} since" in page
    assert f"{Item.objects.count() - 1:,} of {Item.objects.count():,} current" in page
    assert "<strong>1 waiting</strong>" in page and "?embedding=missing" in page
    assert "exposure Gini 0.877" in page and reverse("admin:recommender_auditrun_change", args=[run.pk]) in page
    assert "Status A/B</a> is running" in page
    assert reverse("admin:recommender_experiment_change", args=[experiment.pk]) in page

    ModelVersion.objects.update(is_active=False)
    assert "<strong>none yet</strong>: everyone sees popular items" in text()


def test_admin_index_says_when_audits_wait_for_a_worker_that_is_not_there(staff_client):
    """Audits started from the admin queue for a worker; without one they waited silently,
    "queued or running" for hours."""
    queued = AuditRun.objects.create(params={"sample": 50, "k": 10})
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "1 queued or running" in page and "is a worker running?" not in page  # just started
    AuditRun.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(hours=2))
    page = " ".join(staff_client.get(reverse("admin:index")).content.decode().split())
    assert "the oldest has waited 2 hours; is a worker running?" in page


def test_audit_run_page_is_view_only_and_its_trend_waits_for_a_second_run(staff_client):
    """Every field of a run is read-only: no Save buttons, and a POST changes nothing. With one
    finished run there is no trend to draw (the page says so, the changelist shows none)."""
    run = _done_run()
    url = reverse("admin:recommender_auditrun_change", args=[run.pk])
    page = staff_client.get(url).content.decode()
    assert "View audit run" in page and 'name="_save"' not in page and 'name="_continue"' not in page
    assert "Export CSV" in page and "Only one finished audit so far." in page
    assert set(_texts(_charts(page)["Trend across audits"], X_TICK)) == set()  # no axis for one point
    assert staff_client.post(url, {"status": "failed", "_save": "Save"}).status_code == 403
    assert AuditRun.objects.get(pk=run.pk).status == AuditRun.Status.DONE
    changelist = reverse("admin:recommender_auditrun_changelist")
    assert "Trend across audits" not in staff_client.get(changelist).content.decode()
    _done_run()
    assert "Trend across audits" in staff_client.get(changelist).content.decode()
    deleted = staff_client.post(reverse("admin:recommender_auditrun_delete", args=[run.pk]), {"post": "yes"})
    assert deleted.status_code == 302
    assert not AuditRun.objects.filter(pk=run.pk).exists()  # deleting a run still works


def test_staff_who_may_only_view_cannot_act(db, client):
    """Admin actions and the audit views only asked for staff status: an analyst allowed to
    view could deactivate films, hide reviews, roll the model back and start audits."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from catalog import services
    from catalog.models import Item, Review

    ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
    analyst = User.objects.create_user("analyst", password="analyst-password-2026", is_staff=True)
    analyst.user_permissions.set([
        Permission.objects.get_or_create(codename=f"view_{model._meta.model_name}",
                                         content_type=ContentType.objects.get_for_model(model),
                                         defaults={"name": f"Can view {model._meta.verbose_name}"})[0]
        for model in (Item, Review, ModelVersion, AuditRun)])
    client.login(username="analyst", password="analyst-password-2026")
    film = services.item_create(title="Viewed Not Touched", year=2001)
    review = services.review_save(user=User.objects.create_user("critic"), item=film, rating=4, text="Fine.")
    version = ModelVersion.objects.create(artifact="elsewhere.pkl", sha256="0" * 64)
    run = AuditRun.objects.create(status=AuditRun.Status.DONE, metrics={"gini": 0.5})
    for model, action, pk in [("catalog_item", "deactivate", film.pk), ("catalog_review", "hide", review.pk),
                              ("recommender_modelversion", "activate", version.pk)]:
        url = reverse(f"admin:{model}_changelist")
        assert f'value="{action}"' not in client.get(url).content.decode()  # not offered
        client.post(url, {"action": action, "_selected_action": [pk]})  # nor done when sent anyway
    assert Item.objects.get(pk=film.pk).is_active and not Review.objects.get(pk=review.pk).is_hidden
    assert not ModelVersion.objects.get(pk=version.pk).is_active
    changelist = client.get(reverse("admin:recommender_auditrun_changelist")).content.decode()
    assert "Run an audit" not in changelist
    assert client.post(reverse("admin:recommender_auditrun_run"), {"sample": 10, "k": 10}).status_code == 403
    assert AuditRun.objects.count() == 1
    assert client.get(reverse("admin:recommender_auditrun_json", args=[run.pk])).status_code == 200  # may view
    analyst.user_permissions.clear()
    assert client.get(reverse("admin:recommender_auditrun_csv", args=[run.pk])).status_code == 403


def test_audit_charts_show_their_titles_and_where_the_tradeoff_runs(staff_client):
    """A chart's title was only its SVG <title> (a tooltip): the three group charts looked alike
    and their "consenting users, groups of 5+" never showed. The trade-off curve did not say
    which end is strength 0 (its one series' name was never drawn)."""
    run = _done_run(groups={"age_bracket": {"groups": {
        "55+": {"users": 5, "ndcg": 0.2, "recall": 0.1}, "18-24": {"users": 9, "ndcg": 0.3, "recall": 0.2},
        "25-34": {"users": 7, "ndcg": 0.3, "recall": 0.2}}}})
    page = staff_client.get(reverse("admin:recommender_auditrun_change", args=[run.pk])).content.decode()
    charts = _charts(page)
    for title, svg in charts.items():  # the title, wrapped onto lines, is drawn in full
        assert " ".join(_texts(svg, 'class="chart-title"')) == title
        assert all(len(line) <= 52 for line in _texts(svg, 'class="chart-title"'))
    tradeoff = charts["Fairness re-ranker: NDCG@10 vs exposure Gini"]
    assert _texts(tradeoff, 'class="end-label"') == ["strength 0", "strength 1"]
    ages = next(svg for title, svg in charts.items() if "by age bracket" in title)
    assert _texts(ages, 'class="label-x"') == ["18-24", "25-34", "55+"]  # jsonb had "55+" first
    genres = _texts(charts["Genre share: recommendations vs catalogue"], 'class="label-x"')
    assert len(genres) == len(GENRES) and genres == sorted(genres)  # equal catalogue shares: by name


def test_chart_y_label_clears_the_widest_tick_label():
    """Five-character ticks ("0.335") ran into the rotated y label at x = 12."""
    from recommender import charts

    svg = charts.line_chart("t", {"s": [(0.80, 0.3203), (0.9, 0.3391)]}, x_label="x", y_label="NDCG@10")
    ticks = _texts(svg, Y_TICK)
    assert max(len(t) for t in ticks) == 5
    right_of_label = 12 + 11 / 2 + 1  # the rotated label's centre, half its line height, a pixel
    tick_end = float(re.search(r'class="tick-y" x="([0-9.]+)"', svg).group(1))
    assert tick_end - max(len(t) for t in ticks) * 6.2 > right_of_label  # 6.2 px: a wide 10 px digit


def test_audit_summary_says_what_each_figure_means(staff_client):
    run = _done_run(catalog_avg_popularity=59.45, catalog_long_tail_share=0.8)
    page = html.unescape(staff_client.get(reverse("admin:recommender_auditrun_change", args=[run.pk])).content.decode())
    assert "NDCG@10: how high each user's held-out films rank in their top 10" in page
    assert "in ratings per film (catalogue: 59.5)" in page and "most-rated films (catalogue: 0.80)" in page
    changelist = staff_client.get(reverse("admin:recommender_auditrun_changelist")).content.decode()
    assert "blank or \"all\" for every user" in changelist and f">#{run.pk}</a>" in changelist


def test_model_version_page_offers_no_save_and_the_list_reads_plainly(staff_client):
    """Every field is read-only: Save and "Save and continue editing" did nothing."""
    version = ModelVersion.objects.create(artifact="v.pkl", sha256="0" * 64, n_interactions=100_000,
                                          training_seconds=27.3)
    page = staff_client.get(reverse("admin:recommender_modelversion_change", args=[version.pk])).content.decode()
    assert "View model version" in page and 'name="_save"' not in page and 'name="_continue"' not in page
    changelist = staff_client.get(reverse("admin:recommender_modelversion_changelist")).content.decode()
    assert f">hybrid v{version.pk}</a>" in changelist and "100,000" in changelist and "27 s" in changelist
    response = staff_client.post(reverse("admin:recommender_modelversion_changelist"),
                                 {"action": "activate", "_selected_action": [version.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        f"hybrid v{version.pk} is now served; web processes pick it up within seconds."]


def test_experiment_form_with_variants_that_are_not_json_says_only_that(staff_client):
    response = staff_client.post(reverse("admin:recommender_experiment_add"),
                                 {"key": "bad", "name": "Bad", "variants": "{not json"})
    assert response.status_code == 200 and not Experiment.objects.exists()
    assert response.context["adminform"].form.errors["variants"] == ["Enter a valid JSON."]
    response = staff_client.post(reverse("admin:recommender_experiment_add"),
                                 {"key": "one", "name": "One", "variants": '[{"name": "a"}]'})
    assert "Give at least two variants (there is 1)" in response.content.decode()  # the model's checks still run


@pytest.mark.parametrize(("value", "error"), [
    ('{"a": "\\u0000"}', "value.a: NUL characters and lone surrogates are not allowed."),
    ('{"\\ud800": 1}', "value: NUL characters and lone surrogates are not allowed."),
    ('{"a": NaN}', "value.a: numbers must be finite."),
    ('{"a": 1e999}', "value.a: numbers must be finite."),
    ("[" * 2000 + "]" * 2000, "value: objects and arrays nest more than 32 levels deep."),
    ('["an", "array"]', 'A JSON object, e.g. {"language": "English"}; {} for none.'),
])
def test_admin_json_that_postgresql_refuses_is_the_fields_error(staff_client, value, error):
    """Each was a 500 (DataError, RecursionError) on the item form; the experiment's variants too."""
    add = reverse("admin:catalog_item_add")
    page = staff_client.get(add).content.decode()
    management = dict(re.findall(r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"', page))
    form = {**management, "title": "Odd Film", "slug": "odd-film", "external_id": "t:odd", "price": "9.99",
            "attributes": value, "genres": "", "tags": "", "is_active": "on"}
    response = staff_client.post(add, form)
    assert response.status_code == 200 and not Item.objects.filter(slug="odd-film").exists()
    assert response.context["adminform"].form.errors["attributes"] == [error]
    if value.startswith("["):
        return  # a list is fine JSON for the variants, whose own checks word it
    variants = staff_client.post(reverse("admin:recommender_experiment_add"),
                                 {"key": "odd", "name": "Odd", "variants": value})
    assert variants.status_code == 200 and not Experiment.objects.exists()
    assert variants.context["adminform"].form.errors["variants"] == [error]


def test_item_whose_text_did_not_change_is_not_left_stale(db, staff_client):
    """A price edit (or activating, deactivating) saves the item: its vector was then "stale"
    for good in the list, as the worker rightly skipped an unchanged text and left its time
    alone, and "Re-embed" skipped it again. The worker's check now counts as current."""
    from decimal import Decimal

    from recommender.embedding import embed_rows

    film = services.item_create(title="Priced Film", year=2001)
    embed_rows(kind="item", ids=[film.pk])
    url = reverse("admin:catalog_item_changelist")

    def status() -> str:
        return staff_client.get(url, {"q": "Priced Film"}).context["cl"].result_list[0].embedding_status

    assert status() == "fresh"
    film.price = Decimal("4.99")
    film.save()
    assert status() == "stale"  # until the worker has looked
    assert embed_rows(kind="item", ids=[film.pk])["skipped"] == 1  # what the queued task does
    assert status() == "fresh"
    film.description = "Now with a description."
    film.save()
    assert embed_rows(kind="item", ids=[film.pk])["embedded"] == 1 and status() == "fresh"


def test_item_form_says_what_its_fields_take(staff_client):
    page = html.unescape(staff_client.get(reverse("admin:catalog_item_add")).content.decode())
    assert "Comma-separated, e.g. Action,Sci-Fi" in page and 'A JSON object, e.g. {"language": "English"}' in page
    assert re.search(r'<input[^>]*name="genres"[^>]*class="vTextField"|<input[^>]*class="vTextField"[^>]*name="genres"',
                     page)


def test_starting_a_second_experiment_says_which_one_runs(staff_client):
    variants = '[{"name": "a", "weight": 50, "params": {}}, {"name": "b", "weight": 50, "params": {}}]'
    running = Experiment.objects.create(key="first", name="First test", is_active=True, variants=json.loads(variants))
    response = staff_client.post(reverse("admin:recommender_experiment_add"),
                                 {"key": "second", "name": "Second", "variants": variants, "is_active": "on"})
    assert response.status_code == 200 and not Experiment.objects.filter(key="second").exists()
    errors = response.context["adminform"].form.errors
    assert errors == {"is_active": ["“First test” is running: stop it first (at most one experiment runs at a time)."]}
    staff_client.post(reverse("admin:recommender_experiment_change", args=[running.pk]),
                      {"key": "first", "name": "First test", "variants": variants, "is_active": "on"})
    assert Experiment.objects.get(pk=running.pk).is_active  # saving the running one is no conflict


def test_an_audit_also_measures_what_the_store_showed(ml100k, staff_client):
    """The model audit measures the model's lists; the store's impressions include what else placed
    cards (promotions, trending, other rows). Hand-counted on four films."""
    import numpy as np

    from recommender.audits import observed_exposure
    from recommender.evaluation.metrics import gini

    active = list(Item.objects.active().order_by("-review_count", "pk"))
    head, second, tail, gone = active[0], active[1], active[-1], active[2]
    now = timezone.now()

    def shown(item, n, src="for_you", days_ago=0, **context):
        Event.objects.bulk_create([Event(item=item, kind="impression", session_key="s",
                                         created_at=now - timedelta(days=days_ago),
                                         context={"src": src, **context}) for _ in range(n)])

    shown(head, 5)
    shown(head, 1, src="trending")
    shown(second, 2, promo=7)
    shown(tail, 2, src="new")
    shown(tail, 9, days_ago=31)  # before the window
    shown(gone, 4)
    Item.objects.filter(pk=gone.pk).update(is_active=False)  # no longer sold: not in the catalogue now
    Event.objects.create(item=tail, kind="impression", session_key="s", created_at=now, context={})  # no row
    Event.objects.create(item=tail, kind="click", session_key="s", created_at=now, context={"src": "new"})

    seen = observed_exposure()
    n = len(active) - 1
    counts = np.zeros(n)
    counts[:3] = [6, 2, 2]
    assert seen["impressions"] == 10 and seen["days"] == 30
    assert seen["gini"] == pytest.approx(gini(counts))
    assert seen["coverage"] == pytest.approx(3 / n)
    assert seen["long_tail_share"] == pytest.approx(0.2)  # the tail film's 2 of 10
    assert seen["featured_share"] == pytest.approx(0.2)
    assert seen["rows"] == {"for_you": 0.7, "trending": 0.1, "new": 0.2}
    assert seen["lorenz"][-1] == (1.0, 1.0)

    def page_of(run: AuditRun) -> str:
        return html.unescape(staff_client.get(reverse("admin:recommender_auditrun_change", args=[run.pk])).content
                             .decode())

    page = page_of(_done_run(observed=seen))
    assert "recommendation cards shown in the last 30 days" in page
    assert "Recommended for you 70%, New arrivals 20%, Trending now 10%" in page
    lorenz = _charts(page)["Lorenz curve of item exposure"]
    assert "model's lists" in lorenz and "shown in the store (30 days)" in lorenz
    page = page_of(_done_run(observed={"days": 30, "impressions": 0}))
    assert "No recommendation card was shown in the 30 days before this audit." in page
    page = page_of(_done_run())  # stored before the store's figures existed
    assert "This audit predates the store's figures" in page and "No recommendation card" not in page
