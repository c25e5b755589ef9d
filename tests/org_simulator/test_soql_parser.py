"""The SOQL grammar: what we emit parses to the right structure; anything else fails loudly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpqsync.soql import (
    And,
    Comparison,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    SoqlSyntaxError,
    parse,
    parse_where,
    quote,
    quote_like,
)

HYDRATION = (
    "SELECT Id, Status, Account.Name, Account.BillingCity, SBQQ__Quote__r.SBQQ__StartDate__c, "
    "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c, "
    "(SELECT Id, Quantity, UnitPrice, PricebookEntry.Product2.Name FROM OrderItems "
    "WHERE Skip_Line_Item__c = false ORDER BY ServiceDate DESC NULLS LAST LIMIT 200) "
    "FROM Order WHERE Id IN ('801000000000001AAA', '801000000000002AAA') "
    "ORDER BY EffectiveDate LIMIT 50 OFFSET 10"
)


def test_hydration_query_parses_to_paths_subquery_and_clauses() -> None:
    q = parse(HYDRATION)
    assert q.object_name == "Order"
    assert [f.text for f in q.fields] == [
        "Id",
        "Status",
        "Account.Name",
        "Account.BillingCity",
        "SBQQ__Quote__r.SBQQ__StartDate__c",
        "SBQQ__Quote__r.SBQQ__SubscriptionTerm__c",
    ]
    (sub,) = q.subqueries
    assert sub.relationship == "OrderItems"
    assert sub.fields[-1] == FieldPath(("PricebookEntry", "Product2", "Name"))
    assert sub.where == Comparison(FieldPath(("Skip_Line_Item__c",)), "=", False)
    assert sub.order_by[0].descending and sub.order_by[0].effective_nulls_last
    assert sub.limit == 200
    assert q.where == InList(
        FieldPath(("Id",)), ("801000000000001AAA", "801000000000002AAA"), negated=False
    )
    assert (q.limit, q.offset) == (50, 10)
    assert not q.order_by[0].descending and not q.order_by[0].effective_nulls_last


def test_keywords_are_case_insensitive_and_order_is_an_object_name() -> None:
    q = parse("select id from Order where status = 'Draft' order by OrderNumber desc")
    assert q.object_name == "Order"
    assert q.order_by[0].field.text == "OrderNumber" and q.order_by[0].descending


def test_where_operators_and_literals() -> None:
    cond = parse_where(
        "(Status = 'Draft' OR Status != 'Activated') AND NOT Name LIKE 'Acme%' "
        "AND Quantity >= -1.5 AND Type NOT IN ('A', 'B') AND IsActive = TRUE "
        "AND EndDate < 2025-02-28 AND CreatedDate > 2024-01-31T10:00:00.000+0000 "
        "AND LastModifiedDate = LAST_N_DAYS:7 AND ServiceDate <= TODAY AND ParentId = null "
        "AND Amount <> 3"
    )
    assert isinstance(cond, And)
    first, *rest = cond.items
    assert isinstance(first, Or)
    assert rest[0] == Not(Like(FieldPath(("Name",)), "Acme%"))
    assert rest[1] == Comparison(FieldPath(("Quantity",)), ">=", Decimal("-1.5"))
    assert rest[2] == InList(FieldPath(("Type",)), ("A", "B"), negated=True)
    assert rest[3].value is True  # type: ignore[union-attr]
    assert rest[4].value == date(2025, 2, 28)  # type: ignore[union-attr]
    assert rest[5].value == datetime(2024, 1, 31, 10, 0, tzinfo=UTC)  # type: ignore[union-attr]
    assert rest[6].value == DateLiteral("LAST_N_DAYS", 7)  # type: ignore[union-attr]
    assert rest[7].value == DateLiteral("TODAY")  # type: ignore[union-attr]
    assert rest[8].value is None  # type: ignore[union-attr]
    assert rest[9].op == "!="  # type: ignore[union-attr]


def test_count_query() -> None:
    q = parse("SELECT COUNT() FROM Account WHERE Name LIKE 'A%'")
    assert q.is_count and not q.fields


def test_where_keyword_is_optional_for_filters() -> None:
    assert parse_where("WHERE Status = 'Activated'") == parse_where("Status = 'Activated'")


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT Id FRM Account", "FRM"),
        ("SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3", "OR"),  # SOQL needs parens
        ("SELECT Id FROM Account GROUP BY Name", "GROUP"),
        ("SELECT COUNT(Id) FROM Account", "Id"),
        ("SELECT Id FROM Account WHERE", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = #x", "#x"),
        ("SELECT Id FROM Account WHERE CreatedDate = THIS_MONTH", "THIS_MONTH"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "SELECT"),
        ("SELECT Id FROM Account WHERE Name = 'bad\\q'", "\\q"),
        ("SELECT Id FROM Account WHERE EndDate = 2024-13-01", "2024-13-01"),
        ("SELECT Id, COUNT() FROM Account", "COUNT"),
        ("SELECT Id FROM Account FOR UPDATE", "FOR"),
        ("SELECT Id, (SELECT Id FROM Contacts OFFSET 1) FROM Account", "OFFSET"),
    ],
)
def test_unsupported_or_malformed_syntax_names_the_token(text: str, token: str) -> None:
    with pytest.raises(SoqlSyntaxError) as err:
        parse(text)
    assert err.value.token == token
    assert token in str(err.value)


def test_syntax_error_points_at_the_column() -> None:
    with pytest.raises(SoqlSyntaxError) as err:
        parse("SELECT Id FRM Account")
    assert err.value.column == 11
    assert "ERROR at Row:1:Column:11" in str(err.value)


@given(st.text())
def test_quote_round_trips_any_text_so_nothing_can_escape_the_literal(text: str) -> None:
    cond = parse_where(f"Name = {quote(text)} AND Id = 'x'")
    assert cond == And(
        (
            Comparison(FieldPath(("Name",)), "=", text),
            Comparison(FieldPath(("Id",)), "=", "x"),
        )
    )


def test_quote_escapes_injection_attempt() -> None:
    evil = "x' OR Name != 'y"
    cond = parse_where(f"Name = {quote(evil)}")
    assert cond == Comparison(FieldPath(("Name",)), "=", evil)


def test_quote_like_escapes_wildcards() -> None:
    cond = parse_where(f"Name LIKE {quote_like('50%_off', wildcard_after=True)}")
    assert cond == Like(FieldPath(("Name",)), "50\\%\\_off%")
