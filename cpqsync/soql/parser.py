"""Text -> :mod:`cpqsync.soql.ast`, with a lark LALR grammar (:mod:`cpqsync.soql.grammar`).

LALR with the contextual lexer keeps keywords usable as object names where SOQL allows it
(``FROM Order`` next to ``ORDER BY``) and reports the first token that does not fit.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from cpqsync.soql.ast import (
    And,
    Comparison,
    ComparisonOp,
    Condition,
    CountSelect,
    DateLiteral,
    FieldPath,
    InList,
    Like,
    Not,
    Or,
    OrderBy,
    Query,
    SelectItem,
    SubQuery,
    Value,
)
from cpqsync.soql.errors import SoqlSyntaxError
from cpqsync.soql.grammar import GRAMMAR

_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
# In LIKE patterns \% and \_ stay escaped so the matcher can tell them from wildcards.
_LIKE_ESCAPES = {"%": "\\%", "_": "\\_"}


@cache
def _parser(start: str) -> Lark:
    # The transformer runs inline while parsing: no intermediate tree, about twice as fast.
    return Lark(
        GRAMMAR,
        parser="lalr",
        lexer="contextual",
        start=start,
        propagate_positions=False,
        transformer=_ToAst(),
    )


def _unescape(token: Token, *, like: bool = False) -> str:
    body = token[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]  # the STRING terminal guarantees a character follows a backslash
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif like and nxt in _LIKE_ESCAPES:
            out.append(_LIKE_ESCAPES[nxt])
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 4
        else:
            raise SoqlSyntaxError(
                f"Invalid string literal '{body}'. Illegal escape sequence: \\{nxt}",
                f"\\{nxt}",
                token.line or 1,
                token.column or 1,
            )
        i += 2
    return "".join(out)


def _datetime(text: str) -> datetime:
    normalised = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", normalised):
        normalised = f"{normalised[:-2]}:{normalised[-2:]}"
    return datetime.fromisoformat(normalised).astimezone(UTC)


@v_args(inline=True)
class _ToAst(Transformer[Token, Any]):
    """Builds the dataclasses; value checks that the grammar cannot express happen here."""

    def start(self, query: Query) -> Query:
        return query

    def query(
        self, _select: Token, items: list[SelectItem], _from: Token, name: Token, *rest: Any
    ) -> Query:
        clauses = _clauses(rest)
        if any(isinstance(i, CountSelect) for i in items) and len(items) > 1:
            raise SoqlSyntaxError("COUNT() must be the only item in the SELECT list", "COUNT")
        return Query(str(name), tuple(items), **clauses)

    def select_list(self, *items: SelectItem) -> list[SelectItem]:
        return list(items)

    def sub_select_list(self, *items: FieldPath) -> list[FieldPath]:
        return list(items)

    def count(self, _token: Token) -> CountSelect:
        return CountSelect()

    def subquery(
        self, _select: Token, fields: list[FieldPath], _from: Token, name: Token, *rest: Any
    ) -> SubQuery:
        clauses = _clauses(rest)
        if "offset" in clauses:
            raise SoqlSyntaxError("unexpected token: 'OFFSET'", "OFFSET")
        return SubQuery(str(name), tuple(fields), **clauses)

    def field_path(self, *names: Token) -> FieldPath:
        return FieldPath(tuple(str(n) for n in names))

    def where_clause(self, _where: Token, condition: Condition) -> tuple[str, Condition]:
        return ("where", condition)

    def order_clause(self, _order: Token, *items: OrderBy) -> tuple[str, tuple[OrderBy, ...]]:
        return ("order_by", items)

    def order_item(self, path: FieldPath, *modifiers: Token) -> OrderBy:
        descending = False
        nulls_last: bool | None = None
        for token in modifiers:
            if token.type == "DIRECTION":
                descending = token.upper() == "DESC"
            else:
                nulls_last = token.upper().split()[-1] == "LAST"
        return OrderBy(path, descending, nulls_last)

    def limit_clause(self, _limit: Token, n: Token) -> tuple[str, int]:
        return ("limit", int(n))

    def offset_clause(self, _offset: Token, n: Token) -> tuple[str, int]:
        return ("offset", int(n))

    def and_chain(self, *parts: Any) -> And:
        return And(tuple(p for p in parts if not isinstance(p, Token)))

    def or_chain(self, *parts: Any) -> Or:
        return Or(tuple(p for p in parts if not isinstance(p, Token)))

    def negation(self, _not: Token, item: Condition) -> Not:
        return Not(item)

    def comparison(self, path: FieldPath, op: Token, value: Value) -> Comparison:
        normalised = cast(ComparisonOp, "!=" if op == "<>" else str(op))
        return Comparison(path, normalised, value)

    def in_list(self, path: FieldPath, _in: Token, values: list[Value]) -> InList:
        return InList(path, tuple(values))

    def not_in_list(self, path: FieldPath, _not: Token, _in: Token, values: list[Value]) -> InList:
        return InList(path, tuple(values), negated=True)

    def like(self, path: FieldPath, _like: Token, pattern: Token) -> Like:
        return Like(path, _unescape(pattern, like=True))

    def value_list(self, *values: Value) -> list[Value]:
        return list(values)

    def string(self, token: Token) -> str:
        return _unescape(token)

    def number(self, token: Token) -> Decimal:
        try:
            return Decimal(token.value)
        except InvalidOperation as exc:  # pragma: no cover - the terminal only admits numbers
            raise SoqlSyntaxError(f"unexpected token: '{token}'", str(token)) from exc

    def date(self, token: Token) -> date:
        try:
            return date.fromisoformat(token.value)
        except ValueError as exc:
            raise SoqlSyntaxError(
                f"value of date literal is invalid: '{token}'",
                str(token),
                token.line or 1,
                token.column or 1,
            ) from exc

    def datetime(self, token: Token) -> datetime:
        try:
            return _datetime(token.value)
        except ValueError as exc:
            raise SoqlSyntaxError(
                f"value of datetime literal is invalid: '{token}'",
                str(token),
                token.line or 1,
                token.column or 1,
            ) from exc

    def true(self, _token: Token) -> bool:
        return True

    def false(self, _token: Token) -> bool:
        return False

    def null(self, _token: Token) -> None:
        return None

    def date_n(self, token: Token) -> DateLiteral:
        name, n = token.value.upper().split(":")
        return DateLiteral(name, int(n))

    def date_word(self, token: Token) -> DateLiteral:
        return DateLiteral(token.value.upper())


def _clauses(parts: tuple[Any, ...]) -> dict[str, Any]:
    return dict(parts)


def _syntax_error(text: str, exc: UnexpectedInput) -> SoqlSyntaxError:
    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return SoqlSyntaxError("unexpected token: <EOF>", "<EOF>", line, column)
    if isinstance(exc, UnexpectedToken):
        token = str(exc.token)
    elif isinstance(exc, UnexpectedCharacters):
        rest = text.splitlines()[line - 1][column - 1 :] if text.splitlines() else ""
        token = re.split(r"\s", rest, maxsplit=1)[0] or rest[:1]
    else:  # pragma: no cover - lark raises only the above
        token = "?"
    source_line = text.splitlines()[line - 1] if text.splitlines() else text
    pointer = " " * (column - 1) + "^"
    message = (
        f"\n{source_line}\n{pointer}\nERROR at Row:{line}:Column:{column}\n"
        f"unexpected token: '{token}'"
    )
    return SoqlSyntaxError(message, token, line, column)


def _run(start: str, text: str) -> Any:
    try:
        return _parser(start).parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:  # lark may wrap what our callbacks raise
        if isinstance(exc.orig_exc, SoqlSyntaxError):
            raise exc.orig_exc from None
        raise


def parse(text: str) -> Query:
    """Parse a full SOQL query; :class:`SoqlSyntaxError` names the first token that doesn't fit."""
    result: Query = _run("start", text)
    return result


def parse_where(text: str) -> Condition:
    """Parse a WHERE condition on its own (sync filters): ``Status = 'Activated' AND …``.

    A leading ``WHERE`` keyword is accepted too, since users paste filters from queries.
    """
    stripped = re.sub(r"^\s*WHERE\s+", "", text, flags=re.IGNORECASE)
    if not stripped.strip():
        raise SoqlSyntaxError("unexpected token: <EOF>", "<EOF>")
    result: Condition = _run("condition", stripped)
    return result
