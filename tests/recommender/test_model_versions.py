"""Model versions do not pile up: training keeps the newest few (and the active one), and a
deleted version's artifact goes with it, unless another version names the same file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from recommender import serving
from recommender.models import ModelVersion
from recommender.training import ORPHAN_AGE_SECONDS, models_prune

pytestmark = pytest.mark.django_db


def _version(directory: Path, name: str, **fields: object) -> ModelVersion:
    (directory / name).write_bytes(b"model")
    return ModelVersion.objects.create(artifact=name, sha256="0" * 64, **fields)


def _aged(path: Path, seconds: float) -> Path:
    path.write_bytes(b"left over")
    os.utime(path, (time.time() - seconds, time.time() - seconds))
    return path


def test_pruning_keeps_the_newest_and_the_active_version_and_deletes_the_rest_with_their_files(
        settings, tmp_path, django_capture_on_commit_callbacks):
    settings.RECSYS_ARTIFACT_DIR = tmp_path
    ModelVersion.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        versions = [_version(tmp_path, f"hybrid-{n}.pkl", is_active=n == 0) for n in range(7)]  # oldest serves
    clone = ModelVersion.objects.create(artifact="hybrid-3.pkl", sha256="0" * 64)  # newest, shares v3's file
    orphan, fresh = _aged(tmp_path / "hybrid-lost.pkl", ORPHAN_AGE_SECONDS + 60), _aged(tmp_path / "hybrid-new.pkl", 5)
    interrupted = _aged(tmp_path / ".hybrid-20261206-1200-1.tmp", ORPHAN_AGE_SECONDS + 60)
    other = _aged(tmp_path / "notes.txt", 10 * ORPHAN_AGE_SECONDS)
    with django_capture_on_commit_callbacks(execute=True):
        pruned = models_prune(keep=3)
    assert (pruned.versions, pruned.files) == (4, 2)  # v1, v2, v3, v4; the lost artifact and the .tmp
    kept = set(ModelVersion.objects.values_list("pk", flat=True))
    assert kept == {clone.pk, versions[6].pk, versions[5].pk, versions[0].pk}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hybrid-0.pkl", "hybrid-3.pkl", "hybrid-5.pkl", "hybrid-6.pkl", "hybrid-new.pkl", "notes.txt"]
    assert not orphan.exists() and not interrupted.exists() and fresh.exists() and other.exists()
    with pytest.raises(ValueError, match="keep at least one"):
        models_prune(keep=0)


def test_a_version_deleted_in_the_admin_takes_its_artifact_along(settings, tmp_path, staff_client,
                                                                 django_capture_on_commit_callbacks):
    settings.RECSYS_ARTIFACT_DIR = tmp_path
    gone, shared, twin = (_version(tmp_path, name) for name in ("hybrid-a.pkl", "hybrid-b.pkl", "hybrid-c.pkl"))
    twin.artifact = shared.artifact
    twin.save()
    url = reverse("admin:recommender_modelversion_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "delete_selected", "_selected_action": [gone.pk, shared.pk], "post": "yes"})
    assert not ModelVersion.objects.filter(pk__in=[gone.pk, shared.pk]).exists()
    assert not (tmp_path / "hybrid-a.pkl").exists()
    assert (tmp_path / "hybrid-b.pkl").exists()  # the twin still names it


def test_the_train_command_refuses_to_keep_no_version_before_training(ml100k):
    before = list(ModelVersion.objects.values_list("pk", flat=True))
    with pytest.raises(CommandError, match=r"keep at least one model version \(keep=0\)"):
        call_command("train", "--keep", "0")
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == before  # nothing trained, nothing saved


@pytest.mark.slow
def test_training_keeps_the_newest_versions(trained_model, settings, tmp_path, django_capture_on_commit_callbacks):
    """A real training (on MovieLens-100K) with ``--keep 1``: the new version serves and is the
    only one left."""
    settings.RECSYS_ARTIFACT_DIR = tmp_path  # the session's trained artifact stays where it is
    older = _version(tmp_path, "hybrid-older.pkl")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("train", "--keep", "1")
        (version,) = ModelVersion.objects.all()
        assert version.is_active and version.pk not in {older.pk, trained_model.pk}
        assert [p.name for p in tmp_path.iterdir()] == [version.artifact]
    finally:
        serving.model_cache_clear()
