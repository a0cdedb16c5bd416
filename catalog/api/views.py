"""Catalog endpoints: thin views over ``catalog.services`` (writes) and ``catalog.selectors`` (reads)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import ScopedRateThrottle

from catalog import selectors, services
from catalog.api import serializers as s
from catalog.api.base import ApiMixin, PkLookupMixin, parse_pk
from catalog.cart import CART_MAX_ITEMS, Cart, cart_total
from catalog.datasets import Dataset, ItemRecord
from catalog.importing import import_dataset
from catalog.models import Category, Event, Item, Review

SEARCH_MAX_RESULTS = 100


class IsStaffOrReadOnly(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)


class IsOwnerOrReadOnly(permissions.BasePermission):
    def has_object_permission(self, request: Request, view: Any, obj: Review) -> bool:
        return request.method in permissions.SAFE_METHODS or obj.user_id == request.user.pk


class CategoryViewSet(PkLookupMixin, ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Categories of the catalog."""

    queryset = Category.objects.all()
    serializer_class = s.CategorySerializer


class ItemViewSet(PkLookupMixin, ApiMixin, viewsets.ModelViewSet):
    """Items: anyone reads active items; staff create, update and deactivate them."""

    serializer_class = s.ItemSerializer
    # IsAuthenticatedOrReadOnly first: the same answers, and the schema then says reads are anonymous
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsStaffOrReadOnly]

    def get_serializer_class(self) -> type[s.ItemSerializer]:
        return s.ItemDetailSerializer if self.action == "retrieve" else s.ItemSerializer

    def get_queryset(self) -> QuerySet[Item]:
        staff = bool(self.request.user and self.request.user.is_staff)
        return selectors.item_list(include_inactive=staff).select_related("category").order_by("title", "id")

    def search_ids(self, *, query: str, filters: dict[str, Any]) -> list[int]:
        """Ids of items matching ``query``, best first. ``recommender.api`` overrides this with
        hybrid search; the catalog alone matches titles."""
        items = selectors.SearchFilters.from_params(filters).apply(Item.objects.active()).filter(title__icontains=query)
        return list(items.values_list("pk", flat=True)[:SEARCH_MAX_RESULTS])

    @extend_schema(parameters=[s.ItemFilters])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = s.ItemFilters.parse(request)
        query = (filters.get("q") or "").strip()
        if not query:
            items = selectors.SearchFilters.from_params(filters).apply(self.get_queryset())
            return self._paginated(selectors.item_sort(items, filters["sort"]) if filters.get("sort") else items)
        ids = self.search_ids(query=query, filters=filters)
        by_pk = self.get_queryset().in_bulk(ids)
        return self._paginated([by_pk[pk] for pk in ids if pk in by_pk])

    def _paginated(self, items: QuerySet[Item] | list[Item]) -> Response:
        page = self.paginate_queryset(items)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def _item_response(self, item: Item, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=item.pk)).data, status=code)

    @extend_schema(request=s.ItemWriteSerializer, responses={201: s.ItemSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.ItemWriteSerializer(data=request.data))
        return self._item_response(services.item_create(**data), status.HTTP_201_CREATED)

    @extend_schema(request=s.ItemWriteSerializer, responses={200: s.ItemSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        data = _valid(s.ItemWriteSerializer(data=request.data, partial=kwargs.get("partial", False)))
        data.pop("external_id", None)
        return self._item_response(services.item_update(item=item, **data))

    @extend_schema(request=s.ItemWriteSerializer, responses={200: s.ItemSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    @extend_schema(request=s.ItemImportSerializer, responses={200: s.ItemImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_items(self, request: Request) -> Response:
        """Staff: create or update up to 10,000 items at once, by ``namespace:item_id`` (a shop's
        catalogue sync; the admin's CSV import and ``manage.py import_ratings --items`` do the
        same). One transaction: a bad item is a 400 naming it, and nothing is imported. New and
        changed items are queued for embedding."""
        data = _valid(s.ItemImportSerializer(data=request.data))
        records = {}
        for row in map(dict, data["items"]):  # the fields are ItemRecord's, but for item_id
            item_id = row.pop("item_id")
            records[item_id] = ItemRecord(external_id=item_id, genres=tuple(row.pop("genres", ())), **row)
        report = import_dataset(Dataset(name=data["namespace"], ratings=[], items=records),
                                namespace=data["namespace"], progress=False)
        created, updated, unchanged = report.counts["items"]
        return Response({"created": created, "updated": updated, "unchanged": unchanged})

    @extend_schema(description="Deactivates the item (it stays for history, reviews and events).")
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.item_update(item=self.get_object(), is_active=False)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer: BaseSerializer) -> dict[str, Any]:
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class ReviewViewSet(
    PkLookupMixin, ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
    mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet,
):
    """Reviews: anyone reads visible ones; a signed-in user writes one per item and changes
    only their own."""

    serializer_class = s.ReviewSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerOrReadOnly]

    def get_queryset(self) -> QuerySet[Review]:
        visible = Q(is_hidden=False)
        if self.request.user.is_authenticated:
            visible |= Q(user=self.request.user)
        return Review.objects.filter(visible).select_related("user")

    @extend_schema(parameters=[s.ReviewFilters])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        filters = s.ReviewFilters.parse(request)
        if filters["mine"] and not request.user.is_authenticated:
            raise NotAuthenticated()
        if filters.get("item") is not None:
            item = Item.objects.filter(pk=filters["item"]).first()
            if item is None:
                raise ValidationError({"item": "No item with this id."})
            reviews = selectors.item_reviews(item=item, written=filters["written"])
        else:
            reviews = Review.objects.filter(is_hidden=False).select_related("user")
            if filters["written"]:
                reviews = reviews.exclude(text="")
        if filters["mine"]:
            reviews = reviews.filter(user=request.user)
        page = self.paginate_queryset(reviews)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=s.ReviewCreateSerializer, responses={201: s.ReviewSerializer},
        description="One review per user and item: reviewing an item again is a 400 naming the existing review.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.ReviewCreateSerializer(data=request.data))
        item = Item.objects.active().filter(pk=data["item"]).first()
        if item is None:
            raise ValidationError({"item": "No active item with this id."})
        existing = Review.objects.filter(user=request.user, item=item).values_list("pk", flat=True).first()
        if existing is None:
            try:
                review = services.review_save(user=request.user, item=item, rating=data["rating"],
                                              text=data.get("text"))
            except IntegrityError:  # a concurrent request created it first
                existing = Review.objects.get(user=request.user, item=item).pk
            else:
                return Response(self.get_serializer(review).data, status=status.HTTP_201_CREATED)
        raise ValidationError({"item": f"You already reviewed this item (review {existing}); "
                                       f"change it with PATCH /api/reviews/{existing}/."})

    @extend_schema(request=s.ReviewUpdateSerializer, responses={200: s.ReviewSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        review = self.get_object()
        data = _valid(s.ReviewUpdateSerializer(data=request.data, partial=kwargs.get("partial", False)))
        review = services.review_update(review=review, rating=data.get("rating"), text=data.get("text"))
        return Response(self.get_serializer(review).data)

    @extend_schema(request=s.ReviewUpdateSerializer, responses={200: s.ReviewSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)

    def perform_destroy(self, instance: Review) -> None:
        services.review_delete(review=instance)

    @extend_schema(request=s.ReviewReportSerializer, responses={201: s.ReviewReportSerializer,
                                                                200: s.ReviewReportSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def report(self, request: Request, pk: str | None = None) -> Response:
        """Report someone else's review to the moderators (spam, abuse, spoilers...): 201. One
        report per user and review: reporting it again changes the reason and note (200). One's
        own review is a 400 on ``review``."""
        review = self.get_object()
        data = _valid(s.ReviewReportSerializer(data=request.data))
        report, created = services.review_report(user=request.user, review=review, reason=data["reason"],
                                                 note=data["note"])
        return Response(s.ReviewReportSerializer(report).data, status=status.HTTP_201_CREATED if created else 200)


def scoped_key(request: Request, session_key: str, key: str) -> str:
    """Idempotency keys are per actor (user, else session): one client cannot claim another's."""
    actor = f"u{request.user.pk}" if request.user.is_authenticated else f"s{session_key}"
    return f"{hashlib.sha256(actor.encode()).hexdigest()[:16]}:{key}"


class EventBatchView(ApiMixin, GenericAPIView):
    """Record a batch of activity events (anyone; anonymous events are tied to a session)."""

    permission_classes = [permissions.AllowAny]
    serializer_class = s.EventBatchSerializer

    @extend_schema(
        request=s.EventBatchSerializer, responses={200: s.EventBatchResultSerializer},
        description=(
            f"Up to {s.EVENTS_PER_REQUEST} events. All or nothing: a 400 records none. A retried event "
            "(same idempotency_key from the same user or session) is not recorded twice: its status is "
            "`duplicate`; a key already used for another event is a 400. Anonymous events use `session_key`, "
            "else the request's session (created if needed)."
        ),
    )
    def post(self, request: Request) -> Response:
        events = _valid(s.EventBatchSerializer(data=request.data))["events"]
        items = Item.objects.active().in_bulk({event["item"] for event in events})  # not what the shop stopped selling
        missing = {f"events.{i}.item": ["No active item with this id."]
                   for i, event in enumerate(events) if event["item"] not in items}
        if missing:
            raise ValidationError(missing)
        user = request.user if request.user.is_authenticated else None
        fallback = ""
        if user is None and not all(event["session_key"] for event in events):
            fallback = services.session_key_of(request.session)
        results = []
        with transaction.atomic():
            for n, event in enumerate(events):
                session_key = event["session_key"] or fallback
                key = scoped_key(request, session_key, event["idempotency_key"])
                try:
                    with transaction.atomic():
                        stored, created = services.event_record(
                            item=items[event["item"]], kind=event["kind"], user=user, session_key=session_key,
                            value=event["value"], context=event["context"], idempotency_key=key,
                        )
                except IntegrityError:  # the same key committed by a concurrent request
                    stored = Event.objects.filter(idempotency_key=key).first()
                    if stored is None:
                        raise
                    created = False
                if (stored.item_id, stored.kind, stored.value) != (event["item"], event["kind"], event["value"]):
                    # a retry repeats its event; another event under the key would be dropped silently
                    raise ValidationError({f"events.{n}.idempotency_key": [
                        f"Already used for another event ({stored.kind} of item {stored.item_id}): give each "
                        "event its own key."]})
                results.append({"idempotency_key": event["idempotency_key"],
                                "status": "created" if created else "duplicate"})
        created_count = sum(r["status"] == "created" for r in results)
        return Response({"created": created_count, "duplicates": len(results) - created_count, "results": results})


def _cart_body(items: list[Item]) -> dict[str, Any]:
    return {"items": s.CartItemSerializer(items, many=True).data, "count": len(items), "total": cart_total(items)}


class CartView(ApiMixin, GenericAPIView):
    """The shopper's cart: a signed-in user's is kept with the account (the storefront on any
    device shows the same one); an anonymous client's lives in its session, so keep the cookie."""

    permission_classes = [permissions.AllowAny]
    serializer_class = s.CartSerializer

    def get(self, request: Request) -> Response:
        return Response(_cart_body(Cart.of(request).items()))

    @extend_schema(
        request=s.CartAddSerializer, responses={201: s.CartSerializer, 200: s.CartSerializer},
        description=f"Adds an item (201) and records an `add_to_cart` event; an item already in the cart is a "
                    f"200 that changes nothing. A cart holds at most {CART_MAX_ITEMS} items (then a 400).",
    )
    def post(self, request: Request) -> Response:
        data = _valid(s.CartAddSerializer(data=request.data))
        item = Item.objects.active().filter(pk=data["item"]).first()
        if item is None:
            raise ValidationError({"item": "No active item with this id."})
        shopper = Cart.of(request)
        added = shopper.add(item, context={"src": "api"})
        return Response(_cart_body(shopper.items()), status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


class CartItemView(ApiMixin, GenericAPIView):
    """One item of the cart: ``DELETE`` takes it out."""

    permission_classes = [permissions.AllowAny]
    serializer_class = s.CartSerializer

    @extend_schema(responses={204: None})
    def delete(self, request: Request, item_id: int) -> Response:
        item = Item.objects.filter(pk=parse_pk(item_id)).first()
        if item is None or not Cart.of(request).remove(item):
            raise NotFound("This item is not in your cart.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class CheckoutView(ApiMixin, GenericAPIView):
    """A demo checkout of the cart: one ``purchase`` event per item, and an empty cart."""

    permission_classes = [permissions.AllowAny]
    serializer_class = s.OrderSerializer

    @extend_schema(request=None, responses={201: s.OrderSerializer},
                   description="Nothing is charged; no body (any key in one is a 400). An empty cart is a 400 "
                               "(`fields.cart`).")
    def post(self, request: Request) -> Response:
        _valid(s.NoBodySerializer(data=request.data))  # {"items": [50]} is no partial checkout
        items = Cart.of(request).checkout(context={"src": "api"})
        body = _cart_body(items)
        return Response({"purchased": body.pop("items"), **body}, status=status.HTTP_201_CREATED)


class CredentialsView(ApiMixin, GenericAPIView):
    """An endpoint that takes a password: open to anyone, reading no token or session, throttled
    per client IP with the ``login`` rate."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


class TokenView(CredentialsView):
    """Exchange a username and password for an API token (throttled: the ``login`` rate)."""

    serializer_class = s.TokenRequestSerializer

    @extend_schema(request=s.TokenRequestSerializer, responses={200: s.TokenSerializer})
    def post(self, request: Request) -> Response:
        data = _valid(s.TokenRequestSerializer(data=request.data))
        auth = AuthTokenSerializer(data=data, context={"request": request})
        auth.is_valid(raise_exception=True)
        user = auth.validated_data["user"]
        with transaction.atomic():
            token, _ = Token.objects.get_or_create(user=user)
            services.visit_claim(user=user, session_key=data["session_key"])
        return Response({"token": token.key})
