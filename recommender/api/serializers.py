"""Shapes of the personalization API: search results, the current user, the data export."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers

from catalog.api.base import QueryParams
from catalog.api.serializers import ItemSummarySerializer
from catalog.models import Profile
from recommender.selectors import SEARCH_MAX_CHARS

DEMOGRAPHICS = ("age", "gender", "occupation")


class SearchParams(QueryParams):
    q = serializers.CharField(max_length=SEARCH_MAX_CHARS, allow_blank=True, help_text="Search text.")
    genre = serializers.CharField(max_length=50, required=False)
    year_min = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    year_max = serializers.IntegerField(min_value=0, max_value=9999, required=False)
    k = serializers.IntegerField(min_value=1, max_value=100, default=20, help_text="How many results (1-100).")


class SearchResultSerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    score = serializers.FloatField(help_text="Reciprocal-rank-fusion score; higher is better.")


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    count = serializers.IntegerField()
    results = SearchResultSerializer(many=True)


class ProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = Profile
        fields = ["interests", "personalization_opt_out", "demographics_consent", "age", "gender", "occupation",
                  "onboarded"]
        extra_kwargs = {"age": {"min_value": 0, "max_value": 130}, "onboarded": {"read_only": True}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Demographics are stored only with consent; withdrawing consent clears them."""
        instance: Profile | None = self.instance or self.context.get("profile")
        consent = attrs.get("demographics_consent", instance.demographics_consent if instance else False)
        if not consent:
            given = [name for name in DEMOGRAPHICS if attrs.get(name) not in (None, "")]
            if given:
                raise serializers.ValidationError(
                    {name: "Set demographics_consent to true to share demographics." for name in given}
                )
            attrs.update(age=None, gender="", occupation="")
        return attrs


class MeSerializer(serializers.ModelSerializer):
    profile = ProfileSerializer()
    email = serializers.CharField(read_only=True, help_text="An email address, or empty.")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff", "date_joined", "profile"]
        read_only_fields = ["id", "email", "is_staff", "date_joined"]


class MeUpdateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150, required=False)
    profile = ProfileSerializer(required=False)


class ExportAccountSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)
    date_joined = serializers.CharField(allow_null=True)
    last_login = serializers.CharField(allow_null=True)


class ExportProfileSerializer(serializers.Serializer):
    interests = serializers.CharField(allow_blank=True)
    age = serializers.IntegerField(allow_null=True)
    gender = serializers.CharField(allow_blank=True)
    occupation = serializers.CharField(allow_blank=True)
    demographics_consent = serializers.BooleanField()
    personalization_opt_out = serializers.BooleanField()
    onboarded = serializers.BooleanField()


class ExportReviewSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's external id.")
    title = serializers.CharField()
    rating = serializers.FloatField()
    text = serializers.CharField(allow_blank=True)
    hidden = serializers.BooleanField()
    created_at = serializers.CharField()


class ExportEventSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's external id.")
    kind = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    context = serializers.DictField()
    session_key = serializers.CharField(allow_blank=True)
    created_at = serializers.CharField()


class ExportSerializer(serializers.Serializer):
    account = ExportAccountSerializer()
    profile = ExportProfileSerializer(allow_null=True)
    profile_has_embedding = serializers.BooleanField()
    reviews = ExportReviewSerializer(many=True)
    events = ExportEventSerializer(many=True)
