"""Concurrent hydrations merged into few Salesforce reads (``ReadRounds``): who reads what, and
what each caller gets back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from consumer.sync.hydration import Hydrator
from consumer.sync.read_rounds import ReadRounds
from consumer.sync.salesforce_reads import SalesforceReader
from consumer.sync.triggers import RecordRef
from cpqsync.salesforce.auth import SalesforceAuth
from cpqsync.salesforce.rest import SalesforceRest
from cpqsync.settings import Settings
from cpqsync_sandbox.org.simulator import OrgSimulator
from tests.sync.stack import GOOD_ORDERS, org_settings, wait_for


class _Reads:
    """A read that records each round's keys and, while ``hold`` is clear, blocks in it."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.rounds: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self._refuse = refuse
        self._lock = threading.Lock()

    def __call__(self, keys: list[str]) -> Mapping[str, dict[str, Any]]:
        with self._lock:
            self.rounds.append(list(keys))
        self.hold.wait(10)
        if self._refuse & set(keys):
            raise LookupError(f"refused {sorted(self._refuse & set(keys))}")
        return {key: {"id": key} for key in keys if not key.startswith("gone")}


def _in_threads(calls: list[Callable[[], Any]]) -> tuple[list[Any], list[threading.Thread]]:
    answers: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            answers[index] = calls[index]()
        except Exception as error:  # the test looks at it
            answers[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    return answers, threads


def test_a_lone_read_goes_out_at_once_with_its_own_keys() -> None:
    reads = _Reads()
    rounds = ReadRounds(reads, rounds=1)
    assert rounds.get(["a", "b", "gone-c"]) == {"a": {"id": "a"}, "b": {"id": "b"}}
    assert reads.rounds == [["a", "b", "gone-c"]]


def test_callers_arriving_while_the_rounds_are_busy_share_the_next_read() -> None:
    reads = _Reads()
    rounds = ReadRounds(reads, rounds=1)
    reads.hold.clear()
    first, first_threads = _in_threads([lambda: rounds.get(["a"])])
    wait_for(lambda: len(reads.rounds) == 1, timeout=10)
    keys = [[f"k{n}", "shared"] for n in range(10)]
    answers, threads = _in_threads([lambda k=k: rounds.get(k) for k in keys])
    wait_for(lambda: rounds.waiting == 10, timeout=10)
    reads.hold.set()
    for thread in [*first_threads, *threads]:
        thread.join(10)

    # Eleven batches, two reads: the first alone, then everyone who waited for it.
    assert len(reads.rounds) == 2
    assert sorted(reads.rounds[1]) == sorted({key for k in keys for key in k})
    assert first == [{"a": {"id": "a"}}]
    for k, answer in zip(keys, answers, strict=True):
        assert answer == {key: {"id": key} for key in k}  # its own keys, no one else's
    # A key two callers asked for: each gets a record of its own to work on.
    shared = [answer["shared"] for answer in answers]
    assert len({id(record) for record in shared}) == len(shared)


def test_a_round_takes_no_more_keys_than_its_cap() -> None:
    reads = _Reads()
    rounds = ReadRounds(reads, rounds=1, max_keys=4)
    reads.hold.clear()
    _, first = _in_threads([lambda: rounds.get(["a"])])
    wait_for(lambda: len(reads.rounds) == 1, timeout=10)
    _, threads = _in_threads([lambda n=n: rounds.get([f"k{n}", f"j{n}"]) for n in range(5)])
    wait_for(lambda: rounds.waiting == 5, timeout=10)
    reads.hold.set()
    for thread in [*first, *threads]:
        thread.join(10)
    assert [len(keys) for keys in reads.rounds] == [1, 4, 4, 2]


def test_a_merged_read_that_fails_answers_each_caller_as_its_own_read_would() -> None:
    reads = _Reads(refuse=frozenset({"bad"}))
    rounds = ReadRounds(reads, rounds=1)
    reads.hold.clear()
    _, first = _in_threads([lambda: rounds.get(["a"])])
    wait_for(lambda: len(reads.rounds) == 1, timeout=10)
    answers, threads = _in_threads([lambda: rounds.get(["bad", "b"]), lambda: rounds.get(["c"])])
    wait_for(lambda: rounds.waiting == 2, timeout=10)
    reads.hold.set()
    for thread in [*first, *threads]:
        thread.join(10)

    refused, fine = answers
    assert isinstance(refused, LookupError)  # the batch with the refused key fails
    assert fine == {"c": {"id": "c"}}  # the other one does not fail with it
    # The first read, the merged one that failed, then each caller's own.
    assert sorted(map(sorted, reads.rounds[2:])) == [["b", "bad"], ["c"]]


def test_a_lone_read_that_fails_raises_to_its_caller() -> None:
    reads = _Reads(refuse=frozenset({"bad"}))
    rounds = ReadRounds(reads)
    with pytest.raises(LookupError):
        rounds.get(["bad"])
    assert rounds.get(["a"]) == {"a": {"id": "a"}}  # the round was given back


def test_batches_hydrated_while_the_org_answers_slowly_share_queries(org: OrgSimulator) -> None:
    """What a burst of orders looks like to the root stage: many workers hydrating a few
    roots each at the same moment. Merged, they cost the org one round of queries, not one
    per batch, and every batch still gets exactly its own records."""
    reader = SalesforceReader(SalesforceRest(SalesforceAuth(org_settings(org), pool_size=16)))
    hydrator = Hydrator(reader, Settings(), rounds=1)
    orders = [RecordRef("Order", org.dataset.id(ref)) for ref in GOOD_ORDERS]
    hydrator.hydrate(orders[:1])  # log in first
    org.clear_request_log()
    with org.store.lock:  # the org is busy: the first batch's first query waits
        first, first_threads = _in_threads([lambda: hydrator.hydrate(orders[:1])])
        wait_for(lambda: hydrator.rounds.reads == 2, timeout=10)
        batches = [[order] for order in orders[1:]] * 3  # each order in three batches
        answers, threads = _in_threads([lambda b=b: hydrator.hydrate(b) for b in batches])
        wait_for(lambda: hydrator.rounds.waiting == len(batches), timeout=10)
    for thread in [*first_threads, *threads]:
        thread.join(30)

    assert list(first[0]) == orders[:1]
    for batch, answer in zip(batches, answers, strict=True):
        assert list(answer) == batch
        assert answer[batch[0]]["Id"][:15] == batch[0].id[:15]
    # Two rounds of five queries (orders with lines, line schedules and rates, product
    # schedules and rates) where each batch alone would have cost five.
    assert len(org.request_log) <= 10, [entry.path for entry in org.request_log]


def test_a_caller_whose_keys_another_round_reads_waits_for_it_when_a_round_frees() -> None:
    gates = [threading.Event() for _ in range(4)]
    calls: list[list[str]] = []
    lock = threading.Lock()

    def read(keys: list[str]) -> Mapping[str, dict[str, Any]]:
        with lock:
            gate = gates[len(calls)]
            calls.append(list(keys))
        gate.wait(10)
        return {key: {"id": key} for key in keys}

    rounds = ReadRounds(read, rounds=2)
    answers, threads = _in_threads([lambda: rounds.get(["a"])])
    wait_for(lambda: len(calls) == 1, timeout=10)
    more, others = _in_threads([lambda: rounds.get(["b"])])
    wait_for(lambda: len(calls) == 2, timeout=10)  # both rounds busy
    waiting, waiters = _in_threads([lambda: rounds.get(["c"]), lambda: rounds.get(["d"])])
    wait_for(lambda: rounds.waiting == 2, timeout=10)
    gates[0].set()  # "a" done: one of the waiters reads "c" and "d" together
    wait_for(lambda: len(calls) == 3, timeout=10)
    gates[1].set()  # "b" done: a round is free while "c" and "d" are being read
    for thread in [*threads, *others]:
        thread.join(10)
    gates[2].set()
    for thread in waiters:
        thread.join(10)

    assert sorted(calls[2]) == ["c", "d"]
    assert len(calls) == 3  # nobody read "c" or "d" a second time
    assert answers == [{"a": {"id": "a"}}] and more == [{"b": {"id": "b"}}]
    assert waiting == [{"c": {"id": "c"}}, {"d": {"id": "d"}}]
