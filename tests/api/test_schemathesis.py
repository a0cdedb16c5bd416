"""Property-based tests of every operation in the served OpenAPI schema (schemathesis).

The Django WSGI app is called in-process on the test database (MovieLens-100K, embedded),
authenticated as staff with a token so every write path runs. Each case runs in a savepoint
that is rolled back, so cases (and DELETE /api/me/) do not leak into one another.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.db import transaction
from hypothesis import HealthCheck, Phase, configuration, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# (identity, generation mode) -> examples per operation
EXAMPLES = {
    ("staff", GenerationMode.POSITIVE): 45,
    ("staff", GenerationMode.NEGATIVE): 25,
    ("anonymous", GenerationMode.POSITIVE): 8,
}
MIN_CASES = 1000
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def _summary(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[1:3])[:300]


@pytest.fixture
def hypothesis_home(tmp_path_factory):
    """Keep Hypothesis' caches out of the source tree."""
    configuration.set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    configuration.set_hypothesis_home_dir(None)


class Tally:
    def __init__(self) -> None:
        self.cases: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.details: list[str] = []


def fuzz(operation: Any, *, identity: str, headers: dict[str, str], mode: GenerationMode, examples: int,
         tally: Tally) -> None:
    """Run ``examples`` generated cases of ``operation``, each in a rolled-back savepoint."""

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        with transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        tally.cases[operation.label] += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # collect all, report together
            tally.failures.append(f"{operation.label} [{identity} {mode.value}]: {_summary(exc)}")
            tally.details.append(f"{tally.failures[-1]}\n{exc}\n{case.as_curl_command(headers)}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (e.g. GET /api/me/ takes no input)
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.slow
@pytest.mark.django_db
def test_every_operation(trained_model, staff, in_process_app, hypothesis_home):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", in_process_app)
    identities = {"staff": {"Authorization": f"Token {staff.auth_token.key}"}, "anonymous": {}}
    tally = Tally()
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for (identity, mode), examples in EXAMPLES.items():
            fuzz(operation, identity=identity, headers=identities[identity], mode=mode, examples=examples,
                 tally=tally)

    total = sum(tally.cases.values())
    print(f"\nschemathesis: {total} cases over {len(tally.cases)} operations in {time.monotonic() - started:.0f}s; "
          f"statuses {dict(sorted(tally.statuses.items()))}; failures {len(tally.failures)}")
    for label, count in sorted(tally.cases.items()):
        print(f"  {count:5d}  {label}")
    for failure, count in Counter(tally.failures).most_common():
        print(f"  FAIL x{count}: {failure}")
    assert not tally.failures, "\n\n".join(tally.details[:5])
    assert len(tally.cases) == len(operations) >= 23 and total >= MIN_CASES
    assert not [code for code in tally.statuses if code >= 500]
