"""Storefront pages of the catalog: browse, interactions, cart actions, account. Thin views over
selectors and services; every POST works without JavaScript and redirects back."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from catalog import cart, selectors, services
from catalog.forms import EmailForm, PasswordResetForm, ProfileForm, RatingForm, ReportForm, ReviewForm, SignupForm
from catalog.models import TRACKING, EventKind, Item, Review
from catalog.throttling import PasswordAttemptsThrottled, password_attempt_wait, refuse_message

ITEMS_PER_PAGE = 24
# what each card button says once pressed
FEEDBACK_NOTES = {
    EventKind.NOT_INTERESTED: "Got it: we won't show {title} again.",
    EventKind.MORE_LIKE_THIS: "We'll show you more like {title}.",
    EventKind.SHOW_AGAIN: "{title} can be recommended to you again.",
}


def actor(request: HttpRequest) -> dict[str, object]:
    user = request.user if request.user.is_authenticated else None
    return {"user": user, "session_key": services.session_key_of(request.session)}


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to ``next`` or the referring page, when it is a path or URL of this site; else to
    ``fallback``. (``redirect()`` would read a bare word such as "abc" as a view name: a 500.)"""
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or ""
    if not (urlsplit(target).path.startswith("/")
            and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
        target = fallback
    return HttpResponseRedirect(target)


def _error_messages(request: HttpRequest, form: Form) -> None:
    """Each of ``form``'s errors as a message, "<field label>: <error>" (the forms posted from an
    item page come back to it, not to a page of their own)."""
    for name, errors in form.errors.items():
        for error in errors:
            messages.error(request, f"{form[name].label}: {error}")


def _login_first(request: HttpRequest, note: str, page: str) -> HttpResponseRedirect:
    """To the login page, which comes back to ``page``, saying why."""
    messages.info(request, note)
    return redirect(f"{reverse('login')}?next={page}")


def _item_or_404(slug: str) -> Item:
    try:
        return selectors.item_get(slug=slug)
    except Item.DoesNotExist:
        raise Http404("No such item") from None


def browse(request: HttpRequest, genre: str | None = None) -> HttpResponse:
    sort = request.GET.get("sort", "popular")
    if sort not in selectors.ITEM_SORTS:
        sort = "popular"
    genres = selectors.genre_list()
    if genre is not None and genre not in genres:
        raise Http404("No such genre")
    items = selectors.item_sort(selectors.item_list(genre=genre), sort)
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "genre": genre, "genres": genres, "sort": sort, "sorts": list(selectors.ITEM_SORTS)}
    return render(request, "catalog/browse.html", context)


@require_POST
def rate(request: HttpRequest, slug: str) -> HttpResponse:
    item = _item_or_404(slug)
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to rate movies.", item.get_absolute_url())
    form = ReviewForm(request.POST) if "text" in request.POST else RatingForm(request.POST)
    if not form.is_valid():
        _error_messages(request, form)
        return redirect(item.get_absolute_url())
    def save() -> None:
        services.review_save(user=request.user, item=item, rating=form.cleaned_data["rating"],
                             text=form.cleaned_data.get("text"))

    try:
        try:
            save()
        except IntegrityError:  # a double click: the other request created the review; this one updates it
            save()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Thanks! You rated {item.display_title} {form.cleaned_data['rating']} stars.")
    return redirect(item.get_absolute_url())  # not the referrer: its ?src= would count a second click


@require_POST
def review_remove(request: HttpRequest, slug: str) -> HttpResponse:
    """"Delete my rating" on the item page: the shopper's rating and review of this item go, and
    with them what they taught the recommendations (which read ratings from the reviews)."""
    item = _item_or_404(slug)
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to change your ratings.", item.get_absolute_url())
    review = Review.objects.filter(user=request.user, item=item).first()
    if review is None:
        messages.info(request, f"You have not rated {item.display_title}.")
    else:
        services.review_delete(review=review)
        what = "rating and review" if review.text else "rating"
        messages.success(request, f"Deleted: your {what} of {item.display_title}.")
    return redirect(item.get_absolute_url())


@require_POST
def review_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Report" form under someone else's review."""
    review = Review.objects.filter(pk=pk, is_hidden=False).select_related("item").first()
    if review is None:
        raise Http404("No such review")
    page = review.item.get_absolute_url()
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to report a review.", page)
    form = ReportForm(request.POST)
    if not form.is_valid():
        _error_messages(request, form)
        return redirect(f"{page}#review-{review.pk}")
    try:
        _, created = services.review_report(user=request.user, review=review, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Thanks: a moderator will look at this review." if created
                         else "Your report of this review is updated.")
    return redirect(f"{page}#review-{review.pk}")


@require_POST
def feedback(request: HttpRequest, slug: str) -> HttpResponse:
    """'Not interested' and 'More like this' buttons on cards, and 'Show again', which undoes a
    'Not interested' (on the card that said it, and in the history)."""
    item = _item_or_404(slug)
    kind = request.POST.get("kind")
    if kind not in FEEDBACK_NOTES:
        messages.error(request, "Unknown feedback.")
        return _back(request, "/")
    services.event_record(item=item, kind=kind, context=_context(request), **actor(request))
    note = FEEDBACK_NOTES[kind].format(title=item.display_title)
    if request.headers.get("HX-Request"):  # htmx replaces the card in place
        return render(request, "catalog/_feedback_done.html", {"note": note, "item": item, "kind": kind})
    messages.success(request, note)
    return _back(request, "/")



def _context(request: HttpRequest) -> dict[str, object]:
    """Where a click came from, as carried by the card's form or link. What no card sends is
    left out: a ``pos`` that is not a whole number in ASCII digits ("²" passes ``isdigit``
    and ``int`` refuses it), text with control characters (PostgreSQL's JSON refuses NUL)."""
    context: dict[str, object] = {}
    for key, kind in TRACKING.items():
        value = (request.POST.get(key) or request.GET.get(key) or "")[:64]
        if not value or not value.isprintable():
            continue
        if kind is int:
            if value.isascii() and value.isdigit():
                context[key] = int(value)
        else:
            context[key] = value
    return context


def _added(request: HttpRequest, add: Callable[[], bool], title: str, place: str, fallback: str) -> HttpResponse:
    """Run ``add`` (the cart's, the list's: False when the film was there) and say how it went."""
    try:
        added = add()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if added:
            messages.success(request, f"{title} is {place}.")
        else:
            messages.info(request, f"{title} is already {place}.")
    return _back(request, fallback)


@require_POST
def cart_add(request: HttpRequest, slug: str) -> HttpResponse:
    item = _item_or_404(slug)
    return _added(request, lambda: cart.Cart.of(request).add(item, context=_context(request)),
                  item.display_title, "in your cart", reverse("cart"))


def _saved_button(request: HttpRequest, item: Item, saved: bool, note: str = "") -> HttpResponse:
    """The "Save to my list" button in its new state, for htmx to swap in (the page stays)."""
    return render(request, "catalog/_saved_button.html", {"item": item, "saved": saved, "note": note,
                                                          "swapped": True})


@require_POST
def saved_add(request: HttpRequest, slug: str) -> HttpResponse:
    """"Save to my list" on the item page and on cards."""
    item = _item_or_404(slug)
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to keep a list of movies.", item.get_absolute_url())
    add = lambda: services.saved_add(user=request.user, item=item, context=_context(request))[1]  # noqa: E731
    if request.headers.get("HX-Request"):
        try:
            add()
        except ValidationError as exc:
            return _saved_button(request, item, False, " ".join(exc.messages))
        return _saved_button(request, item, True)
    return _added(request, add, item.display_title, "on your list", reverse("saved_list"))


@require_POST
def saved_remove(request: HttpRequest, slug: str) -> HttpResponse:
    item = _item_or_404(slug)
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to change your list.", reverse("saved_list"))
    removed = services.saved_remove(user=request.user, item=item)
    if request.headers.get("HX-Request"):
        return _saved_button(request, item, False)
    if removed:
        messages.success(request, f"{item.display_title} is off your list.")
    return _back(request, reverse("saved_list"))


@require_POST
def cart_remove(request: HttpRequest, slug: str) -> HttpResponse:
    cart.Cart.of(request).remove(_item_or_404(slug))
    return redirect("cart")


@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    try:
        items = cart.Cart.of(request).checkout(context={"src": "checkout"})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("cart")
    movies = f"{len(items)} movie" + ("" if len(items) == 1 else "s")
    messages.success(request, f"Thank you! This was a demo checkout of {movies}; nothing was charged.")
    return redirect("home")


def signup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and (wait := password_attempt_wait(request)) is not None:
        refuse_message(request, wait)
        return render(request, "registration/signup.html", {"form": SignupForm()}, status=429)
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = form.save()
        except ValidationError as exc:  # the username was taken by a concurrent sign-up meanwhile
            form.add_error(None, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}! Pick a few movies you like to start your feed.")
            return redirect("onboarding")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def history(request: HttpRequest) -> HttpResponse:
    """Everything the user's recommendations learn from, each with a switch to stop using it."""
    page = Paginator(selectors.user_history(user=request.user), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "catalog/history.html", {"page": page})


@require_POST
def history_use(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop (``used=0``) or start again (``used=1``) using an item for the user's recommendations;
    by id, not slug: a film the shop no longer sells stays in a history."""
    if not request.user.is_authenticated:
        return _login_first(request, "Log in to choose what your recommendations use.", reverse("history"))
    item = Item.objects.filter(pk=pk).first()
    if item is None:
        raise Http404("No such item")
    used = request.POST.get("used")
    if used not in {"0", "1"}:
        messages.error(request, "Say whether to use the item (used=1) or not (used=0).")
        return _back(request, reverse("history"))
    services.history_use(user=request.user, item=item, used=used == "1")
    if used == "1":
        messages.success(request, f"{item.display_title} is used for your recommendations again.")
    else:
        messages.success(request, f"Done: your recommendations no longer use {item.display_title}.")
    return _back(request, reverse("history"))


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    instance = services.profile_get(user=request.user)
    form = ProfileForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("profile")
    context = {
        "form": form,
        "email_form": EmailForm(instance=request.user),
        "reviews": selectors.user_reviews(user=request.user)[:50],
        "events": selectors.user_events(user=request.user)[:50],
        "app_signed_in": selectors.api_token_created(user=request.user),
    }
    return render(request, "catalog/profile.html", context)


@login_required
@require_POST
def account_email(request: HttpRequest) -> HttpResponse:
    """Set or remove the account's email address (where password reset links go)."""
    form = EmailForm(request.POST, instance=request.user)
    if form.is_valid():
        form.save()
        messages.success(request, "Your email address is saved." if form.cleaned_data["email"]
                         else "Your email address is removed: you cannot reset a forgotten password now.")
    else:
        _error_messages(request, form)
    return redirect("profile")


@login_required
@require_POST
def account_apps_signout(request: HttpRequest) -> HttpResponse:
    """Revoke the account's API token: apps and scripts signed in with the password must sign in again."""
    if services.api_tokens_revoke(user=request.user):
        messages.success(request, "Your apps are signed out: they need your password to sign in again.")
    else:
        messages.info(request, "No app was signed in to your account.")
    return redirect("profile")


class LoginView(PasswordAttemptsThrottled, auth_views.LoginView):
    pass


class PasswordChangeView(PasswordAttemptsThrottled, auth_views.PasswordChangeView):
    pass


class PasswordResetView(PasswordAttemptsThrottled, auth_views.PasswordResetView):
    form_class = PasswordResetForm
