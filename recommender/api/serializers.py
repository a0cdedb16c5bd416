"""Shapes of the personalization API: search results, the current user, the data export."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework import serializers

from catalog.api.base import GenreField, IdField, QueryParams, RejectUnknownFields, YearRangeParams
from catalog.api.serializers import PASSWORD_MAX, ItemSummarySerializer, claim_field
from catalog.models import Profile
from recommender.audience import AUDIENCE_MAX
from recommender.batch import AUDIENCE_EXPORT_MAX
from recommender.diagnosis import VERDICTS
from recommender.models import RecommendationExport
from recommender.selectors import SEARCH_MAX_CHARS

ONBOARDING_PICKS_MAX = 50  # different films
ONBOARDING_PICKS_SENT_MAX = 1000  # ids in one request, repeats included


class SearchParams(YearRangeParams):
    q = serializers.CharField(max_length=SEARCH_MAX_CHARS, allow_blank=True, help_text="Search text.")
    genre = GenreField()
    k = serializers.IntegerField(min_value=1, max_value=100, default=20, help_text="How many results (1-100).")


class SearchResultSerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    score = serializers.FloatField(help_text="Reciprocal-rank-fusion score; higher is better.")
    related = serializers.BooleanField(help_text=(
        "False for a match; true for a film only near the query in meaning, listed after the matches "
        "(the storefront's \"Related films\")."))


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    corrected = serializers.CharField(allow_null=True, help_text=(
        "The query as searched when some of its words were misspelt (corrected towards the "
        "catalogue's titles), else null."))
    count = serializers.IntegerField(help_text="How many results: the matches, then the related.")
    matches = serializers.IntegerField(help_text="How many of the results, the first, are matches.")
    results = SearchResultSerializer(many=True)


class SuggestParams(QueryParams):
    q = serializers.CharField(max_length=SEARCH_MAX_CHARS, allow_blank=True,
                              help_text="What the shopper has typed so far; the last word is a prefix.")
    k = serializers.IntegerField(min_value=1, max_value=20, default=8, help_text="How many suggestions (1-20).")


class SuggestResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    genres = serializers.ListField(child=serializers.CharField(), help_text=(
        "Genres with a name or word starting with what was typed (at most 2), to browse."))
    results = ItemSummarySerializer(many=True)


class ProfileSerializer(RejectUnknownFields, serializers.ModelSerializer):
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
            given = Profile.demographics_in(attrs)
            if given:
                raise serializers.ValidationError(
                    {name: "Set demographics_consent to true to share demographics." for name in given}
                )
            attrs.update(age=None, gender="", occupation="")
        return attrs


class MeSerializer(serializers.ModelSerializer):
    profile = ProfileSerializer()
    # not the model field's pattern: a JSON Schema's \w is ASCII, a username's any script ("rené")
    username = serializers.CharField(help_text="Letters (any script), digits and @/./+/-/_; 150 at most.")
    email = serializers.CharField(read_only=True, help_text="Where password reset links go, or empty.")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "is_staff", "date_joined", "profile"]
        read_only_fields = ["id", "email", "is_staff", "date_joined"]


def email_field() -> serializers.EmailField:
    return serializers.EmailField(required=False, allow_blank=True, max_length=254, help_text=(
        "Optional: only where a password reset link goes; empty removes it."))


class UsernameField(serializers.RegexField):
    """A username as Django stores it: NFKC-normalised (``normalize_username``, which the user's
    ``clean`` applies after the field checks) before its characters and length are checked.
    Checked before normalising, 'ﷺ' was stored as 'صلى الله عليه وسلم' (spaces and all), and ten
    of it (189 characters normalised) were a 400 'value out of range' from the database."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(r"^[\w.@+-]+\Z", max_length=150, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        return get_user_model().normalize_username(super().to_internal_value(data))


class MeUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    read_only_keys = ("id", "is_staff", "date_joined")  # GET's, ignored
    username = UsernameField(required=False)
    email = email_field()
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


class ExportExclusionSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's external id.")
    title = serializers.CharField()
    since = serializers.CharField()


class ExportAddedItemSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="The item's external id.")
    title = serializers.CharField()
    added_at = serializers.CharField()


class ExportReportSerializer(serializers.Serializer):
    review = serializers.IntegerField(help_text="The reported review's id.")
    item = serializers.CharField(help_text="The reviewed item's external id.")
    reason = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    created_at = serializers.CharField()


class ExportSerializer(serializers.Serializer):
    account = ExportAccountSerializer()
    profile = ExportProfileSerializer(allow_null=True)
    profile_has_embedding = serializers.BooleanField()
    reviews = ExportReviewSerializer(many=True)
    events = ExportEventSerializer(many=True)
    not_used_for_recommendations = ExportExclusionSerializer(many=True, help_text=(
        "Items the user asked us not to use for their recommendations."))
    cart = ExportAddedItemSerializer(many=True, help_text="The films in the user's cart.")
    my_list = ExportAddedItemSerializer(many=True, help_text="The films on the user's list, the latest first.")
    review_reports = ExportReportSerializer(many=True, help_text="Other shoppers' reviews the user reported.")


class HistoryActionSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=(
        "purchase, add_to_cart, save (to the user's list), picked (at sign-up), more_like_this, click or view."))
    times = serializers.IntegerField()


class HistoryEntrySerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    last_at = serializers.DateTimeField(allow_null=True, help_text=(
        "The user's latest rating, action or exclusion of the item; null if none."))
    rating = serializers.FloatField(allow_null=True, help_text="The user's rating, or null.")
    actions = HistoryActionSerializer(many=True, help_text="What the user did with it, strongest first.")
    used_for_recommendations = serializers.BooleanField(source="used", help_text=(
        "False once the user asked us not to use the item for their recommendations: the next "
        "feed and the next trained model leave it out (it is still not recommended again once "
        "rated or bought)."))
    not_interested = serializers.BooleanField(help_text=(
        "True while the user's latest say about the item is \"not interested\": it is not "
        "recommended to them."))


class SavedEntrySerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    added_at = serializers.DateTimeField(help_text="When the user saved it.")


class SavedAddSerializer(RejectUnknownFields, serializers.Serializer):
    item = IdField(help_text="An active item's id.")


class HistoryUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    read_only_keys = ("item", "last_at", "rating", "actions")  # GET's, ignored
    used_for_recommendations = serializers.BooleanField(required=False)
    not_interested = serializers.BooleanField(required=False, help_text=(
        "false shows a film marked \"not interested\" again (a show_again event); true marks it."))

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(
                {"used_for_recommendations": "Send used_for_recommendations and/or not_interested."})
        return attrs


class ExplanationSerializer(serializers.Serializer):
    sentence = serializers.CharField(help_text="One plain sentence naming the signal that contributed most.")
    signal = serializers.CharField(help_text="The signal that contributed most (ease, content, kg, session, ...).")
    contributions = serializers.DictField(child=serializers.FloatField(),
                                          help_text="Each signal's additive contribution to the score.")
    evidence = serializers.JSONField(help_text="Anchor items, shared knowledge-graph entities, genre match, "
                                               "similar review text, trending facts; for a featured film, "
                                               "the promotion (id, name).")


class RecommendationSerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    score = serializers.FloatField()
    source = serializers.CharField(help_text=(
        "Which recommender produced it (hybrid, popularity, similar, ...), or promoted: a film the store "
        "features (Django admin, Promotions)."))
    explanation = ExplanationSerializer()
    tracking = serializers.DictField(help_text=(
        "Send it as the context of this result's impression and click events (POST /api/events/): row "
        "(src), position (pos), request id (rid), algorithm (algo), the experiment (exp) and variant "
        "when the response was served under one, and the promotion (promo) of a featured film."))

    def to_representation(self, rec: Any) -> dict[str, Any]:
        evidence = {k: v for k, v in rec.evidence.items() if k not in {"contributions", "signal", "signal_label"}}
        return {
            "item": self.fields["item"].to_representation(rec.item),  # built once per list, not per item
            "score": rec.score,
            "source": rec.algorithm,
            "explanation": {"sentence": rec.sentence, "signal": rec.source,
                            "contributions": rec.contributions, "evidence": evidence},
            "tracking": rec.tracking,
        }


class RatingPredictionSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    predicted_rating = serializers.FloatField(
        allow_null=True, help_text="Stars (0.5-5) the rating model expects you to give; null when it cannot say.")
    ratings_given = serializers.IntegerField(help_text="Your own ratings the prediction rests on.")
    reason = serializers.CharField(allow_blank=True, help_text="Why there is no prediction; empty when there is one.")


class RefineClauseSerializer(serializers.Serializer):
    want = serializers.SerializerMethodField(help_text="more or less of it")
    genre = serializers.CharField(allow_null=True, help_text="The catalogue genre it names, if any.")
    text = serializers.CharField(help_text="The clause's words, matched by meaning when it names no genre.")

    def get_want(self, clause: Any) -> str:
        return "more" if clause.sign > 0 else "less"


class RefineSummarySerializer(serializers.Serializer):
    understood = RefineClauseSerializer(many=True, help_text="The clauses read, in order.")
    unmatched = serializers.ListField(child=serializers.CharField(),
                                      help_text="Texts that match nothing in the catalogue (ignored).")
    followed = serializers.BooleanField(help_text="Whether the results were re-ranked for the request (not "
                                                  "when personalization is off or no model is trained yet).")


class ExperimentSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The running A/B experiment's key.")
    variant = serializers.CharField(help_text="The caller's variant: sticky per account, or per session.")


class TrackedResponseSerializer(serializers.Serializer):
    request_id = serializers.CharField(help_text="Echo it in event context (rid) to attribute clicks.")
    user = serializers.CharField(allow_null=True)
    experiment = ExperimentSerializer(allow_null=True, help_text=(
        "The A/B experiment and variant this response was served under; null when none runs, when the "
        "request set a parameter a variant decides (such as diversity), or for another user's feed."))


class RecommendationsResponseSerializer(TrackedResponseSerializer):
    count = serializers.IntegerField()
    refine = RefineSummarySerializer(allow_null=True, required=False,
                                     help_text="How the refine request was read; null without one.")
    results = RecommendationSerializer(many=True)


def _id_list(value: str) -> list[int]:
    ids = []
    for part in value.split(","):
        part = part.strip()
        if part:
            # ASCII digits: str.isdigit() also passes '²' and '①', which int() refuses (a 500)
            if not re.fullmatch(r"[0-9]{1,12}", part):
                raise serializers.ValidationError(f"{part!r} is not an item id.")
            ids.append(int(part))
    if len(ids) > 500:
        raise serializers.ValidationError("At most 500 ids.")
    return ids


class FeedParams(QueryParams):
    """What every feed request may say: a refine text, and an anonymous client's session."""

    refine = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                   help_text="Free text that re-ranks the feed, e.g. 'something lighter'.")
    session_key = serializers.CharField(max_length=64, required=False, allow_blank=True,
                                        help_text="Anonymous clients: the session whose events to use.")

    def validate_refine(self, value: str) -> str:
        return value.replace("\x00", "").strip()


class RecommendationParams(FeedParams):
    comma_lists = ("exclude",)  # ?exclude=1&exclude=2 is ?exclude=1,2

    k = serializers.IntegerField(min_value=1, max_value=100, default=10, help_text="How many (1-100).")
    exclude = serializers.CharField(required=False, allow_blank=True, max_length=7000,
                                    help_text="Comma-separated item ids to leave out; a repeated exclude adds more.")
    genre = GenreField()
    diversity = serializers.FloatField(min_value=0, max_value=1, required=False,
                                       help_text="MMR trade-off: 1 = relevance only, lower = more diverse.")
    user = IdField(required=False, help_text="Staff only: recommend for this user id.")

    def validate_exclude(self, value: str) -> list[int]:
        return _id_list(value)


class HomeParams(FeedParams):
    k = serializers.IntegerField(min_value=1, max_value=50, default=12, help_text="Films per row (1-50).")


class RowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text=(
        "for_you, because_viewed, trending, new (home); similar, also_liked (item); with_cart (cart); "
        "with_list (My list)."))
    title = serializers.CharField(help_text="The row's heading on the storefront.")
    results = RecommendationSerializer(many=True, source="items")


class RowsResponseSerializer(TrackedResponseSerializer):
    refine = RefineSummarySerializer(allow_null=True, required=False,
                                     help_text="How the refine request was read (the first row); null without one.")
    rows = RowSerializer(many=True)


class SimilarParams(QueryParams):
    k = serializers.IntegerField(min_value=1, max_value=100, default=10, help_text="How many (1-100).")


class AudienceParams(QueryParams):
    limit = serializers.IntegerField(min_value=1, max_value=AUDIENCE_MAX, default=50,
                                     help_text=f"How many shoppers (1-{AUDIENCE_MAX}).")


class FanSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user.pk", help_text="The account's id.")
    username = serializers.CharField(source="user.username")
    rank = serializers.IntegerField(help_text="Where the item would stand in the shopper's list (1 = first).")
    score = serializers.FloatField(help_text="The model's score of the item for the shopper, as it weighed them.")
    recommendation = RecommendationSerializer(source="card", help_text=(
        "The item as the shopper's feed would show it now: its explanation, and `tracking` naming the mailing "
        "(src=batch, rid=the campaign)."))


class AudienceResponseSerializer(serializers.Serializer):
    item = ItemSummarySerializer()
    model_version = serializers.IntegerField(source="version.pk", allow_null=True, default=None)
    campaign = serializers.CharField(help_text="The `rid` of the results' tracked links: audience-<item>-<date>.")
    weighed = serializers.IntegerField(help_text=(
        "Shoppers the model knows who do not have the item; for an item newer than the model, those its text or "
        "facts place it for."))
    new = serializers.BooleanField(help_text=(
        "The item is newer than the model: each shopper's place is the one their feed gives a new item, by its "
        "text against their taste or its shared facts (genres, year, people)."))
    left_out = serializers.IntegerField(help_text=(
        "Of those, left out: rated, bought or said not interested since, staff, inactive, or personalization off."))
    note = serializers.CharField(allow_blank=True, help_text="Why there are no results, when there are none.")
    count = serializers.IntegerField()
    results = FanSerializer(many=True, source="fans")


class AudienceExportSerializer(RejectUnknownFields, serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=AUDIENCE_EXPORT_MAX, default=1000,
                                     help_text=f"At most how many shoppers to write (1-{AUDIENCE_EXPORT_MAX:,}).")


class RecommendationExportSerializer(serializers.ModelSerializer):
    """A file of shoppers a worker writes (a film's audience, or accounts' recommendations)."""

    stalled = serializers.BooleanField(source="is_stalled", help_text=(
        "Running without progress for a while: its worker stopped. POST restart/ starts it again."))
    file = serializers.SerializerMethodField(help_text="Where to download the CSV once it is done; null before.")

    class Meta:
        model = RecommendationExport
        fields = ["id", "status", "stalled", "item", "campaign", "total", "done", "created_at", "progress_at",
                  "finished_at", "error", "file"]
        extra_kwargs = {"total": {"help_text": "A film's audience: at most this many shoppers; else the accounts."},
                        "done": {"help_text": "Shoppers written so far."}}

    def get_file(self, job: RecommendationExport) -> str | None:
        if job.status != RecommendationExport.Status.DONE:
            return None
        return self.context["request"].build_absolute_uri(reverse("export-file", args=[job.pk]))


class SignupSerializer(RejectUnknownFields, serializers.Serializer):
    username = serializers.CharField(max_length=1000, help_text="Letters, digits and @/./+/-/_ only; 150 at most.")
    password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, trim_whitespace=False,
                                     help_text="Checked by the site's password validators.")
    interests = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                      help_text="What the shopper likes, in their words; starts the feed.")
    email = email_field()
    session_key = claim_field()


class PasswordResetSerializer(RejectUnknownFields, serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The account's email address.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordChangeSerializer(RejectUnknownFields, serializers.Serializer):
    old_password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, trim_whitespace=False)
    new_password = serializers.CharField(write_only=True, max_length=PASSWORD_MAX, trim_whitespace=False,
                                         help_text="Checked by the site's password validators.")


class SignupResultSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The new account's API token.")
    user = MeSerializer()


class OnboardingSerializer(serializers.Serializer):
    onboarded = serializers.BooleanField()
    interests = serializers.CharField()
    choices = ItemSummarySerializer(many=True, help_text=(
        "Films to offer: first those matching the interests, then the most reviewed (the sign-up page's)."))


class OnboardingPicksSerializer(RejectUnknownFields, serializers.Serializer):
    picks = serializers.ListField(child=IdField(), max_length=ONBOARDING_PICKS_SENT_MAX, help_text=(
        f"Ids of active films the shopper likes (any, not only the offered choices), at most "
        f"{ONBOARDING_PICKS_MAX} different ones (a repeated id counts once); [] skips."))

    def validate_picks(self, picks: list[int]) -> list[int]:
        different = len(set(picks))
        if different > ONBOARDING_PICKS_MAX:
            raise serializers.ValidationError(
                f"At most {ONBOARDING_PICKS_MAX} different films can be picked ({different} given).")
        return picks


class WhyNotParams(RecommendationParams):
    item = IdField(help_text="The item to explain.")


class ShareSerializer(serializers.Serializer):
    signal = serializers.CharField(help_text="The signal's key, as in a recommendation's contributions.")
    label = serializers.CharField(help_text="Its name, as cards write it.")
    item = serializers.FloatField(help_text="Its share of the item's score.")
    card = serializers.FloatField(help_text="Its share of the score of the feed's last card.")


class WhyNotResponseSerializer(TrackedResponseSerializer):
    item = ItemSummarySerializer()
    verdict = serializers.ChoiceField(choices=list(VERDICTS.items()), help_text="The answer: " + "; ".join(
        f"`{key}`: {meaning}" for key, meaning in VERDICTS.items()) + ".")
    sentence = serializers.CharField(help_text="The answer in one or two plain sentences.")
    position = serializers.IntegerField(allow_null=True, help_text="Its place in the feed (1 = first), if there.")
    rank = serializers.IntegerField(allow_null=True, help_text=(
        "Its place by score among the feed's candidates (`reranked`, `outranked`; for `not_candidate`, where "
        "its score would place it), or in the most-rated order (`opted_out`, `no_model`, `popularity`)."))
    score = serializers.FloatField(allow_null=True, help_text="Its score, on the scale of the results' scores.")
    cutoff = serializers.FloatField(allow_null=True, help_text="The score of the feed's last card the model ranked.")
    compared_with = ItemSummarySerializer(source="card", allow_null=True,
                                          help_text="That last card's item: the one `signals` compares it with.")
    signals = ShareSerializer(many=True, source="compared", help_text=(
        "Each signal's share of its score and of that card's, the furthest behind first (`outranked` and "
        "`not_candidate` answers of the hybrid; empty otherwise)."))
    feed = serializers.ListField(child=serializers.IntegerField(), help_text=(
        "The ids of the feed it was asked about: what `GET /api/recommendations/` gives for the same parameters."))
