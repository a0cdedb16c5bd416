"""One budget for password attempts: logging in (storefront, admin and API), signing up, and
changing or resetting a password share the API's ``login`` rate (``API_THROTTLE_LOGIN``, 10 a
minute), counted per client address (per account once signed in), so no form is a way around
another's limit. The API's views apply it through DRF; the HTML views through this module."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import ScopedRateThrottle


class _LoginScope:  # what ScopedRateThrottle reads off a view
    throttle_scope = "login"


def password_attempt_wait(request: HttpRequest) -> int | None:
    """Count one attempt by ``request``'s client: ``None`` while within the rate, else the
    seconds until the next attempt is allowed. The API's cache keys, so attempts there count too."""
    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, _LoginScope()):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def refuse_message(request: HttpRequest, wait: int) -> None:
    messages.error(request, f"Too many attempts from here: wait {wait} second{'s' if wait != 1 else ''} "
                            "and try again.")


class PasswordAttemptsThrottled:
    """For Django's form views taking a password or sending a reset link: a POST over the rate
    is not looked at; the page comes back with an empty form, a message and a 429."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (wait := password_attempt_wait(request)) is None:
            return super().post(request, *args, **kwargs)  # type: ignore[misc]
        refuse_message(request, wait)
        form_kwargs = {k: v for k, v in self.get_form_kwargs().items() if k not in ("data", "files")}  # type: ignore[attr-defined]
        form = self.get_form_class()(**form_kwargs)  # type: ignore[attr-defined]
        response = self.render_to_response(self.get_context_data(form=form))  # type: ignore[attr-defined]
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response
