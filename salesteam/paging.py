"""Pagination for lists that can hold a whole company's rows."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Counts at most `cap` objects (LIST_COUNT_CAP by default): past it, `capped` is true, the count
    reads `cap` and the pages end there (filters narrow the list down). An admin's deal list would
    otherwise count every deal of the company, a million rows, on each page view; counting the first
    `cap` + 1 stops early."""

    def __init__(self, object_list, per_page, *, cap: int | None = None, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.cap = settings.LIST_COUNT_CAP if cap is None else cap

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.cap)

    @property
    def capped(self) -> bool:
        return self._counted > self.cap

    @cached_property
    def _counted(self) -> int:
        # Without the list's ORDER BY, PostgreSQL counts from an index instead of sorting the rows.
        return self.object_list.order_by()[: self.cap + 1].count()
