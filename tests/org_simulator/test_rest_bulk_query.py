"""Bulk API 2.0 query jobs on the simulator, through simple-salesforce's bulk2 client and plain
HTTP where a test needs the raw headers: job states, CSV sets, locators, abort, delete, errors."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.bulk2 import SFBulk2Handler, SFBulk2Type
from simple_salesforce.exceptions import SalesforceResourceNotFound

from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.org_simulator.rest_support import org, sf  # noqa: F401

pytestmark = pytest.mark.integration


def tag() -> str:
    return uuid.uuid4().hex[:10]


def jobs_url(sf: Salesforce, *parts: str) -> str:  # noqa: F811
    return sf.base_url + "/".join(["jobs", "query", *parts])


def call(sf: Salesforce, method: str, url: str, **kwargs: Any) -> requests.Response:  # noqa: F811
    headers = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    return sf.session.request(method, url, headers=headers, **kwargs)


def create(sf: Salesforce, **body: Any) -> requests.Response:  # noqa: F811
    return call(sf, "POST", jobs_url(sf), data=json.dumps(body))


def rows(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def bulk2(sf: Salesforce) -> SFBulk2Type:  # noqa: F811
    """simple-salesforce's Bulk API 2.0 client for Account."""
    handler = sf.bulk2
    assert isinstance(handler, SFBulk2Handler)
    return handler.Account


def accounts(sf: Salesforce, name: str, count: int) -> list[str]:  # noqa: F811
    return [sf.Account.create({"Name": f"{name} {n}"})["id"] for n in range(count)]


def test_simple_salesforce_bulk2_query_reads_every_set(sf: Salesforce) -> None:  # noqa: F811
    name = f"Bulk {tag()}"
    ids = accounts(sf, name, 7)
    soql = f"SELECT Id, Name FROM Account WHERE Name LIKE '{name}%'"
    sets = list(bulk2(sf).query(soql, max_records=3, wait=0))
    assert len(sets) == 3  # 3 + 3 + 1 rows, each set with its own header
    found = [row for text in sets for row in rows(text)[1:]]
    assert all(rows(text)[0] == ["Id", "Name"] for text in sets)
    assert sorted(r[0] for r in found) == sorted(ids)


def test_job_moves_through_its_states_and_pages_by_locator(
    org: OrgSimulator,  # noqa: F811
    sf: Salesforce,  # noqa: F811
) -> None:
    name = f"States {tag()}"
    ids = accounts(sf, name, 5)
    soql = f"SELECT Id, Name, CreatedDate FROM Account WHERE Name LIKE '{name}%'"
    created = create(sf, operation="query", query=soql)
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["id"].startswith("750") and job["state"] == "UploadComplete"
    assert (job["operation"], job["object"], job["contentType"]) == ("query", "Account", "CSV")
    assert (job["columnDelimiter"], job["lineEnding"]) == ("COMMA", "LF")

    early = call(sf, "GET", jobs_url(sf, job["id"], "results"))
    assert early.status_code == 412 and early.json()[0]["errorCode"] == "JOB_NOT_COMPLETE"
    states = [call(sf, "GET", jobs_url(sf, job["id"])).json()["state"] for _ in range(3)]
    assert states == ["InProgress", "JobComplete", "JobComplete"]
    info = call(sf, "GET", jobs_url(sf, job["id"])).json()
    assert info["jobType"] == "V2Query" and info["numberRecordsProcessed"] == 5

    seen: list[list[str]] = []
    locator = None
    counts = []
    while True:
        params: dict[str, Any] = {"maxRecords": 2}
        if locator:
            params["locator"] = locator
        page = call(sf, "GET", jobs_url(sf, job["id"], "results"), params=params)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/csv")
        counts.append(int(page.headers["Sforce-NumberOfRecords"]))
        body = rows(page.text)
        assert body[0] == ["Id", "Name", "CreatedDate"]
        seen.extend(body[1:])
        locator = page.headers["Sforce-Locator"]
        if locator == "null":
            break
    assert counts == [2, 2, 1]
    assert sorted(r[0] for r in seen) == sorted(ids)
    assert all(r[2].endswith("Z") and "T" in r[2] for r in seen)  # Bulk CSV datetimes are UTC Z
    # a locator stays valid while the job exists
    again = call(
        sf, "GET", jobs_url(sf, job["id"], "results"), params={"locator": "Mg", "maxRecords": 2}
    )
    assert rows(again.text)[1:] == seen[2:4]


def test_relationship_columns_are_dotted_and_null_is_empty(sf: Salesforce) -> None:  # noqa: F811
    name = f"Rel {tag()}"
    account = sf.Account.create({"Name": name})["id"]
    contact = sf.Contact.create({"LastName": name, "AccountId": account})["id"]
    orphan = sf.Contact.create({"LastName": name})["id"]
    soql = f"SELECT Id, Account.Name, Email FROM Contact WHERE LastName = '{name}'"
    job = create(sf, operation="query", query=soql, columnDelimiter="PIPE", lineEnding="CRLF")
    job_id = job.json()["id"]
    for _ in range(2):
        call(sf, "GET", jobs_url(sf, job_id))
    text = call(sf, "GET", jobs_url(sf, job_id, "results")).text
    assert "\r\n" in text
    table = {r[0]: r for r in rows(text, "|")[1:]}
    assert rows(text, "|")[0] == ["Id", "Account.Name", "Email"]
    assert table[contact] == [contact, name, ""]
    assert table[orphan] == [orphan, "", ""]


def test_query_all_includes_deleted_records(sf: Salesforce) -> None:  # noqa: F811
    name = f"Gone {tag()}"
    kept, gone = accounts(sf, name, 2)
    sf.Account.delete(gone)
    soql = f"SELECT Id FROM Account WHERE Name LIKE '{name}%'"
    live = [r for t in bulk2(sf).query(soql, wait=0) for r in rows(t)[1:]]
    everything = [r for t in bulk2(sf).query_all(soql, wait=0) for r in rows(t)[1:]]
    assert [r[0] for r in live] == [kept]
    assert sorted(r[0] for r in everything) == sorted([kept, gone])


def test_abort_then_delete(sf: Salesforce) -> None:  # noqa: F811
    job_id = create(sf, operation="query", query="SELECT Id FROM Account").json()["id"]
    busy = call(sf, "DELETE", jobs_url(sf, job_id))
    assert busy.status_code == 400 and busy.json()[0]["errorCode"] == "API_ERROR"
    aborted = call(sf, "PATCH", jobs_url(sf, job_id), data=json.dumps({"state": "Aborted"}))
    assert aborted.status_code == 200 and aborted.json()["state"] == "Aborted"
    again = call(sf, "PATCH", jobs_url(sf, job_id), data=json.dumps({"state": "Aborted"}))
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert call(sf, "DELETE", jobs_url(sf, job_id)).status_code == 204
    gone = call(sf, "GET", jobs_url(sf, job_id))
    assert gone.status_code == 404 and gone.json()[0]["errorCode"] == "NOT_FOUND"


def test_a_failed_job_reports_its_error_message(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    org.bulk_jobs.fail_next("Query timed out: the query took longer than allowed")
    with pytest.raises(Exception, match="Query timed out"):
        list(bulk2(sf).query("SELECT Id FROM Account", wait=0))


ACCOUNT_IDS = "SELECT Id FROM Account"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operation": "insert", "query": ACCOUNT_IDS}, "INVALIDJOB"),
        ({"operation": "query"}, "INVALIDJOB"),
        ({"operation": "query", "query": ACCOUNT_IDS, "contentType": "JSON"}, "INVALIDJOB"),
        ({"operation": "query", "query": ACCOUNT_IDS, "lineEnding": "CR"}, "INVALIDJOB"),
        ({"operation": "query", "query": "SELECT COUNT() FROM Account"}, "INVALIDJOB"),
        (
            {"operation": "query", "query": "SELECT Id, (SELECT Id FROM Contacts) FROM Account"},
            "INVALIDJOB",
        ),
        ({"operation": "query", "query": "SELECT Id FROM Account LIMIT 5 OFFSET 2"}, "INVALIDJOB"),
        ({"operation": "query", "query": "SELECT BillingAddress FROM Account"}, "INVALIDJOB"),
        ({"operation": "query", "query": "SELECT Nope__c FROM Account"}, "INVALID_FIELD"),
        ({"operation": "query", "query": "SELECT FROM Account"}, "MALFORMED_QUERY"),
    ],
)
def test_refused_jobs_answer_in_salesforce_shape(
    sf: Salesforce,  # noqa: F811
    body: dict[str, Any],
    code: str,
) -> None:
    answer = create(sf, **body)
    assert answer.status_code == 400
    (error,) = answer.json()
    assert error["errorCode"] == code and error["message"]


def test_disabled_bulk_api_and_unknown_jobs(org: OrgSimulator, sf: Salesforce) -> None:  # noqa: F811
    with pytest.raises(SalesforceResourceNotFound):
        bulk2(sf)._client.get_job("750000000000000AAA", True)
    org.bulk_jobs.enabled = False
    try:
        answer = create(sf, operation="query", query="SELECT Id FROM Account")
        assert answer.status_code == 403
        assert answer.json()[0]["errorCode"] == "API_DISABLED_FOR_ORG"
    finally:
        org.bulk_jobs.enabled = True
    assert create(sf, operation="query", query="SELECT Id FROM Account").status_code == 200
