"""What the recommender owns: embeddings of catalog rows, model versions, audits, experiments and promotions."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from catalog.models import Item, Profile, Review


class Embedding(models.Model):
    """A row's vector with the model that made it and a hash of the text it embedded:
    unchanged text is skipped, and a model change makes every row stale."""

    vector = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS)
    model_name = models.CharField(max_length=200)
    text_hash = models.CharField(max_length=64)
    embedded_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def _hnsw(name: str) -> HnswIndex:
    return HnswIndex(name=name, fields=["vector"], m=16, ef_construction=64, opclasses=["vector_cosine_ops"])


class ItemEmbedding(Embedding):
    item = models.OneToOneField(Item, on_delete=models.CASCADE, primary_key=True, related_name="embedding")

    class Meta:
        indexes = [_hnsw("item_embedding_hnsw")]

    def __str__(self) -> str:
        return f"embedding of {self.item_id}"


class ReviewEmbedding(Embedding):
    review = models.OneToOneField(Review, on_delete=models.CASCADE, primary_key=True, related_name="embedding")

    class Meta:
        indexes = [_hnsw("review_embedding_hnsw")]

    def __str__(self) -> str:
        return f"embedding of review {self.review_id}"


class ProfileEmbedding(Embedding):
    profile = models.OneToOneField(Profile, on_delete=models.CASCADE, primary_key=True, related_name="embedding")

    class Meta:
        indexes = [_hnsw("profile_embedding_hnsw")]

    def __str__(self) -> str:
        return f"embedding of profile {self.profile_id}"


class ModelVersion(models.Model):
    """A trained recommender artifact. Serving uses the newest active version and picks up a
    new one without a restart; staff activate or roll back versions in the admin."""

    created_at = models.DateTimeField(auto_now_add=True)
    algorithm = models.CharField(max_length=50, default="hybrid")
    artifact = models.CharField(max_length=500, help_text="Path of the pickled model, relative to the artifact dir.")
    sha256 = models.CharField(max_length=64)
    is_active = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    training_seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["is_active", "-created_at"], name="modelversion_active")]

    def __str__(self) -> str:
        state = "active" if self.is_active else "inactive"
        return f"{self.label} ({state}, {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def label(self) -> str:
        """The short name ("hybrid v3") lists and messages use."""
        return f"{self.algorithm} v{self.pk}"


class RunStatus(models.TextChoices):
    """Of work queued for a worker (an audit, an export)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class AuditRun(models.Model):
    """One bias and fairness audit of the live recommender, kept so trends show."""

    Status = RunStatus

    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="audits")
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Audit #{self.pk} ({self.status}, {self.created_at:%Y-%m-%d %H:%M})"


class Experiment(models.Model):
    """An A/B test: users (or anonymous sessions) are assigned to a variant by hashing, so the
    assignment is sticky; each variant's ``params`` change serving (``algorithm``:
    hybrid | ease | popularity, ``diversity``, ``fairness``, ``promotions``: false leaves the
    store's featured films out)."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=False, help_text="At most one experiment runs at a time.")
    variants = models.JSONField(
        default=list,
        help_text='A list such as [{"name": "control", "weight": 50, "params": {}}, '
                  '{"name": "ease", "weight": 50, "params": {"algorithm": "ease"}}].',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When it first started: while it runs, no event from then on is deleted for retention.")
    stopped_at = models.DateTimeField(null=True, blank=True, editable=False)
    results = models.JSONField(
        null=True, blank=True, editable=False,
        help_text="Its online metrics when it last stopped, kept after retention deletes the events behind them.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                    name="one_active_experiment"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({'running' if self.is_active else 'stopped'})"

    def clean(self) -> None:
        from recommender.experiments import variants_validate

        variants_validate(self.variants)


class Promotion(models.Model):
    """Staff's featured films: while it runs, each feed shows one of its films (the one that
    matches the shopper's taste best, or the most reviewed without personalization) at
    ``position``, labelled "Featured by the store" with the promotion's name. A feed that
    already recommends one of them on its own merits shows no extra card."""

    name = models.CharField(max_length=80, help_text='Shown on the card, e.g. "Featured by the store: Film noir week".')
    items = models.ManyToManyField(Item, related_name="promotions", verbose_name="films",
                                   help_text="The films to feature; each feed shows the one its shopper likes best.")
    position = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Where in the feed its card goes (1 = first).")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until it is switched off.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True) | models.Q(ends_at__gt=models.F("starts_at")),
                name="promotion_ends_after_start"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.ends_at is not None and self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must come after the start."})


# a running export records its progress every few seconds: this long without, its worker was stopped
STALLED_AFTER = timedelta(minutes=10)


class ExportQuerySet(models.QuerySet):
    @staticmethod
    def _stalled() -> models.Q:
        """Running, but no progress recorded for ``STALLED_AFTER``: its worker was stopped (the
        task is acknowledged on receipt, so no other worker takes it up)."""
        return models.Q(status=RunStatus.RUNNING, progress_at__lt=timezone.now() - STALLED_AFTER)

    def with_stalled(self) -> ExportQuerySet:
        """Each export with ``is_stalled`` (see :meth:`_stalled`), for display."""
        return self.annotate(is_stalled=models.ExpressionWrapper(self._stalled(), output_field=models.BooleanField()))

    def restartable(self) -> ExportQuerySet:
        """The failed exports and the stalled ones: those a worker may write again from the start."""
        return self.filter(models.Q(status=RunStatus.FAILED) | self._stalled())


class RecommendationExport(models.Model):
    """Shoppers' recommendations written by a worker to a CSV file under
    ``RECSYS_EXPORT_DIR`` for a mailing: what ``manage.py recommend`` writes, started from the
    account list for more accounts than one request computes (:mod:`recommender.batch`)."""

    Status = RunStatus

    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name="film's audience",
                             help_text="Set: the shoppers most likely to want this film, instead of the accounts' "
                                       "recommendations.")
    user_ids = models.JSONField(default=list, help_text="The accounts selected, by id (a film's audience: those "
                                                        "listed, once written).")
    total = models.PositiveIntegerField("shoppers selected", default=0)
    k = models.PositiveSmallIntegerField("recommendations per shopper", default=10)
    campaign = models.CharField(max_length=64, help_text="Named in each link's click tracking (rid).")
    base_url = models.CharField("links to", max_length=200, blank=True)
    done = models.PositiveIntegerField(default=0, help_text="Shoppers written so far.")
    progress_at = models.DateTimeField("last progress", null=True, blank=True,
                                       help_text="When the worker last recorded how far it got.")
    recommendations = models.PositiveIntegerField(default=0)
    not_personalized = models.PositiveIntegerField("with personalization off", default=0,
                                                   help_text="Shoppers given the popular films.")
    file_name = models.CharField(max_length=100, blank=True)
    error = models.TextField(blank=True)

    objects = ExportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.status}, {self.created_at:%Y-%m-%d %H:%M})"

