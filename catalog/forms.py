"""Storefront forms; every one also works without JavaScript."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.auth.forms import UserCreationForm

from catalog.models import REVIEW_TEXT_MAX, Profile

RATING_CHOICES = [(f"{n / 2:.1f}", f"{n / 2:.1f} stars") for n in range(10, 0, -1)]


class RatingForm(forms.Form):
    rating = forms.TypedChoiceField(choices=RATING_CHOICES, coerce=Decimal)


class ReviewForm(RatingForm):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=REVIEW_TEXT_MAX, required=False,
        label="Your review", strip=True,
    )

    def clean_text(self) -> str:
        return self.cleaned_data["text"].replace("\x00", "")


class SignupForm(UserCreationForm):
    interests = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What do you like? e.g. 'space adventures, clever comedies'. Used to personalise your feed.",
    )


class ProfileForm(forms.ModelForm):
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


class OnboardingForm(forms.Form):
    picks = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=True, label="Pick a few movies you like",
        error_messages={"required": "Pick at least one movie (or skip for now)."},
    )

    def __init__(self, *args: object, choices: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["picks"].choices = choices
