"""React to catalog changes: queue embedding of what changed (after commit); remove a deleted
model version's artifact and a deleted export's file, and the exports naming an erased account."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver

from catalog import signals
from catalog.models import Item, Profile, Review
from recommender.batch import export_file_delete, exports_forget
from recommender.embedding import enqueue
from recommender.models import ModelVersion, ProfileEmbedding, Promotion, RecommendationExport, ReviewEmbedding
from recommender.promotions import promotions_changed
from recommender.training import artifact_delete


@receiver(post_save, sender=Item, dispatch_uid="embed-item-on-save")
def item_saved(sender: type, instance: Item, **kwargs: object) -> None:
    enqueue(kind="item", ids=[instance.pk])


@receiver(post_save, sender=Review, dispatch_uid="embed-review-on-save")
def review_saved(sender: type, instance: Review, **kwargs: object) -> None:
    # rating-only reviews have nothing to embed, unless a stale vector must go
    if instance.text or ReviewEmbedding.objects.filter(pk=instance.pk).exists():
        enqueue(kind="review", ids=[instance.pk])


@receiver(post_save, sender=Profile, dispatch_uid="embed-profile-on-save")
def profile_saved(sender: type, instance: Profile, **kwargs: object) -> None:
    if instance.interests or ProfileEmbedding.objects.filter(pk=instance.pk).exists():
        enqueue(kind="profile", ids=[instance.pk])


@receiver(signals.items_changed, dispatch_uid="embed-items-bulk")
def items_changed(sender: type, ids: list[int], **kwargs: object) -> None:
    enqueue(kind="item", ids=ids)


@receiver(signals.reviews_changed, dispatch_uid="embed-reviews-bulk")
def reviews_changed(sender: type, ids: list[int], **kwargs: object) -> None:
    with_text = Review.objects.filter(pk__in=ids).exclude(text="").values_list("pk", flat=True)
    enqueue(kind="review", ids=with_text)


@receiver(signals.profiles_changed, dispatch_uid="embed-profiles-bulk")
def profiles_changed(sender: type, ids: list[int], **kwargs: object) -> None:
    enqueue(kind="profile", ids=Profile.objects.filter(pk__in=ids).exclude(interests="").values_list("pk", flat=True))


@receiver(post_delete, sender=ModelVersion, dispatch_uid="model-artifact-on-delete")
def model_version_deleted(sender: type, instance: ModelVersion, **kwargs: object) -> None:
    artifact_delete(instance)


@receiver(post_delete, sender=RecommendationExport, dispatch_uid="export-file-on-delete")
def export_deleted(sender: type, instance: RecommendationExport, **kwargs: object) -> None:
    export_file_delete(instance)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="exports-forget-account")
def account_deleting(sender: type, instance: object, **kwargs: object) -> None:
    exports_forget(instance)  # an erased shopper is named in no file left behind


post_save.connect(promotions_changed, sender=Promotion, dispatch_uid="promotions-on-save")
post_delete.connect(promotions_changed, sender=Promotion, dispatch_uid="promotions-on-delete")
m2m_changed.connect(promotions_changed, sender=Promotion.items.through, dispatch_uid="promotions-on-items")
