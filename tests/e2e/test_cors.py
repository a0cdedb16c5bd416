"""A browser app on another site calls the API with a token, only from the origins listed in
API_CORS_ORIGINS. The live server is both sites: http://localhost:PORT is the app's origin,
http://127.0.0.1:PORT the API's."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

FETCH = """async ([url, token]) => {
  try {
    const response = await fetch(url, {headers: {Authorization: `Token ${token}`}});
    return {status: response.status, body: await response.json()};
  } catch (error) { return {error: String(error)}; }
}"""


def test_a_browser_app_on_another_origin_calls_the_api_only_when_its_origin_is_allowed(page, live_server, ml100k,
                                                                                       settings):
    user = User.objects.create_user("app-user")
    token = Token.objects.create(user=user).key
    page.goto("/healthz")  # the app's page, on http://localhost:PORT
    api = live_server.url.replace("localhost", "127.0.0.1") + "/api/me/"
    assert page.evaluate(FETCH, [api, token]) == {"error": "TypeError: Failed to fetch"}  # the default: none

    settings.CORS_ALLOWED_ORIGINS = [live_server.url]
    answer = page.evaluate(FETCH, [api, token])  # a preflight (the Authorization header), then the call
    assert answer["status"] == 200 and answer["body"]["username"] == "app-user"

    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example.com"]
    assert page.evaluate(FETCH, [api, token]) == {"error": "TypeError: Failed to fetch"}
