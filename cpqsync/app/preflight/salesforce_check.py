"""Salesforce: the configured login works, and every object and field the settings name exists.

A login failure names the flow's settings; an unknown field names the setting that
mentions it (``sync.filters.Order``, ``mappings.customer.custom.email``), since a filter
or mapping on a field the org lacks would otherwise fail every sync at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError

from cpqsync.app.preflight.field_references import FieldReference, References
from cpqsync.app.preflight.result import CheckResult
from cpqsync.salesforce.auth import (
    FLOW_SETTINGS,
    SalesforceAuth,
    SalesforceAuthError,
    SalesforceLoginUnreachable,
)
from cpqsync.salesforce.rest import RetryableSalesforceError, SalesforceRest
from cpqsync.settings import Settings

Describe = Callable[[str], dict[str, Any] | None]


def check_salesforce_login(settings: Settings) -> tuple[CheckResult, SalesforceRest | None]:
    sf = settings.salesforce
    flow = sf.auth_flow
    try:
        auth = SalesforceAuth(sf)
        session = auth.session()
    except SalesforceAuthError as exc:
        named = ", ".join(f"salesforce.{name}" for name in ("login_url", *FLOW_SETTINGS[flow]))
        transient = isinstance(exc, SalesforceLoginUnreachable)
        return CheckResult("salesforce login", False, f"{exc}; check {named}", transient), None
    except (OSError, ValueError) as exc:
        return CheckResult("salesforce login", False, str(exc)), None
    detail = f"{flow} as org {session.org_id} at {session.instance_url}"
    return CheckResult("salesforce login", True, detail), SalesforceRest(auth)


def check_salesforce_fields(
    settings: Settings, rest: SalesforceRest, named: References
) -> CheckResult:
    references = named(settings)
    describe = _describer(rest)
    try:
        for reference in references:
            problem = _missing(reference, describe)
            if problem:
                return CheckResult("salesforce fields", False, problem)
    except (RetryableSalesforceError, requests.RequestException) as exc:
        return CheckResult("salesforce fields", False, f"describe failed: {exc}", transient=True)
    return CheckResult(
        "salesforce fields", True, f"the {len(references)} field(s) the role relies on exist"
    )


def _describer(rest: SalesforceRest) -> Describe:
    cache: dict[str, dict[str, Any] | None] = {}

    def describe(sobject: str) -> dict[str, Any] | None:
        key = sobject.lower()
        if key not in cache:
            try:
                cache[key] = rest.call(lambda sf: getattr(sf, sobject).describe())
            except SalesforceError as exc:
                if exc.status != 404:
                    raise RetryableSalesforceError(
                        f"describe {sobject} answered HTTP {exc.status}"
                    ) from exc
                cache[key] = None
        return cache[key]

    return describe


def _missing(reference: FieldReference, describe: Describe) -> str | None:
    """What is wrong with ``reference`` in this org, or None when every step exists."""
    sobject = reference.root
    where = f"{reference.setting} {reference.verb} {reference.text}"
    for position, name in enumerate(reference.path):
        described = describe(sobject)
        if described is None:
            return f"{where}: the org has no object {sobject}"
        fields = described.get("fields", [])
        last = position == len(reference.path) - 1
        if last:
            if not any(str(f.get("name", "")).lower() == name.lower() for f in fields):
                return f"{where}: {sobject} has no field {name}"
            return None
        target = next(
            (
                f.get("referenceTo") or []
                for f in fields
                if str(f.get("relationshipName") or "").lower() == name.lower()
            ),
            None,
        )
        if not target:
            return f"{where}: {sobject} has no lookup relationship {name}"
        sobject = str(target[0])
    return None
