"""Storefront forms; every one also works without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower
from django.forms.fields import InvalidJSONInput

from catalog import services
from catalog.models import REPORT_NOTE_MAX, REVIEW_TEXT_MAX, Profile, ReviewReport
from catalog.storable import Unstorable, check_storable, too_deep

RATING_CHOICES = [(f"{n / 2:.1f}", f"{n / 2:.1f} stars") for n in range(10, 0, -1)]


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(choices=RATING_CHOICES, coerce=Decimal, label="Stars", error_messages={
        "required": "Choose how many stars.", "invalid_choice": "Choose from 0.5 to 5 stars, in half stars.",
    })


class ReviewForm(RatingForm):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=REVIEW_TEXT_MAX, required=False,
        label="Your review", strip=True,
    )

    def clean_text(self) -> str:
        return self.cleaned_data["text"].replace("\x00", "")


class ReportForm(forms.ModelForm):
    """Report someone else's review (under each review on the item page)."""

    class Meta:
        model = ReviewReport
        fields = ["reason", "note"]
        labels = {"reason": "Why?", "note": "Anything to add (optional)"}
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "maxlength": REPORT_NOTE_MAX})}
        error_messages = {"reason": {"required": "Choose why you report it."}}


def same_username(username: str) -> QuerySet:
    """The accounts whose username is ``username`` in any case: as Django's sign-up form compares
    (``iexact``, i.e. upper case) and as the database's unique index on ``lower(username)`` does
    (catalog migration 0009). They differ: PostgreSQL lowers 'İlker' to 'ilker', but upper-cases
    'ilker' to 'ILKER', not 'İLKER'."""
    return get_user_model().objects.alias(lower_username=Lower("username")).filter(
        Q(username__iexact=username) | Q(lower_username=Lower(Value(username))))


def username_taken(username: str, *, user: Any = None) -> ValidationError | None:
    """The usual "already exists" error when an account other than ``user`` has ``username``
    in any case (:func:`same_username`), else ``None``."""
    if not same_username(username).exclude(pk=getattr(user, "pk", None)).exists():
        return None
    model = get_user_model()
    return model().unique_error_message(model, ["username"])


class UniqueUsernameMixin:
    """For a form on the user model: a username another account has in any case is an error on
    ``username`` (Django's ``UserChangeForm`` compared exactly, its creation form by upper case)."""

    def clean_username(self) -> str:
        username = self.cleaned_data.get("username")  # type: ignore[attr-defined]
        if username and (error := username_taken(username, user=self.instance)):  # type: ignore[attr-defined]
            raise error
        return username


EMAIL_HELP = "Optional: only to send you a link if you forget your password."


class SignupForm(UniqueUsernameMixin, UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")
        help_texts = {"email": EMAIL_HELP}

    interests = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What do you like? e.g. 'space adventures, clever comedies'. Used to personalise your feed.",
    )

    @transaction.atomic
    def save(self, commit: bool = True) -> Any:
        """The account and its profile's interests, together (the storefront's sign-up and
        ``POST /api/auth/signup/``). A username another sign-up or rename took since the form
        was validated raises the form's ``ValidationError`` on ``username``, not the database's
        ``IntegrityError``."""
        try:
            with transaction.atomic():
                user = super().save(commit=True)
        except IntegrityError:
            if error := username_taken(self.cleaned_data["username"]):  # now that the other is committed
                raise ValidationError({"username": error}) from None
            raise
        services.profile_update(user=user, interests=self.cleaned_data["interests"])
        return user


class EmailForm(forms.ModelForm):
    """The account's email address, the one password resets go to (the profile page)."""

    class Meta:
        model = get_user_model()
        fields = ["email"]
        help_texts = {"email": EMAIL_HELP}


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, mailing an account at most once every ``PASSWORD_RESET_MAIL_INTERVAL``
    seconds (the storefront's and the API's requests count together). The throttle limits how
    often one client asks; this, how often anyone can fill one inbox. The answer is the same
    either way, so it tells no one anything."""

    def get_users(self, email: str) -> Iterator[Any]:
        for user in super().get_users(email):
            if cache.add(f"password-reset-mailed:{user.pk}", True, settings.PASSWORD_RESET_MAIL_INTERVAL):
                yield user


class StorableJSONField(forms.JSONField):
    """The admin's JSON fields: a value PostgreSQL refuses (a NUL character, a lone surrogate,
    NaN or an infinite number) or nested too deep to decode is the field's error, not a 500."""

    def to_python(self, value: Any) -> Any:
        try:
            data = super().to_python(value)
        except RecursionError:
            raise ValidationError(too_deep("value")) from None
        try:
            check_storable(data, "value")
        except Unstorable as exc:
            raise ValidationError(str(exc)) from None
        return data

    def bound_data(self, data: Any, initial: Any) -> Any:
        """Shown again as typed (the stock field decodes it, then fails to encode a lone surrogate)."""
        try:
            value = super().bound_data(data, initial)
            check_storable(value)
        except (RecursionError, Unstorable):
            return InvalidJSONInput(data)
        return value


class ProfileForm(forms.ModelForm):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("label_suffix", "")  # two labels end in ")": no "):"
        super().__init__(*args, **kwargs)

    class Meta:
        model = Profile
        fields = ["interests", "personalization_opt_out", "demographics_consent", "age", "gender", "occupation"]
        labels = {
            "personalization_opt_out": "Turn off personalization (show only popular and new items)",
            "demographics_consent": "Let fairness audits use my age, gender and occupation",
        }
        help_texts = {
            "interests": "Free text: your feed uses it until you have rated a few items.",
            "age": "Optional. Never used for ranking; only for fairness audits, and only with your consent.",
        }
        widgets = {"interests": forms.Textarea(attrs={"rows": 3})}

    def clean(self) -> dict[str, Any]:
        """Demographics only with consent: given without it, each is an error, unless consent was
        just withdrawn (the form still shows what was shared), which clears them."""
        data = super().clean()
        if not data.get("demographics_consent"):
            given = Profile.demographics_in(data)
            if given and not self.instance.demographics_consent:
                for name in given:
                    self.add_error(name, "Tick \u201cLet fairness audits use my age, gender and occupation\u201d "
                                         "to share this, or leave it empty.")
            else:
                data.update(age=None, gender="", occupation="")
        return data


class OnboardingForm(forms.Form):
    picks = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=True, label="Pick a few movies you like",
        error_messages={"required": "Pick at least one movie (or skip for now)."},
    )

    def __init__(self, *args: object, choices: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["picks"].choices = choices


class SearchForm(forms.Form):
    """The storefront's search box and filters (GET). An unknown genre, a malformed year or a
    range that ends before it starts is a message on the page, never a database error."""

    q = forms.CharField(required=False, strip=False, label="Words or a description")  # length: item_search
    genre = forms.ChoiceField(required=False, label="Genre")
    year_min = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="From year")
    year_max = forms.IntegerField(required=False, min_value=1800, max_value=2100, label="To year")

    def __init__(self, *args: object, genres: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["genre"].choices = [("", "Any"), *((g, g) for g in genres)]
        for name in ("year_min", "year_max"):
            field = self.fields[name]
            message = f"{field.label} must be a year such as 1995."
            field.error_messages.update(invalid=message, min_value=message, max_value=message)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        if data.get("year_min") and data.get("year_max") and data["year_min"] > data["year_max"]:
            self.add_error("year_max", "To year must not be before from year.")
        return data

    def messages(self) -> list[str]:
        return [message for errors in self.errors.values() for message in errors]
