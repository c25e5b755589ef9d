"""cpqsync's Bulk API 2.0 query client against the org simulator (TLS with its CA, OAuth JWT)."""

from __future__ import annotations

import pytest

from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.bulk_query import BulkJobFailed, BulkQueryClient
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.bridge.conftest import sim_settings

pytestmark = pytest.mark.integration


def client(org_sim: OrgSimulator) -> tuple[BulkQueryClient, SalesforceAuth]:
    auth = SalesforceAuth(sim_settings(org_sim))
    return BulkQueryClient(SalesforceRest(auth), first_poll_s=0.01), auth


def test_reads_every_set_by_locator_and_logs_in_again_when_the_session_expires(
    org_sim: OrgSimulator,
) -> None:
    names = {
        org_sim.create("Account", {"Name": f"Set {n}", "Phone": None}): f"Set {n}" for n in range(7)
    }
    bulk, auth = client(org_sim)
    job_id = bulk.create("SELECT Id, Name, Phone, CreatedDate FROM Account")
    info = bulk.wait(job_id)
    assert info["state"] == "JobComplete" and info["numberRecordsProcessed"] == 7

    rows, locator, sets = [], None, 0
    while True:
        found = bulk.results(job_id, locator, 3)
        rows.extend(found.rows)
        sets += 1
        if sets == 2:
            org_sim.expire_sessions()  # the next call answers INVALID_SESSION_ID
        if found.next_locator is None:
            break
        locator = found.next_locator
    assert sets == 3 and auth.logins == 2
    assert {r["Id"]: r["Name"] for r in rows} == names
    assert all(r["Phone"] is None for r in rows)  # an empty CSV value is null
    bulk.delete(job_id)
    assert org_sim.bulk_jobs.all() == []


def test_a_failed_job_raises_with_salesforces_reason(org_sim: OrgSimulator) -> None:
    org_sim.bulk_jobs.fail_next("Query timed out")
    bulk, _auth = client(org_sim)
    job_id = bulk.create("SELECT Id FROM Account")
    with pytest.raises(BulkJobFailed, match=f"{job_id} ended Failed: Query timed out"):
        bulk.wait(job_id)


def test_an_aborted_job_raises(org_sim: OrgSimulator) -> None:
    bulk, _auth = client(org_sim)
    job_id = bulk.create("SELECT Id FROM Account")
    assert bulk.abort(job_id)["state"] == "Aborted"
    with pytest.raises(BulkJobFailed, match="ended Aborted"):
        bulk.wait(job_id)
