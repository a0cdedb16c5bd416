"""Admin for personalization: embedding status on items, model versions, audits with charts
and exports, A/B experiments with their online metrics, promotions."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    JSONField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError

from catalog.admin import AUTOCOMPLETE_NAMES, AccountAdmin, ItemAdmin, LabelledDateTimes, date_over_time
from catalog.forms import StorableJSONField
from catalog.models import EventKind, Item, Review, id_from_text, tagged_events
from recommender import batch, charts
from recommender.audience import AUDIENCE_MAX, REQUEST_SHOPPERS, audience, audience_campaign
from recommender.audience import write_csv as write_audience_csv
from recommender.audits import audit_create
from recommender.diagnosis import REACH_SAMPLE, VERDICTS, reach, storefront_feed, why_not
from recommender.embedding import enqueue
from recommender.encoder import model_name
from recommender.experiments import experiment_results, experiment_save
from recommender.models import (
    STALLED_AFTER,
    AuditRun,
    Experiment,
    ItemEmbedding,
    ModelVersion,
    Promotion,
    RecommendationExport,
)
from recommender.promotions import promotion_status
from recommender.selectors import (
    BOUGHT_WITHIN,
    EXPOSURE_DAYS,
    MAILING_DAYS,
    ROW_NAMES,
    clean_query,
    item_exposure,
    mailing_results,
    shown_events,
)
from recommender.serving import ROW_SIZE, active_model
from recommender.training import version_activate

# films offered when a "why not?" title matches several
WHY_NOT_CHOICES = 10
TITLE_WITH_YEAR = re.compile(r"(.+?)\s*\((\d{4})\)")


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.1%}"


def _times(n: int) -> str:
    return f"{n:,} time{pluralize(n)}"


class ExposureFilter(admin.SimpleListFilter):
    """Films the shop's recommendation rows showed in the last days, or did not: the ones to
    feature, or to check with an account's "why not this film?"."""

    title = f"shown in recommendations ({EXPOSURE_DAYS} days)"
    parameter_name = "shown"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "shown"), ("no", "not shown")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in ("yes", "no"):
            return queryset
        shown = Exists(shown_events(days=EXPOSURE_DAYS).filter(item=OuterRef("pk"), kind=EventKind.IMPRESSION))
        return queryset.filter(shown if self.value() == "yes" else ~shown)


class EmbeddingStatusFilter(admin.SimpleListFilter):
    title = "embedding"
    parameter_name = "embedding"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("fresh", "fresh"), ("stale", "stale"), ("missing", "missing")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(embedding_status=self.value()) if self.value() else queryset


def _export_send(request: HttpRequest, job: RecommendationExport, *, command: str) -> str | None:
    """Queue ``job`` for a worker: its page's address; None, with the error said, when the
    broker is down (the export is left failed, to start again)."""
    page = reverse("admin:recommender_recommendationexport_change", args=[job.pk])
    if batch.export_send(job):
        return page
    messages.error(request, format_html(
        "<a href=\"{}\">{}</a> not started: the task queue is unreachable. Start it again from the exports list "
        "when the queue is back, or run manage.py {} on a server.", page, f"Export #{job.pk}", command))
    return None


class AudienceForm(forms.Form):
    limit = forms.IntegerField(label="Shoppers", min_value=1, max_value=AUDIENCE_MAX, initial=50)


class AudienceExportForm(forms.Form):
    """A film's audience written by a worker: any model's size, more shoppers than a page lists."""

    worker_limit = forms.IntegerField(label="Shoppers to write", min_value=1, max_value=batch.AUDIENCE_EXPORT_MAX,
                                      initial=1000)


admin.site.unregister(Item)


@admin.register(Item)
class ItemWithEmbeddingAdmin(ItemAdmin):
    """The catalog's item admin plus the vector's state: fresh, stale (text edited after it was
    embedded, or another model) or missing."""

    list_display = (*ItemAdmin.list_display, "embedding_status")
    list_filter = (*ItemAdmin.list_filter, EmbeddingStatusFilter, ExposureFilter)
    actions = (*ItemAdmin.actions, "reembed")
    readonly_fields = (*ItemAdmin.readonly_fields, "exposure")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        vector = ItemEmbedding.objects.filter(item=OuterRef("pk"))
        return super().get_queryset(request).annotate(
            embedded_at=Subquery(vector.values("embedded_at")[:1]),
            embedded_model=Subquery(vector.values("model_name")[:1]),
        ).annotate(embedding_status=Case(
            When(embedded_at__isnull=True, then=Value("missing")),
            When(Q(embedded_at__lt=F("updated_at")) | ~Q(embedded_model=model_name()), then=Value("stale")),
            default=Value("fresh"), output_field=CharField(),
        ))

    @admin.display(description="embedding", ordering="embedding_status")
    def embedding_status(self, obj: Item) -> str:
        return obj.embedding_status

    def get_urls(self) -> list:
        return [
            path("<path:object_id>/reach/", self.admin_site.admin_view(self.reach_view), name="catalog_item_reach"),
            path("<path:object_id>/audience/", self.admin_site.admin_view(self.audience_view),
                 name="catalog_item_audience"),
            *super().get_urls(),
        ]

    def _named_shoppers_item(self, request: HttpRequest, object_id: str) -> Item:
        """The item of a page that names shoppers: it needs the accounts' view permission too."""
        item = self.get_object(request, unquote(object_id))
        if item is None:
            raise Http404("No such item")
        if not (self.has_view_permission(request, item) and request.user.has_perm("auth.view_user")):
            raise PermissionDenied
        return item

    def reach_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The film's place in the storefront feeds of a sample of shoppers, and why."""
        item = self._named_shoppers_item(request, object_id)
        found = reach(item)
        return TemplateResponse(request, "admin/catalog/item/reach.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": item,
            "title": f"Reach of {item.display_title}", "reach": found, "row_size": ROW_SIZE,
            "verdicts": [(v, n, VERDICTS[v]) for v, n in found.verdicts],
        })

    def audience_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The shoppers most likely to want the film (:mod:`recommender.audience`), on the page
        or as CSV for a mailing about it, its links tracked as ``audience-<item>-<date>``."""
        item = self._named_shoppers_item(request, object_id)
        can_export = request.user.has_perm("recommender.add_recommendationexport")
        if request.method == "POST":
            return self._audience_export(request, item, can_export)
        form = AudienceForm(request.GET or None)
        limit = form.cleaned_data["limit"] if form.is_valid() else AudienceForm.base_fields["limit"].initial
        campaign = audience_campaign(item)
        found = None
        if form.is_valid() or not request.GET:
            found = audience(item, limit=limit, campaign=campaign, most_shoppers=REQUEST_SHOPPERS)
        if found is not None and request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{campaign}.csv"'
            write_audience_csv(found, response, base_url=request.build_absolute_uri("/"))
            return response
        return TemplateResponse(request, "admin/catalog/item/audience.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": item, "form": form,
            "title": f"Shoppers for {item.display_title}", "audience": found, "limit": limit, "campaign": campaign,
            "export_form": AudienceExportForm() if can_export else None})

    def _audience_export(self, request: HttpRequest, item: Item, can_export: bool) -> HttpResponse:
        """The audience queued for a worker to write to a file (Recommendation exports)."""
        if not can_export:
            raise PermissionDenied
        form = AudienceExportForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Shoppers to write: " + " ".join(form.errors["worker_limit"]), messages.ERROR)
            return HttpResponseRedirect(request.path)
        job = batch.audience_queue(item, form.cleaned_data["worker_limit"], by=request.user,
                                   base_url=request.build_absolute_uri("/"))
        page = _export_send(request, job, command="audience")
        if page is None:
            return HttpResponseRedirect(request.path)
        self.message_user(request, format_html(
            "A worker is writing the shoppers for {}. <a href=\"{}\">{}</a> offers the file when it is done.",
            item.display_title, page, f"Export #{job.pk}"), messages.SUCCESS)
        return HttpResponseRedirect(page)

    @admin.display(description=f"shown in recommendations ({EXPOSURE_DAYS} days)")
    def exposure(self, obj: Item) -> str:
        """Its cards' impressions and clicks in the last days, per row: whether the shop's
        recommendations show it at all, and where."""
        if obj.pk is None:
            return "–"
        seen = item_exposure(obj)
        why = format_html('<p><a href="{}">Why is it shown, or not? Its place in {} shoppers\u2019 feeds now</a> '
                          '(a few seconds)</p><p><a href="{}">Who would want it most? The shoppers for this film</a> '
                          '(for a mailing about it)</p>', reverse("admin:catalog_item_reach", args=[obj.pk]),
                          REACH_SAMPLE, reverse("admin:catalog_item_audience", args=[obj.pk]))
        if not seen.rows:
            return format_html("<p>Not shown in any recommendation row in the last {} days.</p>{}", seen.days, why)
        summary = (format_html("Shown {}, clicked {} (click-through {}); last shown {}.", _times(seen.impressions),
                               _times(seen.clicks), _percent(seen.ctr), date_over_time(seen.last_shown))
                   if seen.impressions else
                   format_html("Not shown in any recommendation row in the last {} days, but clicked {} from "
                               "links without an impression, such as mailed lists.", seen.days, _times(seen.clicks)))
        rows = format_html_join("", "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
                                    "<td class=\"num\">{}</td></tr>",
                                ((row.name, f"{row.impressions:,}", f"{row.clicks:,}", _percent(row.ctr))
                                 for row in seen.rows))
        return format_html(
            "<p>{}</p><table class=\"exposure\"><thead><tr><th>row</th><th>shown</th><th>clicked</th>"
            "<th>click-through</th></tr></thead><tbody>{}</tbody></table>{}", summary, rows, why)

    @admin.action(description="Re-embed selected items", permissions=["change"])
    def reembed(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        tasks = enqueue(kind="item", ids=ids)
        self.message_user(request, f"Queued {len(ids)} item(s) for embedding in {tasks} task(s).", messages.SUCCESS)


def _count_column(field: str, description: str) -> Callable[[Any, ModelVersion], str]:
    """A list column showing a model version's count ``field`` with thousands separators."""

    @admin.display(description=description, ordering=field)
    def column(self: Any, obj: ModelVersion) -> str:
        return f"{getattr(obj, field):,}"

    return column


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Versions come from training and are records: every field is read-only, so the page has no
    Save buttons; serving one (activate, or roll back to an older one) is the list's action."""

    list_display = ("version", "created", "is_active", "users", "items", "interactions", "training_time")
    list_display_links = ("version",)
    list_filter = ("is_active", "algorithm")
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ("activate",)

    def has_add_permission(self, request: HttpRequest) -> bool:  # versions come from training
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        """Not the version being served (every feed would fall back to popular items): serve
        another one first. The bulk delete names it among what cannot be deleted."""
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_active)

    @admin.display(description="version", ordering="pk")
    def version(self, obj: ModelVersion) -> str:
        return obj.label

    @admin.display(description="trained", ordering="created_at")
    def created(self, obj: ModelVersion) -> str:
        return date_over_time(obj.created_at)

    users = _count_column("n_users", "users")
    items = _count_column("n_items", "items")
    interactions = _count_column("n_interactions", "interactions")

    @admin.display(description="training time", ordering="training_seconds")
    def training_time(self, obj: ModelVersion) -> str:
        return f"{obj.training_seconds:,.0f} s"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        """Read-only fields only: Save would change nothing, so it is not offered."""
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False,
                 "title": "View model version"}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @admin.action(description="Serve this version (activate, or roll back to it)", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to serve.", messages.ERROR)
            return
        version = version_activate(version=queryset.get())
        self.message_user(request, f"{version.label} is now served; web processes pick it up "
                                   "within seconds.", messages.SUCCESS)


# ------------------------------------------------------------------ audits
def _group_order(name: str) -> tuple[int, str]:
    """Age brackets by their first age ("18-24" before "55+"), other groups alphabetically."""
    digits = "".join(itertools.takewhile(str.isdigit, name))
    return (int(digits) if digits else 10**6, name.lower())


def _audit_charts(run: AuditRun, history: list[AuditRun]) -> dict[str, Any]:
    m = run.metrics
    if not m:
        return {}
    groups = m.get("groups", {})
    group_charts = []
    for field, data in groups.items():
        table = data.get("groups", {})
        names = sorted((n for n, row in table.items() if row["users"] >= 5), key=_group_order)
        if names:
            group_charts.append(charts.bar_chart(
                f"NDCG@{m['k']} and recall by {field.replace('_', ' ')} (consenting users, groups of 5+)", names,
                {"NDCG": [table[n]["ndcg"] for n in names], "recall": [table[n]["recall"] for n in names]},
                y_label="mean", x_label=field.replace("_", " "),
            ))
    # Largest in the catalogue first (a jsonb object comes back with its keys by length: "War",
    # "Crime", "Drama", ...; the age brackets as "55+", "18-24", ...).
    genres = dict(sorted(m.get("genre_exposure", {}).items(), key=lambda kv: (-kv[1]["catalog"], kv[0])))
    trend_labels = {"x_label": "audit run (oldest first)", "y_label": "value"}
    if len(history) < 2:  # one point per line is no trend: say when there will be one
        trend = charts.empty_chart("Trend across audits", **trend_labels,
                                   message="Only one finished audit so far.\nThe trend shows from the second run.")
    else:
        trend = charts.line_chart(
            "Trend across audits", {
                "exposure Gini": [(n, r.metrics["gini"]) for n, r in enumerate(history, 1)],
                "coverage": [(n, r.metrics["coverage"]) for n, r in enumerate(history, 1)],
                "long-tail share": [(n, r.metrics["long_tail_share"]) for n, r in enumerate(history, 1)],
            }, **trend_labels, bounds=(1, len(history), 0, 1), integer_x=True)
    lorenz = {"model's lists": m["lorenz"]}
    if m.get("observed", {}).get("impressions"):
        lorenz[f"shown in the store ({m['observed']['days']} days)"] = m["observed"]["lorenz"]
    return {
        "lorenz": charts.line_chart("Lorenz curve of item exposure", lorenz,
                                    x_label="share of items (least exposed first)", y_label="share of exposure",
                                    diagonal=True, bounds=(0, 1, 0, 1)),
        "deciles": charts.bar_chart("Recommendations by popularity decile", [str(d) for d in range(1, 11)],
                                    {"share": m["popularity_deciles"]}, y_label="share of recommendations",
                                    x_label="popularity decile (10 = most popular)"),
        "tradeoff": charts.line_chart(
            f"Fairness re-ranker: NDCG@{m['k']} vs exposure Gini",
            {"fairness re-ranker": [(row["gini"], row["ndcg"]) for row in m["tradeoff"]]},
            x_label="exposure Gini (lower = fairer)", y_label=f"NDCG@{m['k']}",
            end_labels=("strength 0", "strength 1")),
        "genres": charts.bar_chart("Genre share: recommendations vs catalogue", list(genres),
                                   {"recommended": [v["exposure"] for v in genres.values()],
                                    "catalogue": [v["catalog"] for v in genres.values()]},
                                   y_label="share"),
        "groups": group_charts,
        "trend": trend,
    }


SUMMARY = ("users", "ndcg", "recall", "avg_popularity", "long_tail_share", "gini", "coverage", "calibration_kl")


def _summary_meaning(key: str, m: dict[str, Any]) -> str:
    """What a summary figure measures, in words (the keys are those of the CSV/JSON exports)."""
    k = m.get("k", 10)
    meanings = {
        "users": "users sampled (each with held-out ratings)",
        "ndcg": f"NDCG@{k}: how high each user's held-out films rank in their top {k} (0 to 1, higher is better)",
        "recall": f"recall@{k}: share of each user's held-out films found in their top {k}",
        "avg_popularity": "mean popularity of the recommended films, in ratings per film"
                          + (f" (catalogue: {m['catalog_avg_popularity']:.1f})"
                             if "catalog_avg_popularity" in m else ""),
        "long_tail_share": "share of recommendations outside the 20% most-rated films"
                           + (f" (catalogue: {m['catalog_long_tail_share']:.2f})"
                              if "catalog_long_tail_share" in m else ""),
        "gini": "exposure Gini: how unevenly recommendations fall on films (0 = evenly, 1 = all on one)",
        "coverage": "catalogue coverage: share of films recommended to at least one sampled user",
        "calibration_kl": "calibration KL: how far the genre mix recommended is from each user's history "
                          "(0 = the same mix)",
    }
    return meanings.get(key, "")


def _observed_summary(m: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The store's own exposure figures (``metrics["observed"]``), as the summary's rows."""
    seen = m.get("observed")
    if not seen or not seen.get("impressions"):
        return []
    rows = ", ".join(f"{ROW_NAMES.get(row, row)} {share:.0%}"
                     for row, share in sorted(seen["rows"].items(), key=lambda kv: -kv[1]))
    return [
        ("impressions", f"{seen['impressions']:,}", f"recommendation cards shown in the last {seen['days']} days "
                                                    "(films for sale now)"),
        ("gini", _summary_value(seen["gini"]), "exposure Gini of those impressions over the catalogue"),
        ("coverage", _summary_value(seen["coverage"]), "share of the films for sale shown at least once"),
        ("long_tail_share", _summary_value(seen["long_tail_share"]),
         "share of impressions outside the 20% most-rated films"),
        ("featured_share", _summary_value(seen["featured_share"]), "share of impressions that were promotions' cards"),
        ("rows", rows, "where the cards were shown"),
    ]


def _summary_value(value: Any) -> str:
    """Counts as whole numbers, measures to four decimals."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metric_column(key: str, label: str) -> Callable[[admin.ModelAdmin, AuditRun], str]:
    """A changelist column showing one metric of the run."""

    @admin.display(description=label)
    def column(self: admin.ModelAdmin, obj: AuditRun) -> str:
        value = obj.metrics.get(key)
        return "" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))

    return column


class AuditStartForm(forms.Form):
    """The changelist's "Run an audit" form: how many users to sample (blank or "all": every
    eligible user) and the list length k."""

    sample = forms.CharField(label="Users to sample", required=False)
    k = forms.IntegerField(label="k", min_value=1, max_value=100, required=False)

    def clean_sample(self) -> int | None:
        value = self.cleaned_data["sample"].strip()
        return None if value.lower() in {"", "all"} else forms.IntegerField(min_value=1).clean(value)

    def clean_k(self) -> int:
        return 10 if self.cleaned_data["k"] is None else self.cleaned_data["k"]


class WorkRecordAdmin(admin.ModelAdmin):
    """What a worker did (an audit, an export): started elsewhere ("Run an audit", the account
    list's action) and a record, so its page is view-only (no Save buttons); its own views,
    actions and deleting keep working."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="started", ordering="created_at")
    def created(self, obj: Any) -> str:
        return date_over_time(obj.created_at)


@admin.register(AuditRun)
class AuditRunAdmin(WorkRecordAdmin):
    list_display = ("audit", "created", "status", "served_version", "users", "gini", "coverage", "long_tail_share",
                    "ndcg")
    list_display_links = ("audit",)
    list_filter = ("status",)
    list_select_related = ("model_version",)
    readonly_fields = ("created_at", "finished_at", "status", "model_version", "params", "error")
    exclude = ("metrics",)
    change_form_template = "admin/recommender/auditrun/change_form.html"
    change_list_template = "admin/recommender/auditrun/change_list.html"

    @admin.display(description="audit", ordering="pk")
    def audit(self, obj: AuditRun) -> str:
        return f"#{obj.pk}"

    @admin.display(description="model", ordering="model_version")
    def served_version(self, obj: AuditRun) -> str | None:
        version = obj.model_version
        return version.label if version else None

    users = _metric_column("users", "users")
    gini = _metric_column("gini", "Gini")
    coverage = _metric_column("coverage", "coverage")
    long_tail_share = _metric_column("long_tail_share", "long tail")
    ndcg = _metric_column("ndcg", "NDCG")

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("run/", view(require_POST(self.run_view)), name="recommender_auditrun_run"),
            path("<int:pk>/export.json", view(self.export_json), name="recommender_auditrun_json"),
            path("<int:pk>/export.csv", view(self.export_csv), name="recommender_auditrun_csv"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest) -> HttpResponseRedirect:
        from recommender.tasks import audit

        if not request.user.has_perm("recommender.add_auditrun"):
            raise PermissionDenied
        form = AuditStartForm(request.POST)
        if not form.is_valid():
            problems = " ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items())
            self.message_user(request, f"Audit not started. {problems}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:recommender_auditrun_changelist"))
        run = audit_create(sample=form.cleaned_data["sample"], k=form.cleaned_data["k"])
        try:
            audit.delay(run.pk)
        except OperationalError as exc:  # the broker is down: say so, keep no pending run behind
            run.status, run.error = AuditRun.Status.FAILED, f"Could not queue the audit: {exc}"
            run.save(update_fields=["status", "error"])
            self.message_user(request, "Audit not started: the task queue is unreachable. Try again shortly, "
                                       "or run `python manage.py audit` on a server.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:recommender_auditrun_changelist"))
        self.message_user(request, f"{run} queued; a worker computes it (refresh in a minute).", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:recommender_auditrun_change", args=[run.pk]))

    def _exported(self, request: HttpRequest, pk: int) -> AuditRun:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(AuditRun, pk=pk)

    def export_json(self, request: HttpRequest, pk: int) -> JsonResponse:
        run = self._exported(request, pk)
        response = JsonResponse({"id": run.pk, "created_at": run.created_at.isoformat(), "status": run.status,
                                 "model_version": run.model_version_id, "params": run.params,
                                 "metrics": run.metrics}, json_dumps_params={"indent": 2})
        response["Content-Disposition"] = f'attachment; filename="audit-{run.pk}.json"'
        return response

    def export_csv(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Flat ``metric,key,value`` rows of every figure of the run."""
        run = self._exported(request, pk)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["metric", "key", "value"])
        for name, value in run.metrics.items():
            for key, leaf in _flatten(value):
                writer.writerow([name, key, leaf])
        response = HttpResponse(out.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="audit-{run.pk}.csv"'
        return response

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        run = self.get_object(request, unquote(object_id))
        if run is None:  # a bad or deleted id: stock admin's redirect with its message
            return super().change_view(request, object_id, form_url, extra_context)
        history = list(AuditRun.objects.filter(status=AuditRun.Status.DONE, created_at__lte=run.created_at)
                       .order_by("created_at")[:50])
        extra = {"run": run, "charts": _audit_charts(run, history),
                 "summary": [(k, _summary_value(run.metrics[k]), _summary_meaning(k, run.metrics))
                             for k in SUMMARY if k in run.metrics],
                 "observed": _observed_summary(run.metrics)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        history = list(AuditRun.objects.filter(status=AuditRun.Status.DONE).order_by("created_at")[:50])
        trend = _audit_charts(history[-1], history)["trend"] if len(history) > 1 else None  # no trend of one
        return super().changelist_view(request, {**(extra_context or {}), "trend": trend})


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, value)]


# -------------------------------------------------------------- experiments
class ExperimentForm(forms.ModelForm):
    """Variants that are not JSON get that one error: the model's checks then ran on the empty
    default and added "Give at least two variants (there are 0)" under it, which was not so."""

    def clean(self) -> dict[str, Any]:
        """A second running experiment is refused in words (the database's constraint said
        "Constraint “one_active_experiment” is violated.")."""
        cleaned = super().clean()
        if cleaned.get("is_active"):
            running = Experiment.objects.filter(is_active=True).exclude(pk=self.instance.pk).first()
            if running is not None:
                self.add_error("is_active", f"“{running.name}” is running: stop it first (at most one experiment "
                                            "runs at a time).")
        return cleaned

    def _post_clean(self) -> None:
        unreadable = list(self._errors.get("variants", []))
        super()._post_clean()
        if unreadable:
            self._errors["variants"] = self.error_class(unreadable)


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    formfield_overrides = {JSONField: {"form_class": StorableJSONField}}
    list_display = ("name", "key", "is_active", "started_at", "stopped_at")
    list_filter = ("is_active",)
    search_fields = ("name", "key")
    readonly_fields = ("started_at", "stopped_at")
    change_form_template = "admin/recommender/experiment/change_form.html"

    def get_readonly_fields(self, request: HttpRequest, obj: Experiment | None = None) -> tuple[str, ...]:
        """Once started, its key and variants stay: a unit's variant is a hash of the key over the
        variants' weights, so a change would move units between variants mid-test and mix their
        figures (start a new experiment instead)."""
        fixed = ("key", "variants") if obj is not None and obj.started_at is not None else ()
        return (*fixed, *super().get_readonly_fields(request, obj))

    def save_model(self, request: HttpRequest, obj: Experiment, form: forms.ModelForm, change: bool) -> None:
        experiment_save(obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict | None = None) -> HttpResponse:
        experiment = self.get_object(request, unquote(object_id))
        if experiment is None:  # a bad or deleted id: stock admin's redirect with its message
            return super().change_view(request, object_id, form_url, extra_context)
        extra = {"report": experiment_results(experiment)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(Promotion)
class PromotionAdmin(LabelledDateTimes, admin.ModelAdmin):
    """The store's featured films: while a promotion runs, each feed shows one of its films at
    its position (see ``recommender.promotions``)."""

    list_display = ("name", "status", "position", "film_count", "starts_at", "ends_at")
    list_filter = ("is_active",)
    search_fields = ("name",)
    autocomplete_fields = ("items",)
    fields = ("name", "items", "position", "starts_at", "ends_at", "is_active", "results")
    readonly_fields = ("results",)

    class Media:
        js = [AUTOCOMPLETE_NAMES]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(film_count=Count("items"))

    @admin.display(description="status")
    def status(self, obj: Promotion) -> str:
        return promotion_status(obj)

    @admin.display(description="films", ordering="film_count")
    def film_count(self, obj: Promotion) -> int:
        return obj.film_count

    @admin.display(description="results")
    def results(self, obj: Promotion) -> str:
        """Its cards shown and clicked, from the events whose context names it (impressions are
        deleted after RECSYS_EVENT_RETENTION_DAYS)."""
        if obj.pk is None:
            return "-"
        counts = dict(tagged_events("promo", obj.pk).filter(kind__in=[EventKind.IMPRESSION, EventKind.CLICK])
                      .values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
        shown, clicked = counts.get(EventKind.IMPRESSION, 0), counts.get(EventKind.CLICK, 0)
        rate = f" ({_percent(clicked / shown)})" if shown else ""
        return f"shown {_times(shown)}, clicked {clicked:,}{rate}"


def _films_matching(query: str) -> list[Item]:
    """Films named by an id, or by (a part of) a title, optionally with its year as the store
    writes it, "Star Wars (1977)"; inactive ones too, the ones for sale and most reviewed first."""
    if id_from_text(query):
        return list(Item.objects.filter(pk=id_from_text(query)))
    titled = TITLE_WITH_YEAR.fullmatch(query)
    found = (Item.objects.filter(title__icontains=titled[1], year=int(titled[2])) if titled
             else Item.objects.filter(title__icontains=query))
    return list(found.order_by("-is_active", "-review_count", "pk")[:WHY_NOT_CHOICES])


admin.site.unregister(get_user_model())


DOWNLOAD_MAX = 200  # accounts per download from the account list


@admin.register(get_user_model())
class AccountWithRecommendationsAdmin(AccountAdmin):
    """The account admin plus each account's **Recommendations** page: the feed the shopper
    gets now, every card explained, and "why not this film?" answered from the same
    computation (:mod:`recommender.diagnosis`). The page records nothing as the shopper: no
    impressions, no events, the feed's cache untouched. The list's action downloads the selected
    shoppers' recommendations as ``manage.py recommend`` writes them."""

    actions = ["download_recommendations"]

    def get_urls(self) -> list:
        opts = self.opts
        return [
            path("<path:object_id>/recommendations/", self.admin_site.admin_view(self.recommendations_view),
                 name=f"{opts.app_label}_{opts.model_name}_recommendations"),
            *super().get_urls(),
        ]

    @admin.action(description="Download their recommendations (CSV, for a mailing)", permissions=["view"])
    def download_recommendations(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """The selected active accounts' feeds as ``manage.py recommend`` writes them, with links
        to this site: up to ``DOWNLOAD_MAX`` accounts at once (about 60 ms a shopper on
        MovieLens-100K, well inside the server's timeout), more through a worker."""
        users = queryset.filter(is_active=True).order_by("pk")
        if users.count() > DOWNLOAD_MAX:
            return self._export_queue(request, list(users.values_list("pk", flat=True)))
        today = timezone.localdate()
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="recommendations-{today:%Y-%m-%d}.csv"'
        batch.export(users, response, campaign=f"admin-{today:%Y%m%d}", base_url=request.build_absolute_uri("/"))
        return response

    def _export_queue(self, request: HttpRequest, ids: list[int]) -> None:
        """More accounts than a request computes: a worker writes the file (Recommendation exports)."""
        if not request.user.has_perm("recommender.add_recommendationexport"):
            self.message_user(request, f"{len(ids):,} active accounts selected: the admin downloads at most "
                                       f"{DOWNLOAD_MAX} at a time, and more need the permission to add "
                                       "recommendation exports. manage.py recommend writes any number.", messages.ERROR)
            return
        job = batch.export_queue(ids, by=request.user, base_url=request.build_absolute_uri("/"))
        page = _export_send(request, job, command="recommend")
        if page is None:
            return
        self.message_user(request, format_html(
            "{} active accounts: a worker is writing their recommendations. <a href=\"{}\">{}</a> offers the file "
            "when it is done.", f"{len(ids):,}", page, job), messages.SUCCESS)

    def recommendations_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404("No such account")
        if not self.has_view_permission(request, user):
            raise PermissionDenied
        feed, trace, context = storefront_feed(user)
        # control characters out (PostgreSQL refuses a NUL in a pattern: a 500), at most a title's length
        query, diagnosis, choices, problem = clean_query(request.GET.get("q", "")[:200]), None, [], ""
        if "item" in request.GET:
            item = Item.objects.filter(pk=id_from_text(request.GET["item"])).first()
            if item is None:
                problem = "No film has that id."
            else:
                diagnosis = why_not(item, user=user, feed=feed, trace=trace, context=context)
                query = item.display_title  # asked again, it finds this film alone
        elif query:
            choices = _films_matching(query)
            if len(choices) == 1:
                diagnosis, choices = why_not(choices[0], user=user, feed=feed, trace=trace, context=context), []
            elif not choices:
                problem = f"No film matches \u201c{query}\u201d."
        version, _model = active_model()
        return TemplateResponse(request, "admin/auth/user/recommendations.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": user,
            "title": f"Recommendations for {user.get_username()}", "feed": feed, "trace": trace,
            "feed_context": context, "version": version, "query": query, "diagnosis": diagnosis,
            "choices": choices, "problem": problem,
            "personalized": trace.state.personalized if trace.state else True,
            "history": {
                "ratings": Review.objects.filter(user=user, is_hidden=False).count(),
                "actions": len(trace.state.anchors) if trace.state else 0,
                "not_interested": len(trace.state.blocked) if trace.state else 0,
            },
        })


@admin.register(RecommendationExport)
class RecommendationExportAdmin(WorkRecordAdmin):
    """Files of shoppers' recommendations for a mailing, written by a worker (started from the
    account list's action for more than ``DOWNLOAD_MAX`` accounts). They name shoppers, so the
    download needs ``auth.view_user`` too; they are deleted after ``batch.EXPORT_KEEP_DAYS``
    days, and with any account they name."""

    list_display = ("export", "created", "created_by", "state", "progress", "download")
    list_filter = ("status",)
    readonly_fields = ("created_at", "finished_at", "created_by", "item", "state", "progress", "progress_at",
                       "recommendations", "not_personalized", "k", "campaign", "base_url", "download", "error")
    exclude = ("user_ids", "done", "total", "file_name", "status")
    actions = ["start_again"]

    @admin.display(description="export", ordering="pk")
    def export(self, obj: RecommendationExport) -> str:
        return f"#{obj.pk}: shoppers for {obj.item.display_title}" if obj.item_id else f"#{obj.pk}"

    @admin.display(description="status", ordering="status")
    def state(self, obj: RecommendationExport) -> str:
        if obj.is_stalled:
            return format_html("stalled: no progress since {}", date_over_time(obj.progress_at))
        return obj.get_status_display()

    def has_restart_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("recommender.add_recommendationexport")

    @admin.action(description="Start again (failed or stalled exports)", permissions=["restart"])
    def start_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        """A failed export, or one whose worker was stopped midway, written again from the start
        by a worker (the same accounts, campaign and links)."""
        started = []
        for job in queryset.order_by("pk"):
            if not batch.export_restart(job):
                continue
            if not batch.export_send(job):
                self.message_user(request, f"Export #{job.pk} not started again: the task queue is unreachable. "
                                           "Try again shortly.", messages.ERROR)
                return
            started.append(f"#{job.pk}")
        skipped = queryset.count() - len(started)
        if started:
            self.message_user(request, f"Started again: {', '.join(started)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} left alone: only a failed export, or a running one without "
                                       f"progress for {STALLED_AFTER.seconds // 60} minutes, starts again.",
                              messages.WARNING)

    @admin.display(description="shoppers")
    def progress(self, obj: RecommendationExport) -> str:
        if obj.item_id:  # a film's audience: up to total shoppers, weighed first, then written
            return f"{obj.done:,} listed" if obj.status == RecommendationExport.Status.DONE else (
                f"{obj.done:,} of at most {obj.total:,} written")
        if obj.status == RecommendationExport.Status.DONE:
            return f"{obj.done:,} ({obj.recommendations:,} recommendations)"
        return f"{obj.done:,} of {obj.total:,} written"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # user_ids: up to every account's id, the worker's only
        return super().get_queryset(request).defer("user_ids").select_related("item", "created_by").with_stalled()

    @admin.display(description="file")
    def download(self, obj: RecommendationExport) -> str:
        if obj.status != RecommendationExport.Status.DONE:
            return "–"
        return format_html('<a href="{}" title="{}">Download CSV</a>',
                           reverse("admin:recommender_recommendationexport_download", args=[obj.pk]), obj.file_name)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [path("<int:pk>/download/", view(self.download_view), name="recommender_recommendationexport_download"),
                path("results/", view(self.results_view), name="recommender_recommendationexport_results"),
                *super().get_urls()]

    def results_view(self, request: HttpRequest) -> TemplateResponse:
        """The mailings' clicks and the purchases that followed (counts only: no shopper named)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "admin/recommender/recommendationexport/results.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "Mailing results",
            "results": mailing_results(), "days": MAILING_DAYS, "within": BOUGHT_WITHIN.days})

    def download_view(self, request: HttpRequest, pk: int) -> FileResponse:
        job = get_object_or_404(RecommendationExport, pk=pk, status=RecommendationExport.Status.DONE)
        if not (self.has_view_permission(request, job) and request.user.has_perm("auth.view_user")):
            raise PermissionDenied
        try:
            return batch.export_download(job)
        except FileNotFoundError:
            raise Http404(batch.FILE_GONE) from None
