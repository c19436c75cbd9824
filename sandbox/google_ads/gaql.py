"""A parser for the Google Ads Query Language, as much of it as the sandbox needs to judge a query.

``SELECT f, ... FROM resource [WHERE cond AND ...] [ORDER BY f [ASC|DESC], ...] [LIMIT n]
[PARAMETERS name = value, ...]``, with conditions ``f = | != | < | <= | > | >= value``,
``f [NOT] IN (v, ...)``, ``f BETWEEN v AND v``, ``f DURING LAST_7_DAYS``, ``f IS [NOT] NULL`` and
``f [NOT] LIKE 'pattern'``. Keywords are case-insensitive; there is no OR. Syntax errors carry the
``QueryError`` names the real API uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, TypeAlias

Literal: TypeAlias = str | int | float | bool | None

KEYWORDS: Final = frozenset(
    {
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "LIMIT",
        "BETWEEN",
        "IN",
        "NOT",
        "DURING",
        "LIKE",
        "IS",
        "NULL",
        "PARAMETERS",
        "CONTAINS",
        "REGEXP_MATCH",
    }
)
COMPARISONS: Final = ("=", "!=", "<", "<=", ">", ">=")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<symbol>>=|<=|!=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)


class GaqlError(ValueError):
    """A query the API rejects: ``name`` is the QueryError enum value."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


class GaqlUnsupported(ValueError):
    """Valid GAQL that the sandbox does not imitate."""


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | word | symbol
    text: str

    @property
    def keyword(self) -> str | None:
        upper = self.text.upper()
        return upper if self.kind == "word" and upper in KEYWORDS else None


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # one of COMPARISONS, IN, NOT IN, BETWEEN, DURING, IS NULL, IS NOT NULL, LIKE, NOT LIKE
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    resource: str
    conditions: tuple[Condition, ...] = ()
    order_by: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    limit: int | None = None

    def conditions_on(self, field: str) -> list[Condition]:
        return [c for c in self.conditions if c.field == field]

    @property
    def referenced(self) -> tuple[str, ...]:
        """Every field the query names, in SELECT, WHERE and ORDER BY."""
        names = [*self.fields, *(c.field for c in self.conditions), *(f for f, _ in self.order_by)]
        return tuple(dict.fromkeys(names))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            rest = text[position:].lstrip()
            if rest[:1] in ("'", '"'):
                raise GaqlError(
                    "STRING_NOT_TERMINATED", f"String starting at {rest[:20]!r} is not terminated."
                )
            raise GaqlError("BAD_SYMBOL", f"Unexpected symbol {rest[:1]!r} in the query.")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, what: str) -> Token:
        token = self.peek()
        if token is None:
            raise GaqlError("UNEXPECTED_END_OF_QUERY", f"The query ended where {what} was expected.")
        self.pos += 1
        return token

    def accept(self, keyword: str) -> bool:
        token = self.peek()
        if token is not None and token.keyword == keyword:
            self.pos += 1
            return True
        return False

    def accept_symbol(self, symbol: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "symbol" and token.text == symbol:
            self.pos += 1
            return True
        return False

    def field(self, what: str = "a field name") -> str:
        token = self.next(what)
        if token.kind != "word" or token.keyword is not None:
            raise GaqlError("UNEXPECTED_INPUT", f"Expected {what}, found {token.text!r}.")
        return token.text

    def parse(self) -> Query:
        if not self.accept("SELECT"):
            raise GaqlError("EXPECTED_SELECT", "The query must start with SELECT.")
        fields = [self.field()]
        while self.accept_symbol(","):
            fields.append(self.field())
        if not self.accept("FROM"):
            found = self.peek()
            raise GaqlError("EXPECTED_FROM", f"Expected FROM, found {found.text if found else 'the end'!r}.")
        resource = self.field("a resource name")
        conditions = self.where() if self.accept("WHERE") else []
        order_by = self.order_by() if self.accept("ORDER") else []
        limit = self.limit() if self.accept("LIMIT") else None
        if self.accept("PARAMETERS"):
            self.parameters()
        extra = self.peek()
        if extra is not None:
            raise GaqlError("UNEXPECTED_INPUT", f"Unexpected input {extra.text!r} at the end of the query.")
        return Query(tuple(fields), resource, tuple(conditions), tuple(order_by), limit)

    def where(self) -> list[Condition]:
        conditions = [self.condition()]
        while True:
            if self.accept("AND"):
                conditions.append(self.condition())
                continue
            token = self.peek()
            if token is not None and token.keyword == "OR":
                raise GaqlError("UNEXPECTED_INPUT", "GAQL has no OR: combine conditions with AND, or use IN.")
            return conditions

    def condition(self) -> Condition:
        field = self.field()
        token = self.next("an operator")
        if token.kind == "symbol" and token.text in COMPARISONS:
            return Condition(field, token.text, (self.value(),))
        keyword = token.keyword
        if keyword == "NOT":
            after_not = self.next("IN or LIKE").keyword
            if after_not == "IN":
                return Condition(field, "NOT IN", self.value_list())
            if after_not == "LIKE":
                return Condition(field, "NOT LIKE", (self.value(),))
            raise GaqlError("BAD_OPERATOR", "NOT must be followed by IN or LIKE.")
        if keyword == "IN":
            return Condition(field, "IN", self.value_list())
        if keyword == "BETWEEN":
            low = self.value()
            if not self.accept("AND"):
                raise GaqlError("EXPECTED_AND", "BETWEEN needs two values joined by AND.")
            return Condition(field, "BETWEEN", (low, self.value()))
        if keyword == "DURING":
            period = self.next("a date range name")
            if period.kind != "word":
                raise GaqlError(
                    "INVALID_VALUE_WITH_DURING_OPERATOR", f"{period.text!r} is not a date range name."
                )
            return Condition(field, "DURING", (period.text.upper(),))
        if keyword == "IS":
            negated = self.accept("NOT")
            if not self.accept("NULL"):
                raise GaqlError("BAD_OPERATOR", "IS must be followed by NULL or NOT NULL.")
            return Condition(field, "IS NOT NULL" if negated else "IS NULL", ())
        if keyword == "LIKE":
            return Condition(field, "LIKE", (self.value(),))
        if keyword in ("CONTAINS", "REGEXP_MATCH"):
            raise GaqlUnsupported(f"The sandbox does not imitate the {keyword} operator.")
        raise GaqlError("BAD_OPERATOR", f"{token.text!r} is not an operator.")

    def value(self) -> Literal:
        token = self.next("a value")
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            return token.text.upper() == "TRUE"
        if token.kind == "word" and token.keyword is None:
            return token.text  # an enum constant such as ENABLED
        raise GaqlError("BAD_VALUE", f"{token.text!r} is not a value.")

    def value_list(self) -> tuple[Literal, ...]:
        if not self.accept_symbol("("):
            raise GaqlError("EXPECTED_LIST", "IN needs a parenthesized list of values.")
        if self.accept_symbol(")"):
            raise GaqlError("PROHIBITED_EMPTY_LIST_IN_CONDITION", "The list after IN is empty.")
        values = [self.value()]
        while self.accept_symbol(","):
            values.append(self.value())
        if not self.accept_symbol(")"):
            raise GaqlError("EXPECTED_LIST", "The list after IN is not closed.")
        return tuple(values)

    def order_by(self) -> list[tuple[str, bool]]:
        if not self.accept("BY"):
            raise GaqlError("EXPECTED_BY", "ORDER must be followed by BY.")
        items = [self.order_item()]
        while self.accept_symbol(","):
            items.append(self.order_item())
        return items

    def order_item(self) -> tuple[str, bool]:
        field = self.field()
        if self.accept("DESC"):
            return field, True
        self.accept("ASC")
        return field, False

    def limit(self) -> int:
        token = self.next("a limit")
        if token.kind != "number" or "." in token.text:
            raise GaqlError("BAD_LIMIT_VALUE", f"LIMIT needs a whole number, not {token.text!r}.")
        if int(token.text) < 1:
            raise GaqlError("LIMIT_VALUE_TOO_LOW", "LIMIT must be at least 1.")
        return int(token.text)

    def parameters(self) -> None:
        while True:
            name = self.field("a parameter name")
            if name not in ("include_drafts", "omit_unselected_resource_names"):
                raise GaqlError("BAD_PARAMETER_NAME", f"Unknown parameter {name!r}.")
            if not self.accept_symbol("="):
                raise GaqlError("BAD_PARAMETER_VALUE", f"Parameter {name} needs = true or = false.")
            if not isinstance(self.value(), bool):
                raise GaqlError("BAD_PARAMETER_VALUE", f"Parameter {name} takes true or false.")
            if not self.accept_symbol(","):
                return


def parse(text: str) -> Query:
    """Parse a GAQL statement; raises GaqlError (rejected) or GaqlUnsupported (not imitated)."""
    if not text.strip():
        raise GaqlError("EXPECTED_SELECT", "The query is empty.")
    return _Parser(text).parse()
