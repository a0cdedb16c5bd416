import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.db.models import (
    CharField,
    Count,
    DateTimeField,
    Func,
    JSONField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from catalog import selectors
from catalog.datasets import DatasetError, ItemRecord, items_csv, load_csv
from catalog.forms import StorableJSONField, UniqueUsernameMixin, same_username
from catalog.importing import import_dataset
from catalog.models import (
    ATTRIBUTES_HELP,
    AccountCart,
    CartLine,
    Category,
    Entity,
    Event,
    Item,
    ItemRelation,
    Profile,
    Review,
    ReviewReport,
)


class GenreFilter(admin.SimpleListFilter):
    title = "genre"
    parameter_name = "genre"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(g, g) for g in selectors.genre_list()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.with_genre(self.value()) if self.value() else queryset


class DecadeFilter(admin.SimpleListFilter):
    """Release year by decade: a list of every year (77 on MovieLens) is too long to scan."""

    title = "decade"
    parameter_name = "decade"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        decades = sorted({year // 10 * 10 for year in Item.objects.exclude(year=None).values_list("year", flat=True)
                          .distinct()})
        return [(str(d), f"{d}s") for d in decades] + [("none", "no year")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "none":
            return queryset.filter(year=None)
        if value and value.isascii() and value.isdigit():
            return queryset.filter(year__gte=int(value), year__lt=int(value) + 10)
        return queryset


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


SHARED_NAMES = 3  # films named per fact on an item's admin page; the rest are counted


class LabelledSplitDateTime(AdminSplitDateTime):
    """Django's date and time boxes, each named for screen readers: Django's visible "Date:" and
    "Time:" are plain text beside them, not their labels (axe: "label")."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        for widget, name in zip(self.widgets, (_("Date"), _("Time")), strict=True):
            widget.attrs["aria-label"] = name


class LabelledDateTimes:
    """For a ModelAdmin whose forms edit a date and time."""

    formfield_overrides = {DateTimeField: {"widget": LabelledSplitDateTime}}


class BlankNamedFilter(admin.AllValuesFieldListFilter):
    """A filter on a field's values where a blank value has a name: an empty link otherwise."""

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            yield {**choice, "display": choice["display"] or "(blank)"}


class NamedDeleteFormSet(BaseInlineFormSet):
    """Each saved row's "Delete?" box named after the row for screen readers: Django's has no
    label (the column heading is not one; axe: "label")."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields and form.instance.pk:
            form.fields["DELETE"].widget.attrs["aria-label"] = f"Delete {form.instance}"


AUTOCOMPLETE_NAMES = "js/admin-autocomplete-names.js"  # names autocomplete fields' search boxes (select2 does not)


class PlainRowsInline(admin.TabularInline):
    """A tabular inline without the heading line Django puts above each saved row (the row's
    ``str``), which repeats what the columns show."""

    classes = ("plain-rows",)
    formset = NamedDeleteFormSet

    class Media:
        css = {"all": ["css/admin.css"]}


class ItemRelationInline(PlainRowsInline):
    """The item's knowledge-graph facts in words: the relation's label, the entity (its name, else
    its id: MovieLens' Freebase entities have no names) and the other films with the same fact,
    which is how staff tell who an unnamed entity is. Saved facts are read only (a wrong one is
    deleted and another added): as form rows, each one's entity autocomplete read its entity in
    a query of its own."""

    model = ItemRelation
    extra = 0
    fields = ("relation", "relation_label", "entity", "shared_with")
    readonly_fields = ("relation_label", "shared_with")
    autocomplete_fields = ("entity",)
    show_change_link = False
    _shared: dict[tuple[str, int], selectors.SharedItems] | None = None  # an inline serves one request

    class Media:
        js = [AUTOCOMPLETE_NAMES]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("item", "entity")  # (each row is headed by its str)

    def has_change_permission(self, request: HttpRequest, obj: Item | None = None) -> bool:
        return False  # adding and deleting stay

    @admin.display(description="reads as")
    def relation_label(self, fact: ItemRelation) -> str:
        return selectors.relation_label(fact.relation)

    @admin.display(description="shared with")
    def shared_with(self, fact: ItemRelation) -> str:
        """"3 films: Vertigo (1958), ..." linking to their pages here, the most reviewed first."""
        if fact.pk is None:  # the row being added
            return ""
        if self._shared is None:  # every fact's at once
            self._shared = selectors.item_relations_shared(item=fact.item_id, limit=SHARED_NAMES)
        shared = self._shared.get((fact.relation, fact.entity_id))
        if shared is None:
            return "only this film"
        links = format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:catalog_item_change", args=[item.pk], current_app=self.admin_site.name),
             item.display_title) for item in shared.items))
        more = shared.count - len(shared.items)
        return format_html("{} film{}: {}{}", shared.count, pluralize(shared.count), links,
                           f" and {more} more" if more else "")


ITEM_HELP = {  # the fields whose form said nothing about what they take or do
    "slug": "The item page's address: /items/&lt;slug&gt;/.",
    "description": "Searched and embedded with the title, year, genres, tags and the knowledge-graph facts: "
                   "editing any of them queues a new vector.",
    "genres": "Comma-separated, e.g. Action,Sci-Fi (the genre filters use these exact names).",
    "tags": "Comma-separated words, e.g. space,classic.",
    "attributes": ATTRIBUTES_HELP,
    "image_url": "The poster on cards and the item page; without one the card shows the title's initial.",
    "is_active": "Unticked: hidden from the store, search and recommendations; its history is kept.",
}


IMPORT_MAX_BYTES = 50 * 1024 * 1024


class ItemImportForm(forms.Form):
    items = forms.FileField(label="Items file (CSV)", help_text=(
        "UTF-8 with a header line: item_id and title, and optionally genres (separated by |), description, "
        "price and image_url. At most 50 MB; larger files: manage.py import_ratings --items FILE."))
    namespace = forms.CharField(initial="csv", max_length=40, help_text=(
        "Items are known by namespace:item_id, so importing the same file again updates them instead of "
        "adding copies. Letters, digits and dashes. A file exported here: the name after items-, e.g. ml for "
        "items-ml.csv."))

    def clean_items(self) -> Any:
        upload = self.cleaned_data["items"]
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB: import it with manage.py import_ratings "
                                        "--items FILE.")
        return upload


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "genre_list", "price", "ratings", "is_active", "updated")  # category: a filter
    list_filter = ("is_active", GenreFilter, "category", DecadeFilter)
    search_fields = ("title", "external_id", "description")
    prepopulated_fields = {"slug": ("title",)}
    inlines = (ItemRelationInline,)
    list_per_page = 50
    actions = ("activate", "deactivate", "export_csv")
    readonly_fields = ("ratings",)
    formfield_overrides = {JSONField: {"form_class": StorableJSONField}}

    def get_form(self, request: HttpRequest, obj: Item | None = None, change: bool = False, **kwargs: Any) -> Any:
        return super().get_form(request, obj, change, **{"help_texts": ITEM_HELP, **kwargs})

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """Genres and tags as wide as the title: the default box showed "Action,Adventure,Romanc"."""
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("genres", "tags"):
            field.widget.attrs["class"] = "vTextField"
        return field

    def get_urls(self) -> list:
        return [path("import/", self.admin_site.admin_view(self.import_view), name="catalog_item_import"),
                *super().get_urls()]

    def may_import(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, {"may_import": self.may_import(request), **(extra_context or {})})

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """"Import from CSV" on the items list: the documented items file (docs/DATA.md), read and
        imported as ``manage.py import_ratings --items`` does, in one transaction: a bad file
        imports nothing and the page says which line is wrong."""
        if not self.may_import(request):
            raise PermissionDenied
        form = ItemImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["items"]
            with tempfile.TemporaryDirectory() as folder:
                file = Path(folder) / (Path(upload.name).name or "items.csv")  # errors name the staff's file
                with file.open("wb") as out:
                    for chunk in upload.chunks():
                        out.write(chunk)
                try:
                    report = import_dataset(load_csv(None, file), namespace=form.cleaned_data["namespace"],
                                            progress=False)
                except DatasetError as exc:
                    form.add_error(None, f"Nothing was imported: {exc}.")
                else:
                    created, updated, unchanged = report.counts["items"]
                    self.message_user(request, (
                        f"{created} item{pluralize(created)} created, {updated} updated, {unchanged} unchanged"
                        + (": the new and changed ones are queued for embedding." if created or updated else ".")),
                        messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:catalog_item_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": "Import items from CSV"}
        return TemplateResponse(request, "admin/catalog/item/import.html", context,
                                status=400 if form.errors else 200)

    @admin.display(description="ratings", ordering="-review_count")
    def ratings(self, item: Item) -> str:
        """The visible reviews' mean and count, "★ 4.4 (583)"; a dash when unrated."""
        return f"★ {item.avg_rating:.1f} ({item.review_count})" if item.review_count else "–"

    @admin.action(description="Activate selected items", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, True)

    @admin.action(description="Deactivate selected items (hidden from the store and recommendations)",
                  permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description="Export selected items as CSV (the import's format)", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse | None:
        """The items file, to edit in a spreadsheet and import again (with the namespace in its
        name, so the import updates these items instead of adding copies)."""
        namespaces = sorted(queryset.order_by().annotate(
            namespace=Func("external_id", Value(":"), Value(1), function="split_part", output_field=CharField())
        ).values_list("namespace", flat=True).distinct()[:6])
        if not namespaces:  # deleted meanwhile (the list was older than the selection)
            self.message_user(request, "None of the selected items exists any more: nothing to export.",
                              messages.ERROR)
            return None
        if len(namespaces) != 1:
            self.message_user(request, f"Select items of one source at a time ({', '.join(namespaces)}): an items "
                                       "file has one namespace.", messages.ERROR)
            return None
        records = (ItemRecord(item.external_id.split(":", 1)[1], item.title, item.year, tuple(item.genres),
                              item.description, item.price, item.image_url)
                   for item in queryset.order_by("pk").iterator(chunk_size=2000))
        response = StreamingHttpResponse(items_csv(records), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="items-{namespaces[0]}.csv"'
        return response

    def _set_active(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        changed = 0
        for item in queryset.exclude(is_active=active):
            item.is_active = active
            item.save(update_fields=["is_active", "updated_at"])
            changed += 1
        self.message_user(request, f"{changed} item(s) {'activated' if active else 'deactivated'}.", messages.SUCCESS)

    @admin.display(description="genres")
    def genre_list(self, obj: Item) -> str:
        return ", ".join(obj.genres)

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Item) -> str:
        return date_over_time(obj.updated_at)


@admin.display(description="item", ordering="item__title")
def item_title(obj: Review | Event) -> str:
    """A row's film as a column that wraps: Django never wraps a foreign key's column, and a long
    title ("Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb") pushed the
    columns after it out of view."""
    return obj.item.display_title


def date_over_time(value: datetime | None) -> str:
    """Date over time (a datetime field's column never wraps: at 1400 px the item list was wider
    than its box and the last column, embedding, was cut off)."""
    if value is None:
        return "–"
    when = timezone.localtime(value)
    return format_html('<span class="nowrap">{}</span> <span class="nowrap">{}</span>',
                       formats.date_format(when, "Y-m-d"), formats.time_format(when, "H:i"))


class ReviewTextFilter(admin.SimpleListFilter):
    """Written reviews apart from bare ratings: the texts are what moderators read (MovieLens'
    100,000 ratings have none)."""

    title = "text"
    parameter_name = "text"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "with text"), ("no", "rating only")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(text="")
        if self.value() == "no":
            return queryset.filter(text="")
        return queryset


class ReviewReportFilter(admin.SimpleListFilter):
    """The moderation queue: reviews shoppers reported that are still shown."""

    title = "reports"
    parameter_name = "reports"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("open", "reported, still shown"), ("any", "reported")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("open", "any"):
            return selectors.reviews_reported(queryset, shown_only=self.value() == "open")
        return queryset


class ReviewReportInline(PlainRowsInline):
    """Who reported the review and why; deleting one dismisses it."""

    model = ReviewReport
    fields = ("user", "reason", "note", "created_at")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Review | None = None) -> bool:
        return False


@admin.register(Review)
class ReviewAdmin(LabelledDateTimes, admin.ModelAdmin):
    list_display = (item_title, "user", "rating", "short_text", "is_hidden", "report_column", "created")
    list_filter = (ReviewReportFilter, "is_hidden", ReviewTextFilter, "rating")
    search_fields = ("item__title", "user__username", "text")
    raw_id_fields = ("user", "item")
    list_select_related = ("item", "user")
    inlines = (ReviewReportInline,)
    actions = ("hide", "unhide", "dismiss_reports")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Django's, annotated before it is ordered (the queue orders by the annotation)."""
        count = ReviewReport.objects.filter(review=OuterRef("pk")).values("review").annotate(n=Count("*")).values("n")
        reviews = self.model._default_manager.annotate(report_count=Coalesce(Subquery(count), 0))
        ordering = self.get_ordering(request)
        return reviews.order_by(*ordering) if ordering else reviews

    def get_ordering(self, request: HttpRequest) -> list[str]:
        """The moderation queue (filtered by reports) most reported first."""
        if request.GET.get(ReviewReportFilter.parameter_name):
            return ["-report_count", "-created_at", "-id"]
        return super().get_ordering(request)

    @admin.display(description="reports", ordering="report_count")  # ("reports" is the relation's name)
    def report_column(self, obj: Review) -> int:
        return obj.report_count

    @admin.action(description="Dismiss the reports of selected reviews (they stay shown)", permissions=["change"])
    def dismiss_reports(self, request: HttpRequest, queryset: QuerySet) -> None:
        dismissed, _ = ReviewReport.objects.filter(review__in=queryset).delete()
        self.message_user(request, f"{dismissed} report(s) dismissed.", messages.SUCCESS)

    @admin.action(description="Hide selected reviews (also drops them from embeddings and training)",
                  permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_hidden(request, queryset, True)

    @admin.action(description="Show selected reviews again", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_hidden(request, queryset, False)

    def _set_hidden(self, request: HttpRequest, queryset: QuerySet, hidden: bool) -> None:
        changed = 0
        for review in queryset.exclude(is_hidden=hidden):  # save(): receivers update the vectors
            review.is_hidden = hidden
            review.save(update_fields=["is_hidden", "updated_at"])
            changed += 1
        self.message_user(request, f"{changed} review(s) {'hidden' if hidden else 'shown'}.", messages.SUCCESS)

    @admin.display(description="text")
    def short_text(self, obj: Review) -> str:
        return (obj.text[:80] + "…") if len(obj.text) > 80 else obj.text

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Review) -> str:
        return date_over_time(obj.created_at)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("created", "kind", "user", "session", item_title, "value")
    list_filter = ("kind",)
    search_fields = ("user__username", "session_key", "item__title")
    list_select_related = ("item", "user")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Event) -> str:
        return date_over_time(obj.created_at)

    @admin.display(description="session")
    def session(self, obj: Event) -> str:
        """The key's first 8 characters (enough to tell sessions apart; searching takes the whole
        key): the full 32 pushed the item and value columns out of view at 1440 px."""
        key = obj.session_key
        return format_html('<span title="{}">{}…</span>', key, key[:8]) if len(key) > 8 else key


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "age", "gender", "occupation", "consent", "opted_out")
    list_filter = ("gender", "demographics_consent", "personalization_opt_out", ("occupation", BlankNamedFilter))
    search_fields = ("user__username", "interests")
    raw_id_fields = ("user",)

    # Short headers: "demographics consent" and "personalization opt out" never wrap, and the
    # last was cut off at 1280 px.
    @admin.display(description="consent", boolean=True, ordering="demographics_consent")
    def consent(self, obj: Profile) -> bool:
        return obj.demographics_consent

    @admin.display(description="opted out", boolean=True, ordering="personalization_opt_out")
    def opted_out(self, obj: Profile) -> bool:
        return obj.personalization_opt_out


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name")
    search_fields = ("external_id", "name")


class RelationFilter(admin.SimpleListFilter):
    """The relations in words, as the list shows them."""

    title = "relation"
    parameter_name = "relation"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        relations = ItemRelation.objects.order_by("relation").values_list("relation", flat=True).distinct()
        return [(relation, selectors.relation_label(relation)) for relation in relations]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(relation=self.value()) if self.value() else queryset


@admin.register(ItemRelation)
class ItemRelationAdmin(admin.ModelAdmin):
    list_display = ("item", "relation_label", "entity")
    list_filter = (RelationFilter,)
    search_fields = ("item__title", "entity__external_id", "entity__name")
    raw_id_fields = ("item", "entity")
    list_select_related = ("item", "entity")

    @admin.display(description="relation", ordering="relation")
    def relation_label(self, fact: ItemRelation) -> str:
        return selectors.relation_label(fact.relation)


@admin.register(AccountCart)
class AccountCartAdmin(admin.ModelAdmin):
    """Signed-in shoppers' carts, read only (they change on the storefront and the API): viewing
    needs ``catalog.view_accountcart``. An anonymous shopper's cart is in their session, not here."""

    list_display = ("owner", "films", "updated")
    search_fields = ("username",)
    fields = ("owner", "films", "updated", "lines")
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (super().get_queryset(request)
                .annotate(film_count=Count("cart_lines"), updated_at=Max("cart_lines__added_at"))
                .filter(film_count__gt=0).order_by("-updated_at", "pk"))

    @admin.display(description="owner", ordering="username")
    def owner(self, cart: AccountCart) -> str:
        return cart.get_username()

    @admin.display(description="films", ordering="film_count")
    def films(self, cart: AccountCart) -> int:
        return cart.film_count

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, cart: AccountCart) -> str:
        """When a film was last added (a removal leaves no time behind)."""
        return date_over_time(cart.updated_at)

    @admin.display(description="films in the cart")
    def lines(self, cart: AccountCart) -> str:
        """Oldest first, as the cart lists them; a film the shop stopped selling is marked."""
        rows = CartLine.objects.filter(user=cart).select_related("item")
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}{} <small>(added {})</small></li>", (
            (line.item.display_title, "" if line.item.is_active else " (no longer sold)",
             formats.date_format(timezone.localtime(line.added_at), "Y-m-d H:i")) for line in rows)))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccountCart | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AccountCart | None = None) -> bool:
        return False  # deleting a cart here would delete the account


class AccountChangeForm(UniqueUsernameMixin, UserChangeForm):
    pass


class AccountCreationForm(UniqueUsernameMixin, AdminUserCreationForm):
    pass


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AccountAdmin(LabelledDateTimes, UserAdmin):
    """Django's, with usernames unique in any case on renames too (``UniqueUsernameMixin``)."""

    form = AccountChangeForm
    add_form = AccountCreationForm

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """A save that lost a race for its username (another account took it, in any case, after
        the form was checked; the database's index refused it) is the form again with the usual
        error, not a 500: the second look finds the other account."""
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            username = request.POST.get("username", "") if request.method == "POST" else ""
            if not same_username(username).exclude(pk=object_id).exists():
                raise
            return super().changeform_view(request, object_id, form_url, extra_context)
