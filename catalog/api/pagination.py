"""Page-number pagination for the API lists (``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``)."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's, where a ``page`` that is not a whole number from 1 (``abc``, ``0``, ``1.5``), or is
    given twice, is a 400 naming it, like any other bad parameter; a page past the end stays a 404."""

    def get_page_number(self, request: Any, paginator: Any) -> Any:
        from catalog.api.base import GIVE_ONCE  # base's DRF imports load this class

        if len(request.query_params.getlist(self.page_query_param)) > 1:
            raise ValidationError({self.page_query_param: [GIVE_ONCE]})
        page = super().get_page_number(request, paginator)  # 1 when absent or empty; "last" -> the last page
        if isinstance(page, str) and not (re.fullmatch(r"[0-9]+", page) and int(page) >= 1):
            raise ValidationError({self.page_query_param: ["Pages are numbered 1, 2, 3..."]})
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
