"""Derived data owned by the recommender: embeddings of catalog rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
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
        return f"{self.algorithm} v{self.pk} ({state}, {self.created_at:%Y-%m-%d %H:%M})"
