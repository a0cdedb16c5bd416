import os
import uuid

import pytest

from recommender.tasks import health


@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_a_task_through_the_real_broker(celery_worker):
    token = uuid.uuid4().hex
    result = health.delay(token).get(timeout=60)
    assert result["token"] == token
    assert result["pid"] != os.getpid()  # it ran in the worker process, not here
    assert result["pgvector"]  # the worker reached the database with the vector extension
