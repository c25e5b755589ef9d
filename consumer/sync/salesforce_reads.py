"""The sync's reads from Salesforce: SOQL by id list, with safe quoting and classified failures.

Every query the sync emits is built here, so there is one place where ids are quoted
(``cpqsync.soql.quote``: no id can break out of its literal) and one place where
simple-salesforce's exceptions are classified: ``SalesforceDown`` (the org cannot serve us now:
the engine holds the work until it can), ``SalesforceUnavailable`` (a locked row: retry later)
or ``SalesforceRejected`` (an Error result now).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from simple_salesforce.exceptions import SalesforceError

from consumer.sync.failures import SalesforceDown, SalesforceRejected, SalesforceUnavailable
from cpqsync.salesforce.auth import SalesforceAuthError
from cpqsync.salesforce.rest import (
    RetryableSalesforceError,
    SalesforceRest,
    error_codes,
    what_to_check,
)
from cpqsync.soql import quote

# Ids per `Id IN (...)` query: 200 ids keep the GET URL near 5 kB, far below Salesforce's
# 16 kB URI limit even with a long field list, and well inside SOQL's 100,000-character cap.
ID_CHUNK = 200
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def chunked(items: Sequence[str], size: int = ID_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def select_list(fields: Iterable[str]) -> str:
    """Fields for SELECT, each once (Salesforce rejects a field selected twice, in any case)."""
    seen: dict[str, str] = {}
    for name in fields:
        seen.setdefault(name.lower(), name)
    return ", ".join(seen.values())


class SalesforceReader:
    def __init__(self, rest: SalesforceRest) -> None:
        self._rest = rest

    @property
    def instance_url(self) -> str:
        return self._rest.auth.session().instance_url

    def by_ids(
        self, object_type: str, fields: Iterable[str], ids: Iterable[str], *, id_field: str = "Id"
    ) -> list[dict[str, Any]]:
        """Records of ``object_type`` whose ``id_field`` is one of ``ids`` (deleted: absent)."""
        # An id that is not one (a hand-typed request, a corrupt event) names no record; the
        # org would refuse the whole query over it (INVALID_QUERY_FILTER_OPERATOR).
        wanted = sorted({i for i in ids if _SALESFORCE_ID.fullmatch(i)})
        if not wanted:
            return []
        columns = select_list(["Id", *fields])
        out: list[dict[str, Any]] = []
        for chunk in chunked(wanted):
            literals = ", ".join(quote(record_id) for record_id in chunk)
            # Names come from the planner's field table; every id is a quoted literal.
            soql = f"SELECT {columns} FROM {object_type} WHERE {id_field} IN ({literals})"  # noqa: S608
            out.extend(self.query(soql))
        return out

    def query(self, soql: str) -> list[dict[str, Any]]:
        """All pages of one query, as one list."""
        try:
            return [record for page in self._rest.query_pages(soql) for record in page]
        except RetryableSalesforceError as exc:
            if exc.systemic:
                raise SalesforceDown(
                    f"Salesforce Error: {exc}", setting=what_to_check(exc)
                ) from exc
            raise SalesforceUnavailable(str(exc)) from exc
        except SalesforceAuthError as exc:
            raise SalesforceDown(f"Salesforce Error: {exc}", setting=what_to_check(exc)) from exc
        except SalesforceError as exc:
            raise SalesforceRejected(_describe(exc)) from exc

    def probe(self) -> None:
        """One cheap query: raises ``SalesforceDown`` while the org cannot serve us."""
        self.query("SELECT Id FROM Account LIMIT 1")  # an object the sync reads anyway


def _describe(exc: SalesforceError) -> str:
    content: Any = exc.content
    items = content if isinstance(content, list) else [content]
    messages = [
        str(item.get("message")) for item in items if isinstance(item, dict) and "message" in item
    ]
    codes = error_codes(exc)
    detail = "; ".join(messages) or f"HTTP {exc.status}"
    return f"{', '.join(codes) + ': ' if codes else ''}{detail}"
