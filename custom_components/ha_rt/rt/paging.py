"""Paging through REST2 collection responses.

RT returns a search as {count, page, per_page, pages, total, items, next_page}, but
which of these it fills depends on the version and on the token's rights:

- RT 5.0.3 sends `pages` as 0.0 (a float) when nothing matches, and `pages`/`total` as
  null for asset searches unless the user may see every asset.
- RT 5.0.5 and newer may send `pages`/`total` as null for ticket searches too; 5.0.6 and
  newer add `next_page` even then.
- RT 5.0.3 returns an empty page past the end. RT 5.0.6 and newer return the last page
  again, with its own page number.
- Every version caps `per_page` at 100.
- `next_page` is built from RT's $WebBaseURL (RT 5.0.3 adds a stray `&=&`), which differs
  from the client's URL when RT sits behind a proxy that RT does not know about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from yarl import URL

from .errors import RTInvalidResponseError

# RT caps per_page at 100.
PER_PAGE = 100

# Asset searches that include CustomFields cost RT 5.0.3 30 to 80 ms per asset, measured
# on 2 cores under a load average of 7 to 9. A page of 100 can then take 8 s, close to the
# client's default request timeout, so these searches use smaller pages.
PER_PAGE_WITH_CUSTOM_FIELDS = 25

# Upper bound on pages fetched for one search (100 000 items at 100 per page). A search
# that needs more is treated as a malformed response instead of looping forever.
MAX_PAGES = 1000


def _optional_count(data: dict[str, Any], key: str, context: str) -> int | None:
    """Return a non-negative whole number sent as an int or a float (RT sends 0.0)."""
    value = data.get(key)
    if value is None:
        return None

    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"Invalid RT response for {context}: {key!r} is {value!r}, not a number"
        raise RTInvalidResponseError(msg)

    if value < 0 or (isinstance(value, float) and not value.is_integer()):
        msg = f"Invalid RT response for {context}: {key!r} is {value!r}, not a whole number"
        raise RTInvalidResponseError(msg)

    return int(value)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a REST2 collection response."""

    items: list[dict[str, Any]]
    page: int | None
    per_page: int | None
    pages: int | None
    next_page: str | None

    @classmethod
    def from_json(cls, data: object, context: str) -> Self:
        """Parse a collection response. `context` names the search in error messages."""
        if not isinstance(data, dict):
            msg = f"Invalid RT response for {context}: expected a JSON object with 'items'"
            raise RTInvalidResponseError(msg)

        items = data.get("items")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            msg = f"Invalid RT response for {context}: 'items' is missing or not a list of objects"
            raise RTInvalidResponseError(msg)

        next_page = data.get("next_page")
        if next_page is not None and not isinstance(next_page, str):
            msg = f"Invalid RT response for {context}: 'next_page' is not a string"
            raise RTInvalidResponseError(msg)

        return cls(
            items=items,
            page=_optional_count(data, "page", context),
            per_page=_optional_count(data, "per_page", context),
            pages=_optional_count(data, "pages", context),
            next_page=next_page,
        )

    def is_last(self, requested_page: int, requested_per_page: int) -> bool:
        """Tell whether no page follows this one, which was requested as `requested_page`."""
        per_page = self.per_page or requested_per_page
        if len(self.items) < per_page:
            return True

        return self.pages is not None and requested_page >= self.pages


def page_url(first_page: URL, page: int) -> URL:
    """Return the URL of page number `page` of the search that `first_page` starts."""
    return first_page.update_query(page=str(page))


def next_page_url(next_page: str | None, first_page: URL, page: int) -> URL:
    """Return the URL to fetch page number `page`.

    The client sends its API token with every request. So it follows RT's `next_page`
    only when that URL has the scheme, host, port and path of the first request, no user
    name, and the expected page number. Otherwise it builds the URL from the first request.
    """
    if next_page is None:
        return page_url(first_page, page)

    try:
        candidate = URL(next_page)
    except ValueError:
        return page_url(first_page, page)

    same_origin = (
        candidate.user is None
        and candidate.password is None
        and candidate.scheme == first_page.scheme
        and (candidate.host or "").lower() == (first_page.host or "").lower()
        and candidate.port == first_page.port
        and candidate.path == first_page.path
    )
    if not same_origin or candidate.query.get("page") != str(page):
        return page_url(first_page, page)

    # RT 5.0.3 leaves an empty `=` pair where it removed the old page parameter.
    return candidate.with_query([(key, value) for key, value in candidate.query.items() if key])
