"""Bulk API 2.0 query jobs: ``/services/data/vXX.X/jobs/query`` as Salesforce documents it.

Create (POST), list (GET), job info (GET …/{id}), abort (PATCH ``{"state": "Aborted"}``),
delete (DELETE, only once terminated) and results (GET …/{id}/results with ``locator`` and
``maxRecords``; ``Sforce-Locator`` and ``Sforce-NumberOfRecords`` headers, CSV body). What
Bulk API 2.0 refuses in a query (aggregates such as COUNT(), OFFSET, parent-to-child
subqueries, compound fields) is refused when the job is created.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cpqsync.soql import SoqlSyntaxError, parse
from cpqsync_sandbox.org.errors import OrgError
from cpqsync_sandbox.org.query_engine import execute
from cpqsync_sandbox.org.rest.bulk_jobs import (
    COLUMN_DELIMITERS,
    LINE_ENDINGS,
    OPERATIONS,
    BulkQueryJobs,
)
from cpqsync_sandbox.org.rest.context import RestContext
from cpqsync_sandbox.org.rest.responses import CONTEXT_KEY, SESSION_KEY, json_object, sf_json


def _jobs(request: web.Request) -> BulkQueryJobs:
    ctx: RestContext = request.app[CONTEXT_KEY]
    ctx.bulk.check_enabled()
    return ctx.bulk


def _invalid_job(message: str) -> OrgError:
    return OrgError("INVALIDJOB", message)


def _choice(body: dict[str, Any], key: str, allowed: Any, default: str) -> str:
    value = body.get(key, default)
    if value not in allowed:
        raise _invalid_job(f"Invalid {key}: {value!r}; valid values are {', '.join(allowed)}")
    return str(value)


def _refuse_unsupported(soql: str) -> None:
    """What Bulk API 2.0 does not run, though the REST query resource would."""
    try:
        query = parse(soql)
    except SoqlSyntaxError as exc:
        raise OrgError("MALFORMED_QUERY", str(exc)) from None
    if query.is_count:
        raise _invalid_job("Aggregate functions such as COUNT() are not supported in Bulk API 2.0")
    if query.offset is not None:
        raise _invalid_job("OFFSET is not supported in Bulk API 2.0 queries")
    if query.subqueries:
        raise _invalid_job("Parent-to-child relationship queries are not supported in Bulk API 2.0")


async def create_job(request: web.Request) -> web.Response:
    jobs = _jobs(request)
    ctx: RestContext = request.app[CONTEXT_KEY]
    body = await json_object(request)
    operation = body.get("operation")
    if operation not in OPERATIONS:
        raise _invalid_job(f"Invalid operation: {operation!r}; valid values are query, queryAll")
    soql = body.get("query")
    if not isinstance(soql, str) or not soql.strip():
        raise _invalid_job("A query is required for a query job")
    _choice(body, "contentType", ("CSV",), "CSV")
    delimiter = _choice(body, "columnDelimiter", tuple(COLUMN_DELIMITERS), "COMMA")
    line_ending = _choice(body, "lineEnding", tuple(LINE_ENDINGS), "LF")
    _refuse_unsupported(soql)
    version = request.match_info["version"]
    result = execute(ctx.store, soql, include_deleted=operation == "queryAll", api_version=version)
    compound = [c.name for c in result.columns if c.compound]
    if compound:
        raise _invalid_job(
            f"Compound fields are not supported in Bulk API 2.0: {', '.join(compound)}; "
            "query their components instead"
        )
    job = jobs.add(
        operation=operation,
        object=parse(soql).object_name,
        created_by=request[SESSION_KEY].user_id,
        api_version=version,
        column_delimiter=delimiter,
        line_ending=line_ending,
        columns=result.columns,
        rows=result.records,
    )
    return sf_json(job.created_info())


async def list_jobs(request: web.Request) -> web.Response:
    jobs = _jobs(request)
    records = [job.info() for job in jobs.all()]
    return sf_json({"done": True, "records": records, "nextRecordsUrl": None})


async def job_info(request: web.Request) -> web.Response:
    return sf_json(_jobs(request).observe(request.match_info["job_id"]).info())


async def update_job(request: web.Request) -> web.Response:
    jobs = _jobs(request)
    body = await json_object(request)
    if body.get("state") != "Aborted":
        raise OrgError(
            "INVALIDJOBSTATE",
            f"Invalid state for a query job: {body.get('state')!r}; only Aborted can be set",
        )
    return sf_json(jobs.abort(request.match_info["job_id"]).info())


async def delete_job(request: web.Request) -> web.Response:
    _jobs(request).delete(request.match_info["job_id"])
    return web.Response(status=204)


async def results(request: web.Request) -> web.Response:
    jobs = _jobs(request)
    raw_max = request.query.get("maxRecords")
    max_records = None
    if raw_max is not None:
        if not raw_max.isdigit() or int(raw_max) < 1:
            raise OrgError("INVALID_PARAMETER", f"maxRecords must be a positive integer: {raw_max}")
        max_records = int(raw_max)
    found = jobs.results(request.match_info["job_id"], request.query.get("locator"), max_records)
    response = web.Response(text=found.csv, content_type="text/csv", charset="UTF-8")
    response.headers["Sforce-Locator"] = found.next_locator
    response.headers["Sforce-NumberOfRecords"] = str(found.count)
    return response
