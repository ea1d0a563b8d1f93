"""Pages of a list: the count and one page of rows of a select, with the page number read
from the request and kept within bounds (a page past the end shows the last one)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from flask import request
from sqlalchemy import func, select
from sqlalchemy.sql import Select


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def requested_page() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < len(value) < 7 and int(value) > 0 else 1


def paginate(s, query: Select, size: int, number: int | None = None) -> Page:
    """`query` must be ordered (a stable order makes pages that do not overlap)."""
    total = s.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    pages = max(1, -(-total // size))
    number = min(number or requested_page(), pages)
    items = s.execute(query.limit(size).offset((number - 1) * size)).scalars().all()
    return Page(items, number, size, total)


def paginate_list(rows: Sequence[Any], size: int, number: int | None = None) -> Page:
    """One page of rows already in memory (the NLU inbox's groups, made in Python)."""
    pages = max(1, -(-len(rows) // size))
    number = min(number or requested_page(), pages)
    return Page(rows[(number - 1) * size:number * size], number, size, len(rows))
