"""Personalization endpoints: hybrid search, and the signed-in user's account, history, export and
erasure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model, logout, update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.forms import Form
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from catalog import services
from catalog.api.base import ApiMixin, PkLookupMixin, parse_pk
from catalog.api.serializers import TokenSerializer
from catalog.api.views import SEARCH_MAX_RESULTS, CredentialsView
from catalog.api.views import ItemViewSet as CatalogItemViewSet
from catalog.cart import Cart
from catalog.forms import PasswordResetForm, SignupForm, username_taken
from catalog.models import EventKind, Item, SavedItem
from catalog.selectors import HistoryEntry, saved_list, user_history
from recommender import batch, experiments, privacy, serving
from recommender.api import serializers as s
from recommender.audience import REQUEST_SHOPPERS, audience, audience_campaign
from recommender.diagnosis import why_not
from recommender.models import RecommendationExport
from recommender.selectors import (
    SearchFilters,
    genre_suggestions,
    item_search,
    onboarding_choices,
    search_items,
    title_suggestions,
)
from recsite.api_errors import ErrorSerializer


def check_username_free(username: str, *, user: Any = None) -> None:
    """A 400 on ``username`` when another account has it in any case: sign-up's rule (Django's
    ``UserCreationForm.clean_username``) and its message, for ``PATCH /api/me/`` as well
    (``full_clean`` compares exactly, so "DEMO" became a second "demo")."""
    if taken := username_taken(username, user=user):  # also as the unique index on lower(username) compares
        raise ValidationError({"username": taken.messages})


class StaffWith(permissions.BasePermission):
    """Staff who hold every one of ``perms``; ``StaffWith.of(...)`` makes the class DRF wants."""

    perms: tuple[str, ...] = ()

    @classmethod
    def of(cls, *perms: str) -> type[StaffWith]:
        return type(f"StaffWith({', '.join(perms)})", (cls,), {"perms": perms})

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_staff and request.user.has_perms(self.perms))


CanViewAccounts = StaffWith.of("auth.view_user")  # the answer names shoppers
CanExport = StaffWith.of("auth.view_user", "recommender.add_recommendationexport")
CanViewExports = StaffWith.of("recommender.view_recommendationexport")


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "unavailable"


def _export_send(job: RecommendationExport) -> None:
    """Queue ``job`` for a worker, or 503 saying how to start it again (it is left failed)."""
    if not batch.export_send(job):
        raise Unavailable(f"Export {job.pk} not started: the task queue is unreachable. Start it again with "
                          f"POST /api/exports/{job.pk}/restart/ once the queue is back.")


def _accepted(request: Request, job: RecommendationExport) -> Response:
    """202 with the export (``Location``: where to follow it)."""
    job = RecommendationExport.objects.with_stalled().get(pk=job.pk)
    body = s.RecommendationExportSerializer(job, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": request.build_absolute_uri(reverse("export-detail", args=[job.pk]))})


class ItemViewSet(CatalogItemViewSet):
    """Items; ``?q=`` uses hybrid search (full-text + pgvector); ``/similar/`` explains."""

    def search_ids(self, *, query: str, filters: dict[str, Any]) -> list[int]:
        found = item_search(query=query, k=SEARCH_MAX_RESULTS, filters=SearchFilters.from_params(filters))
        return [item.pk for item, _ in found]

    @extend_schema(parameters=[s.SimilarParams], responses={200: s.RecommendationsResponseSerializer})
    @action(detail=True, methods=["get"], pagination_class=None)
    def similar(self, request: Request, pk: str | None = None) -> Response:
        """Items similar to this one (content, knowledge graph, co-rating), each explained."""
        return self._item_row(request, "similar", serving.similar_items)

    @extend_schema(parameters=[s.SimilarParams], responses={200: s.RecommendationsResponseSerializer})
    @action(detail=True, methods=["get"], url_path="also-liked", pagination_class=None)
    def also_liked(self, request: Request, pk: str | None = None) -> Response:
        """What the people who rated this item 4 stars or more also rated that well (co-rating
        with shrinkage): the item page's second row."""
        return self._item_row(request, "also_liked", serving.also_liked)

    def _item_row(self, request: Request, key: str, recommend: Callable[..., list[serving.Recommendation]]
                  ) -> Response:
        item = self.get_object()
        params = s.SimilarParams.parse(request)
        user = request.user if request.user.is_authenticated else None
        context = serving.FeedContext(session_key=request.session.session_key or "")
        recs = recommend(item, k=params["k"], user=user, context=context)
        return Response(_recommendations(serving.Row(key, "", recs), context, user))

    @extend_schema(request=None, responses={200: s.RatingPredictionSerializer})
    @action(detail=True, methods=["get"], url_path="predicted-rating", pagination_class=None,
            permission_classes=[permissions.IsAuthenticated])
    def predicted_rating(self, request: Request, pk: str | None = None) -> Response:
        """The stars the rating model (BPMF) expects you to give this item, from your live history."""
        item = self.get_object()
        context = serving.FeedContext(session_key=request.session.session_key or "")
        prediction = serving.predicted_rating(request.user, item, context)
        return Response(s.RatingPredictionSerializer({
            "item": item.pk, "predicted_rating": prediction.rating, "ratings_given": prediction.ratings_given,
            "reason": prediction.reason}).data)

    @extend_schema(parameters=[s.AudienceParams], responses={200: s.AudienceResponseSerializer})
    @action(detail=True, methods=["get"], pagination_class=None,
            permission_classes=[permissions.IsAuthenticated, CanViewAccounts])
    def audience(self, request: Request, pk: str | None = None) -> Response:
        """Staff: the shoppers most likely to want this item, for a mailing about it (the item
        admin's "Shoppers for this film"): where it would stand in each one's list, the reason
        their feed would give, and a link tracked as the campaign ``audience-<item>-<date>``."""
        item = self.get_object()
        params = s.AudienceParams.parse(request)
        campaign = audience_campaign(item)
        found = audience(item, limit=params["limit"], campaign=campaign, most_shoppers=REQUEST_SHOPPERS)
        return Response(s.AudienceResponseSerializer({
            "item": item, "version": found.version, "campaign": campaign, "weighed": found.weighed,
            "left_out": found.left_out, "new": found.new, "note": found.note, "count": len(found.fans),
            "fans": found.fans}).data)

    @extend_schema(request=s.AudienceExportSerializer,
                   responses={202: s.RecommendationExportSerializer, 503: ErrorSerializer})
    @audience.mapping.post
    def audience_export(self, request: Request, pk: str | None = None) -> Response:
        """Staff who may export: have a worker write this item's audience to a CSV file, up to
        ``limit`` shoppers, for a model of any size (``GET`` weighs at most 3,000). 202 with the
        export; follow it at ``Location`` and download its ``file`` once it is done."""
        item = self.get_object()
        body = s.AudienceExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = batch.audience_queue(item, body.validated_data["limit"], by=request.user,
                                   base_url=request.build_absolute_uri("/"))
        _export_send(job)
        return _accepted(request, job)

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "audience_export":
            return [permissions.IsAuthenticated(), CanExport()]
        return super().get_permissions()


class ExportViewSet(PkLookupMixin, ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Staff: the files of shoppers workers write (a film's audience, accounts' recommendations),
    newest first, as the admin's Recommendation exports list them. A file names shoppers, so
    downloading it needs the accounts' view permission too."""

    serializer_class = s.RecommendationExportSerializer
    permission_classes = [permissions.IsAuthenticated, CanViewExports]

    def get_queryset(self) -> QuerySet[RecommendationExport]:
        return RecommendationExport.objects.with_stalled().defer("user_ids")

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], permission_classes=[permissions.IsAuthenticated, CanViewExports,
                                                              CanViewAccounts])
    def file(self, request: Request, pk: str | None = None) -> FileResponse:
        """The export's CSV, once it is done (404 before, or when the file was deleted)."""
        job = self.get_object()
        if job.status != RecommendationExport.Status.DONE:
            why = "it failed" if job.status == RecommendationExport.Status.FAILED else "it is not written yet"
            raise NotFound(f"Export {job.pk} has no file: {why}.")
        try:
            return batch.export_download(job)
        except FileNotFoundError:
            raise NotFound(batch.FILE_GONE) from None

    @extend_schema(request=None,
                   responses={202: s.RecommendationExportSerializer, 409: ErrorSerializer, 503: ErrorSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated, CanExport])
    def restart(self, request: Request, pk: str | None = None) -> Response:
        """Write a failed export, or a stalled one (its worker stopped), again from the start:
        the same shoppers, campaign and links. 409 for one that is pending, running or done."""
        job = self.get_object()
        if not batch.export_restart(job):
            raise Conflict(f"Export {job.pk} is {job.get_status_display().lower()}: only a failed or stalled "
                           "export starts again.")
        _export_send(job)
        return _accepted(request, job)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _recommendations(row: serving.Row, context: serving.FeedContext, user: Any) -> dict[str, Any]:
    serving.track([row], context)
    return s.RecommendationsResponseSerializer({
        **_tracked(context, user), "count": len(row.items), "refine": serving.refine_summary(context, row.items),
        "results": row.items,
    }).data


def _tracked(context: serving.FeedContext, user: Any) -> dict[str, Any]:
    """The fields every explained response starts with: its request id, whose it is, and the A/B
    experiment variant it was served under."""
    experiment = {"key": context.experiment, "variant": context.variant} if context.experiment else None
    return {"request_id": context.request_id, "user": user.get_username() if user else None,
            "experiment": experiment}


class OpenReadView(ApiMixin, GenericAPIView):
    """A GET anyone may call (anonymous clients too), answered in one unpaginated body."""

    permission_classes = [permissions.AllowAny]
    pagination_class = None


class RecommendationsView(OpenReadView):
    """Explained recommendations for the current user, an anonymous session, or (staff) any user."""

    serializer_class = s.RecommendationsResponseSerializer

    @extend_schema(parameters=[s.RecommendationParams], responses={200: s.RecommendationsResponseSerializer})
    def get(self, request: Request) -> Response:
        params = s.RecommendationParams.parse(request)
        user, context = _feed_request(request, params)
        recs = serving.feed_for_user(user, k=params["k"], context=context)
        return Response(_recommendations(serving.Row("for_you", "", recs), context, user))


class WhyNotView(OpenReadView):
    """Why an item is, or is not, in the feed ``GET /api/recommendations/`` gives for the same
    parameters: read off that feed's own computation (``recommender.diagnosis``)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.WhyNotResponseSerializer

    @extend_schema(parameters=[s.WhyNotParams], responses={200: s.WhyNotResponseSerializer})
    def get(self, request: Request) -> Response:
        params = s.WhyNotParams.parse(request)
        user, context = _feed_request(request, params)
        items = Item.objects.all() if request.user.is_staff else Item.objects.active()  # as /api/items/ shows them
        item = items.filter(pk=params["item"]).first()
        if item is None:
            raise ValidationError({"item": "No item with this id."})
        feed, trace = serving.feed_traced(user, k=params["k"], context=context)
        found = why_not(item, user=user, feed=feed, trace=trace, context=context)
        return Response(s.WhyNotResponseSerializer({
            **_tracked(context, user), **vars(found), "feed": [rec.item.pk for rec in feed]}).data)


def _feed_request(request: Request, params: dict[str, Any]) -> tuple[Any, serving.FeedContext]:
    """(whose feed, its context) of a recommendations request: the caller's own, or (staff, with
    ``user``) any user's."""
    user = request.user if request.user.is_authenticated else None
    if params.get("user") is not None:
        if not (user and user.is_staff):
            raise PermissionDenied("Only staff may ask for another user's recommendations.")
        user = get_user_model().objects.filter(pk=params["user"]).first()
        if user is None:
            raise ValidationError({"user": "No user with this id."})
    return user, _feed_context(request, params, user, exclude=set(params.get("exclude") or []),
                               genre=params.get("genre") or None, diversity=params.get("diversity"))


def _feed_context(request: Request, params: dict[str, Any], user: Any, **options: Any) -> serving.FeedContext:
    """A feed request's context: the refine text, and when the feed is the caller's own, the events
    of the caller's session (or of the ``session_key`` an anonymous client names) and the running
    A/B experiment's variant, unless the request set a parameter the variant sets (staff looking
    at another user's feed are outside experiments)."""
    own = user is None or user == request.user
    session = params.get("session_key") or (request.session.session_key or "")
    context = serving.FeedContext(session_key=session if own else "", refine=params.get("refine") or "", **options)
    if own:
        experiments.apply(context, user, chosen={name for name, value in options.items() if value is not None})
    return context


class HomeView(OpenReadView):
    """The storefront's home page as data: the explained feed, "because you viewed" the session's
    last film, trending and new arrivals, each row without the films of the rows above."""

    serializer_class = s.RowsResponseSerializer

    @extend_schema(parameters=[s.HomeParams], responses={200: s.RowsResponseSerializer})
    def get(self, request: Request) -> Response:
        params = s.HomeParams.parse(request)
        user = request.user if request.user.is_authenticated else None
        context = _feed_context(request, params, user)
        rows = serving.home_rows(user, context, k=params["k"])
        serving.track(rows, context)
        return Response(s.RowsResponseSerializer({
            **_tracked(context, user), "refine": serving.refine_summary(context, rows[0].items), "rows": rows,
        }).data)


def _goes_with(request: Request, rows_of: Callable[..., list[serving.Row]]) -> Response:
    """A page's "goes well with" row as data: ``rows_of(user, context, k)`` makes it."""
    params = s.SimilarParams.parse(request)
    user = request.user if request.user.is_authenticated else None
    context = serving.FeedContext(session_key=request.session.session_key or "")
    rows = rows_of(user, context, params["k"])
    serving.track(rows, context)
    return Response(s.RowsResponseSerializer({**_tracked(context, user), "rows": rows}).data)


class CartSuggestionsView(OpenReadView):
    """The cart page's row as data: films that go well with the cart's last three, each explained
    by its own; no rows for an empty cart."""

    serializer_class = s.RowsResponseSerializer

    @extend_schema(parameters=[s.SimilarParams], responses={200: s.RowsResponseSerializer})
    def get(self, request: Request) -> Response:
        cart = Cart.of(request).items()
        return _goes_with(request, lambda user, context, k: serving.goes_with_rows(cart, user, context, k))


class SearchView(OpenReadView):
    """Hybrid search: full-text rank and embedding similarity, fused."""

    serializer_class = s.SearchResponseSerializer

    @extend_schema(parameters=[s.SearchParams], responses={200: s.SearchResponseSerializer})
    def get(self, request: Request) -> Response:
        params = s.SearchParams.parse(request)
        outcome = search_items(query=params["q"], k=params["k"], filters=SearchFilters.from_params(params))
        return Response(s.SearchResponseSerializer({
            "query": params["q"], "corrected": outcome.corrected, "count": len(outcome.results),
            "matches": outcome.matches,
            "results": [{"item": item, "score": score, "related": n >= outcome.matches}
                        for n, (item, score) in enumerate(outcome.results)],
        }).data)


class SuggestView(OpenReadView):
    """Title suggestions as the shopper types: every word in the title, the last as a prefix."""

    serializer_class = s.SuggestResponseSerializer

    @extend_schema(parameters=[s.SuggestParams], responses={200: s.SuggestResponseSerializer})
    def get(self, request: Request) -> Response:
        params = s.SuggestParams.parse(request)
        items = title_suggestions(prefix=params["q"], k=params["k"])
        return Response(s.SuggestResponseSerializer({
            "query": params["q"], "genres": genre_suggestions(prefix=params["q"]), "results": items,
        }).data)


def _form_errors(form: Form, rename: dict[str, str]) -> ValidationError:
    """A Django form's errors as the API's 400, under the API's field names (the password a form
    asks for twice is one field in the API)."""
    errors: dict[str, list[str]] = {}
    for field, messages in form.errors.items():
        errors.setdefault(rename.get(field, field), []).extend(messages)
    return ValidationError(errors)


class PasswordResetView(CredentialsView):
    """Mail a link to choose a new password to the accounts with this email (the storefront's
    "Forgot your password?"; the link opens its page). The answer is the same whether or not an
    account has the address, so it tells no one who is a customer. Throttled: the ``login`` rate."""

    serializer_class = s.PasswordResetSerializer

    @extend_schema(request=s.PasswordResetSerializer, responses={202: s.DetailSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = PasswordResetForm(data=serializer.validated_data)
        form.is_valid()  # true: the serializer checked the address; this fills cleaned_data for save()
        form.save(request=request._request, use_https=request.is_secure())
        return Response({"detail": "If an account has this address, a link to choose a new password is on its way."},
                        status=status.HTTP_202_ACCEPTED)


class SignupView(CredentialsView):
    """Create an account (the storefront's sign-up form, its checks included) and get its API
    token; throttled like ``/api/auth/token/`` (the ``login`` rate)."""

    serializer_class = s.SignupResultSerializer

    @extend_schema(request=s.SignupSerializer, responses={201: s.SignupResultSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        password = data["password"]
        form = SignupForm(data={"username": data["username"], "password1": password, "password2": password,
                                "interests": data.get("interests", ""), "email": data.get("email", "")})
        if not form.is_valid():
            raise _form_errors(form, {"password1": "password", "password2": "password"})
        with transaction.atomic():  # a username taken meanwhile: form.save's ValidationError, a 400 on username
            user = form.save()
            token = Token.objects.create(user=user)
            services.visit_claim(user=user, session_key=data["session_key"])
        return Response({"token": token.key, "user": s.MeSerializer(user).data}, status=status.HTTP_201_CREATED)


class MeOnboardingView(ApiMixin, GenericAPIView):
    """A new account's first picks: ``GET`` the films to offer, ``POST`` the ones the shopper likes
    (recorded as strong positive signals, as on the storefront's onboarding page)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.OnboardingSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        profile = services.profile_get(user=request.user)
        choices = onboarding_choices(interests=profile.interests)
        return Response(s.OnboardingSerializer(
            {"onboarded": profile.onboarded, "interests": profile.interests, "choices": choices}).data)

    @extend_schema(request=s.OnboardingPicksSerializer, responses={200: s.OnboardingSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.OnboardingPicksSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        picks = serializer.validated_data["picks"]
        found = Item.objects.active().in_bulk(set(picks))
        # numbered as sent: [50, 50, <bad>] names picks.2
        missing = {f"picks.{n}": ["No active item with this id."] for n, pk in enumerate(picks) if pk not in found}
        if missing:
            raise ValidationError(missing)
        services.onboarding_complete(user=request.user, items=[found[pk] for pk in dict.fromkeys(picks)])
        return self.get(request)


class MeView(ApiMixin, GenericAPIView):
    """The signed-in user: account and profile; DELETE erases the account and its data."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.MeSerializer
    pagination_class = None

    def _me(self, request: Request) -> Response:
        services.profile_get(user=request.user)  # also what ``request.user.profile`` reads
        return Response(s.MeSerializer(request.user).data)

    def get(self, request: Request) -> Response:
        return self._me(request)

    @extend_schema(request=s.MeUpdateSerializer, responses={200: s.MeSerializer})
    def patch(self, request: Request) -> Response:
        user = request.user
        serializer = s.MeUpdateSerializer(data=request.data, context={"profile": services.profile_get(user=user)})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with transaction.atomic():
            if "username" in data and data["username"] != user.username:
                check_username_free(data["username"], user=user)
                user.username = data["username"]
                user.full_clean(exclude=["password"])
                try:
                    with transaction.atomic():
                        user.save(update_fields=["username"])
                except IntegrityError:  # taken by a concurrent request since full_clean looked
                    check_username_free(user.username, user=user)  # which it now reports: a 400 on username
                    raise
            if "email" in data:
                user.email = data["email"]
                user.save(update_fields=["email"])
            if data.get("profile"):
                services.profile_update(user=user, **data["profile"])
        return self._me(request)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        session_key = request.session.session_key if hasattr(request, "session") else None
        privacy.user_erase(user=request.user, session_keys=[session_key] if session_key else [])
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MePasswordView(ApiMixin, GenericAPIView):
    """Change the signed-in user's password: the current one, then the new one (the site's
    password validators check it). Other browser sessions are signed out, and the API token is
    replaced: the response holds the new one. Throttled like ``/api/auth/token/``."""

    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
    serializer_class = s.PasswordChangeSerializer

    @extend_schema(request=s.PasswordChangeSerializer, responses={200: TokenSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = serializer.validated_data["new_password"]
        form = PasswordChangeForm(request.user, {"old_password": serializer.validated_data["old_password"],
                                                 "new_password1": new, "new_password2": new})
        if not form.is_valid():
            raise _form_errors(form, {"new_password1": "new_password", "new_password2": "new_password"})
        with transaction.atomic():
            form.save()  # signs the account's apps out (services.password_saved)
            token = Token.objects.create(user=request.user)
        update_session_auth_hash(request._request, request.user)  # this session stays signed in
        return Response({"token": token.key})


class MeTokenView(ApiMixin, GenericAPIView):
    """Sign the account's apps out: ``DELETE`` revokes the API token (the one this request may
    carry too). The next ``POST /api/auth/token/`` issues a new one. Browser sessions stay."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        services.api_tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeListView(ApiMixin, ListAPIView):
    """The signed-in user's list ("My list"): films saved to watch or buy later, the latest first.
    Films the shop no longer sells are left out (they come back if it sells them again)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.SavedEntrySerializer

    def get_queryset(self) -> QuerySet[SavedItem]:
        return saved_list(user=self.request.user)

    @extend_schema(
        request=s.SavedAddSerializer, responses={201: s.SavedEntrySerializer, 200: s.SavedEntrySerializer},
        description=f"Saves an active item (201) and records a `save` event, which the user's next feed reads "
                    f"as interest; an item already on the list is a 200 that changes nothing. A list holds at "
                    f"most {services.SAVED_MAX_ITEMS} items (then a 400).",
    )
    def post(self, request: Request) -> Response:
        serializer = s.SavedAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = Item.objects.active().filter(pk=serializer.validated_data["item"]).first()
        if item is None:
            raise ValidationError({"item": "No active item with this id."})
        entry, added = services.saved_add(user=request.user, item=item, context={"src": "api"})
        entry.item = item  # the active item just read (an entry found on the list has only its id)
        return Response(s.SavedEntrySerializer(entry).data,
                        status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


class MeListItemView(ApiMixin, GenericAPIView):
    """One film of the signed-in user's list: ``GET`` says whether it is on it (200, or 404);
    ``DELETE`` takes it off (its ``save`` event stays)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.SavedEntrySerializer
    pagination_class = None

    def get(self, request: Request, item_id: str) -> Response:
        entry = saved_list(user=request.user).filter(item_id=parse_pk(item_id)).first()
        if entry is None:
            raise NotFound("This item is not on your list.")
        return Response(s.SavedEntrySerializer(entry).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, item_id: str) -> Response:
        item = Item.objects.filter(pk=parse_pk(item_id)).first()
        if item is None or not services.saved_remove(user=request.user, item=item):
            raise NotFound("This item is not on your list.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeListSuggestionsView(ApiMixin, GenericAPIView):
    """My list's row as data: films like the three saved last, each explained by its own; no rows
    for an empty list."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.RowsResponseSerializer
    pagination_class = None

    @extend_schema(parameters=[s.SimilarParams], responses={200: s.RowsResponseSerializer})
    def get(self, request: Request) -> Response:
        return _goes_with(request, serving.saved_rows)


class MeExportView(ApiMixin, GenericAPIView):
    """Everything stored about the signed-in user, as JSON."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.ExportSerializer
    pagination_class = None

    def get(self, request: Request) -> Response:
        return Response(privacy.user_export(user=request.user))


class MeHistoryView(ApiMixin, ListAPIView):
    """Every item the signed-in user rated, acted on or excluded from their recommendations, most
    recent first, and whether it is used for their recommendations."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.HistoryEntrySerializer

    def get_queryset(self) -> list[HistoryEntry]:
        return user_history(user=self.request.user)


class MeHistoryItemView(ApiMixin, GenericAPIView):
    """One item of the signed-in user's history. PATCH ``used_for_recommendations: false`` stops
    using it for their recommendations at once (any catalogue item may be excluded in advance);
    ``true`` uses it again. ``not_interested: false`` shows a film marked "not interested" again,
    ``true`` marks it."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = s.HistoryEntrySerializer
    pagination_class = None

    def _item(self, item_id: str) -> Item:
        item = Item.objects.filter(pk=parse_pk(item_id)).first()
        if item is None:
            raise NotFound("No such item.")
        return item

    def get(self, request: Request, item_id: str) -> Response:
        found = user_history(user=request.user, item_ids=[self._item(item_id).pk])
        if not found:
            raise NotFound("This item is not in your history.")
        return Response(s.HistoryEntrySerializer(found[0]).data)

    @extend_schema(request=s.HistoryUpdateSerializer, responses={200: s.HistoryEntrySerializer})
    def patch(self, request: Request, item_id: str) -> Response:
        item = self._item(item_id)
        serializer = s.HistoryUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wanted = serializer.validated_data
        with transaction.atomic():
            if "used_for_recommendations" in wanted:
                services.history_use(user=request.user, item=item, used=wanted["used_for_recommendations"])
            if "not_interested" in wanted:
                found = user_history(user=request.user, item_ids=[item.pk])
                hidden = bool(found) and found[0].not_interested
                if wanted["not_interested"] != hidden:  # an event only when it changes
                    kind = EventKind.SHOW_AGAIN if hidden else EventKind.NOT_INTERESTED
                    services.event_record(user=request.user, item=item, kind=kind, context={"source": "history"})
        found = user_history(user=request.user, item_ids=[item.pk])
        return Response(s.HistoryEntrySerializer(found[0] if found else HistoryEntry(item, None)).data)
