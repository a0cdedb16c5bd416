"""Staff pages in a real browser: the audit page with its charts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from recommender.audits import audit_create, audit_execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_audit_page_renders_its_charts(page, trained_model, shot):
    User.objects.create_superuser("auditor", "auditor@example.com", "auditor-password-2026")
    run = audit_execute(audit_create(sample=60, k=10))
    page.goto("/admin/login/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", "auditor-password-2026")
    page.click("input[type=submit]")
    page.goto(f"/admin/recommender/auditrun/{run.pk}/change/")
    expect(page.locator("svg.chart").first).to_be_visible()
    titles = page.locator("svg.chart").evaluate_all("charts => charts.map(c => c.getAttribute('aria-label'))")
    assert {"Lorenz curve of item exposure", "Recommendations by popularity decile",
            "Fairness re-ranker: NDCG@10 vs exposure Gini", "Trend across audits"} <= set(titles)
    assert any(t.startswith("NDCG@10 and recall by gender") for t in titles)
    expect(page.locator("text=Export CSV")).to_be_visible()
    shot(page, "audit")
    page.goto("/admin/catalog/item/?embedding=fresh")
    expect(page.locator("#result_list")).to_contain_text("fresh")
    shot(page, "admin-items")
