"""The attribute filters (``where``) users may write: the SQL a filter needs, nothing more.

A filter picks rows by their own values: ``lan_code = '14' AND population >= 2000``.
SQL can do far more than that (subqueries, recursive CTEs that never end, functions
that build gigabyte strings), and SQLite runs all of it in C, where Ctrl-C does not
reach. So a filter is parsed here, by a small grammar of its own, and refused unless
it is made only of

- column names, bare (``population``) or in double quotes (``"Kommun kod"``);
- text in single quotes (``'Malmö'``, ``'it''s'``), numbers (``2000``, ``1.5``,
  ``1e3``) and ``NULL``;
- comparisons ``=`` ``==`` ``<>`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, one per term;
- ``AND``, ``OR``, ``NOT`` and parentheses;
- ``x [NOT] IN ('a', 'b', …)`` of literal values;
- ``x [NOT] LIKE 'pattern'`` with a literal pattern (``%`` any text, ``_`` one
  character, ASCII letters in any case), at most :data:`MAX_PATTERN` characters;
- ``x [NOT] BETWEEN a AND b`` and ``x IS [NOT] NULL``;
- arithmetic ``+ - * / %`` and a sign;
- ``CAST(x AS INTEGER|REAL|TEXT|NUMERIC)`` and the functions of :data:`FUNCTIONS`
  (none of them makes a value longer than its input).

Left out on purpose: ``SELECT``/``WITH`` (subqueries, CTEs), comments, ``;``,
``||`` (strings that grow), ``GLOB``/``REGEXP``/``MATCH``, ``CASE``, ``COLLATE``,
parameters, and every other function (``randomblob``, ``zeroblob``, ``printf``,
``replace`` …). A filter is at most :data:`MAX_LENGTH` characters and
:data:`MAX_DEPTH` parentheses deep, and SQLite must be able to compile it (its parser
stack and expression tree have limits; checked before any row is read).

What SQLite is given is not the user's text but SQL written from the parsed filter:
every column as a placeholder name the caller chooses, every literal as a bound
parameter, every chain of operators (``a + b - c``, ``x AND y``) in parentheses. So no
difference between this tokenizer and SQLite's can smuggle anything through, and a
column that does not exist is an error here, not a string (SQLite's double-quoted-string
fallback).

Hand-written: no maintained package validates an SQL expression against an
allow-list of constructs (sqlglot and sqlparse parse whole dialects, and would still
need the same walk over their trees to refuse what is not listed here).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import InvalidValueError

__all__ = ["ALLOWED", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_PATTERN", "Filter",
           "compile_filter"]

#: Longest filter accepted, in characters (an IN list of all 290 kommun codes is 2 320).
MAX_LENGTH = 10_000
#: Deepest nesting of parentheses and operators.
MAX_DEPTH = 64
#: Longest LIKE pattern, in characters.
MAX_PATTERN = 100
#: Function → (least, most) arguments. None of them makes a value longer than its input.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "abs": (1, 1), "coalesce": (2, 8), "ifnull": (2, 2), "length": (1, 1),
    "lower": (1, 1), "round": (1, 2), "substr": (2, 3), "trim": (1, 2), "upper": (1, 1),
}
_TYPES = ("INTEGER", "REAL", "TEXT", "NUMERIC")
#: What a filter may hold, as messages say it.
ALLOWED = (
    "a filter may hold column names (bare, or \"in double quotes\"), 'text' in single "
    "quotes, numbers, NULL, = <> != < <= > >=, + - * / %, AND, OR, NOT, parentheses, "
    "IN ('a', 'b'), LIKE 'pattern', BETWEEN a AND b, IS [NOT] NULL, "
    "CAST(x AS INTEGER|REAL|TEXT|NUMERIC) and the functions "
    + ", ".join(sorted(FUNCTIONS)))

# Words of SQLite's grammar (https://sqlite.org/lang_keywords.html): a bare one is not
# taken for a column. Those the grammar below uses are handled first.
_SQL_WORDS = frozenset((
    "ABORT", "ACTION", "ADD", "AFTER", "ALL", "ALTER", "ALWAYS", "ANALYZE", "AND", "AS",
    "ASC", "ATTACH", "AUTOINCREMENT", "BEFORE", "BEGIN", "BETWEEN", "BY", "CASCADE",
    "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "COMMIT", "CONFLICT", "CONSTRAINT",
    "CREATE", "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
    "DATABASE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DELETE", "DESC", "DETACH",
    "DISTINCT", "DO", "DROP", "EACH", "ELSE", "END", "ESCAPE", "EXCEPT", "EXCLUDE",
    "EXCLUSIVE", "EXISTS", "EXPLAIN", "FAIL", "FILTER", "FIRST", "FOLLOWING", "FOR",
    "FOREIGN", "FROM", "FULL", "GENERATED", "GLOB", "GROUP", "GROUPS", "HAVING", "IF",
    "IGNORE", "IMMEDIATE", "IN", "INDEX", "INDEXED", "INITIALLY", "INNER", "INSERT",
    "INSTEAD", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN", "KEY", "LAST", "LEFT", "LIKE",
    "LIMIT", "MATCH", "MATERIALIZED", "NATURAL", "NO", "NOT", "NOTHING", "NOTNULL", "NULL",
    "NULLS", "OF", "OFFSET", "ON", "OR", "ORDER", "OTHERS", "OUTER", "OVER", "PARTITION",
    "PLAN", "PRAGMA", "PRECEDING", "PRIMARY", "QUERY", "RAISE", "RANGE", "RECURSIVE",
    "REFERENCES", "REGEXP", "REINDEX", "RELEASE", "RENAME", "REPLACE", "RESTRICT",
    "RETURNING", "RIGHT", "ROLLBACK", "ROW", "ROWS", "SAVEPOINT", "SELECT", "SET", "TABLE",
    "TEMP", "TEMPORARY", "THEN", "TIES", "TO", "TRANSACTION", "TRIGGER", "UNBOUNDED",
    "UNION", "UNIQUE", "UPDATE", "USING", "VACUUM", "VALUES", "VIEW", "VIRTUAL", "WHEN",
    "WHERE", "WINDOW", "WITH", "WITHOUT",
))
#: Words that mean a construct left out on purpose, and what it is.
_REFUSED = {
    "SELECT": "a subquery (SELECT)", "WITH": "a common table expression (WITH)",
    "RECURSIVE": "a recursive query (WITH RECURSIVE)", "VALUES": "a VALUES list",
    "EXISTS": "EXISTS (a subquery)", "UNION": "UNION", "PRAGMA": "PRAGMA",
    "ATTACH": "ATTACH", "CASE": "CASE", "COLLATE": "COLLATE", "GLOB": "GLOB",
    "REGEXP": "REGEXP", "MATCH": "MATCH", "ESCAPE": "ESCAPE", "RAISE": "RAISE",
    "ISNULL": "ISNULL (write IS NULL)", "NOTNULL": "NOTNULL (write IS NOT NULL)",
}

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--|/\*)
  | (?P<string>'(?:[^']|'')*')
  | (?P<unterminated_string>')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<unterminated_quoted>")
  | (?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<word>[^\W\d]\w*)
  | (?P<op><>|!=|==|<=|>=|\|\||<<|>>|[=<>+\-*/%(),])
""", re.VERBOSE)


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "quoted", "number", "word", "op", "end"
    text: str
    at: int  # 0-based position in the filter

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


@dataclass(frozen=True)
class Filter:
    """A filter that passed: SQL for SQLite, its parameters and the columns it reads.

    ``sql`` names the columns as ``name(i)`` for ``i`` an index into ``columns`` (the
    caller's column list); ``used`` are those indexes, in order of first use.
    """

    text: str
    sql: str
    params: tuple[object, ...]
    used: tuple[int, ...] = field(default=())


class _RefusedError(Exception):
    def __init__(self, reason: str, at: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _RefusedError(f"the character {text[pos]!r} is not part of a filter", pos)
        kind = m.lastgroup or ""
        if kind == "comment":
            raise _RefusedError("comments ('--', '/*') are not allowed", pos)
        if kind.startswith("unterminated"):
            raise _RefusedError("a quote (" + text[pos] + ") is not closed", pos)
        if kind == "op" and m.group() in ("||", "<<", ">>"):
            raise _RefusedError(f"the operator {m.group()!r} is not allowed", pos)
        if kind != "space":
            out.append(_Token(kind, m.group(), pos))
        pos = m.end()
    out.append(_Token("end", "", len(text)))
    return out


class _Parser:
    """Recursive descent over SQLite's precedence (OR < AND < NOT < comparison <
    ordering < + - < * / % < sign), writing fully parenthesised SQL."""

    def __init__(self, text: str, resolve: Callable[[str, int], int]) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.depth = 0
        self.resolve = resolve
        self.params: list[object] = []
        self.used: list[int] = []

    # -- helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.upper in words

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_word(self, word: str, context: str) -> None:
        if not self.at_word(word):
            self.fail(f"expected {word} {context}")
        self.take()

    def expect_op(self, op: str, context: str) -> None:
        if not self.at_op(op):
            self.fail(f"expected '{op}' {context}")
        self.take()

    def fail(self, expected: str) -> None:
        tok = self.tok
        if tok.kind == "end":
            raise _RefusedError(f"the filter ends too early: {expected}", tok.at)
        if tok.kind == "word" and tok.upper in _REFUSED:
            raise _RefusedError(f"{_REFUSED[tok.upper]} is not allowed", tok.at)
        raise _RefusedError(f"{expected}, got {tok.text!r}", tok.at)

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _RefusedError(f"the filter is nested more than {MAX_DEPTH} deep", self.tok.at)

    def param(self, value: object) -> str:
        self.params.append(value)
        return "?"

    # -- grammar
    def parse(self) -> str:
        sql = self.disjunction()
        if self.tok.kind != "end":
            if self.at_op(")"):
                raise _RefusedError("a ')' without its '('", self.tok.at)
            self.fail("expected AND, OR or the end of the filter")
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.at_word("OR"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.negation()]
        while self.at_word("AND"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def negation(self) -> str:
        if self.at_word("NOT"):
            self.take()
            self.deeper()
            inner = self.negation()
            self.depth -= 1
            return f"(NOT {inner})"
        return self.comparison()

    def comparison(self) -> str:
        left = self.ordering()
        if self.at_op("=", "==", "<>", "!="):
            op = self.take().text
            op = {"==": "=", "!=": "<>"}.get(op, op)
            right = self.ordering()
            out = f"({left} {op} {right})"
        elif self.at_word("IS"):
            self.take()
            negate = self.at_word("NOT")
            if negate:
                self.take()
            if not self.at_word("NULL"):
                self.fail("expected NULL after IS" + (" NOT" if negate else ""))
            self.take()
            out = f"({left} IS {'NOT ' if negate else ''}NULL)"
        else:
            negate = self.at_word("NOT") and self.tokens[self.i + 1].kind == "word" and \
                self.tokens[self.i + 1].upper in ("IN", "LIKE", "BETWEEN")
            if negate:
                self.take()
            if self.at_word("IN"):
                self.take()
                out = f"({left} {'NOT ' if negate else ''}IN ({self.in_list()}))"
            elif self.at_word("LIKE"):
                self.take()
                out = f"({left} {'NOT ' if negate else ''}LIKE {self.pattern()})"
            elif self.at_word("BETWEEN"):
                self.take()
                low = self.ordering()
                self.expect_word("AND", "between the bounds of BETWEEN")
                high = self.ordering()
                out = f"({left} {'NOT ' if negate else ''}BETWEEN {low} AND {high})"
            else:
                return left
        if self.at_op("=", "==", "<>", "!=") or self.at_word("IS", "IN", "LIKE", "BETWEEN"):
            raise _RefusedError("one comparison per term: join them with AND (a < b AND b < c)",
                           self.tok.at)
        return out

    def in_list(self) -> str:
        self.expect_op("(", "after IN")
        if self.at_word("SELECT", "WITH", "VALUES"):
            self.fail("expected a list of values")
        values = [self.literal("in the list of IN")]
        while self.at_op(","):
            self.take()
            values.append(self.literal("in the list of IN"))
        self.expect_op(")", "to close the list of IN")
        return ", ".join(values)

    def literal(self, context: str) -> str:
        sign = ""
        if self.at_op("-", "+"):
            sign = self.take().text
            if self.tok.kind != "number":
                self.fail(f"expected a number after '{sign}'")
        tok = self.tok
        if tok.kind == "string":
            self.take()
            return self.param(tok.text[1:-1].replace("''", "'"))
        if tok.kind == "number":
            self.take()
            return self.param(_number(sign + tok.text))
        if self.at_word("NULL"):
            self.take()
            return "NULL"
        self.fail(f"expected 'text' or a number {context}")
        raise AssertionError  # unreachable: fail raises

    def pattern(self) -> str:
        if self.tok.kind != "string":
            self.fail("expected a pattern in single quotes after LIKE ('12%')")
        tok = self.take()
        value = tok.text[1:-1].replace("''", "'")
        if len(value) > MAX_PATTERN:
            raise _RefusedError(f"a LIKE pattern of more than {MAX_PATTERN} characters", tok.at)
        if self.at_word("ESCAPE"):
            self.fail("expected the end of the LIKE")
        return self.param(value)

    def ordering(self) -> str:
        left = self.additive()
        if self.at_op("<", "<=", ">", ">="):
            op = self.take().text
            right = self.additive()
            if self.at_op("<", "<=", ">", ">="):
                raise _RefusedError("one comparison per term: join them with AND "
                               "(a < b AND b < c)", self.tok.at)
            return f"({left} {op} {right})"
        return left

    def additive(self) -> str:
        # One flat chain in one pair of parentheses, as AND and OR: SQLite reads it left
        # to right, and a parenthesis per operator overflowed its parser's stack (100
        # deep) at about 40 terms ("a + 1 + 1 + …").
        parts = [self.multiplicative()]
        while self.at_op("+", "-"):
            parts += [self.take().text, self.multiplicative()]
        return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"

    def multiplicative(self) -> str:
        parts = [self.unary()]
        while self.at_op("*", "/", "%"):
            parts += [self.take().text, self.unary()]
        return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"

    def unary(self) -> str:
        if self.at_op("-", "+"):
            op = self.take().text
            self.deeper()
            inner = self.unary()
            self.depth -= 1
            return f"({op}{inner})"
        return self.primary()

    def primary(self) -> str:
        tok = self.tok
        if tok.kind in ("string", "number"):
            return self.literal("")
        if tok.kind == "quoted":
            self.take()
            name = tok.text[1:-1].replace('""', '"')
            if not name:
                raise _RefusedError('an empty column name ("")', tok.at)
            return self.column(name, tok.at, quoted=True)
        if tok.kind == "op" and tok.text == "(":
            self.take()
            if self.at_word("SELECT", "WITH", "VALUES"):
                self.fail("expected a value")
            self.deeper()
            inner = self.disjunction()
            self.depth -= 1
            self.expect_op(")", "to close the '('")
            return inner
        if tok.kind == "word":
            word = tok.upper
            following = self.tokens[self.i + 1]
            if word == "NULL":
                self.take()
                return "NULL"
            if word == "CAST" and following.text == "(":
                return self.cast()
            if word in _REFUSED:
                raise _RefusedError(f"{_REFUSED[word]} is not allowed", tok.at)
            if word in _SQL_WORDS:
                if following.kind == "op" and following.text == "(":
                    raise _RefusedError(f"the function {tok.text}() is not allowed", tok.at)
                raise _RefusedError(f"{tok.text!r} is a word of SQL; a column of that name is "
                               f'written in double quotes ("{tok.text}")', tok.at)
            if following.kind == "op" and following.text == "(":
                return self.function()
            self.take()
            return self.column(tok.text, tok.at)
        self.fail("expected a column, a value or '('")
        raise AssertionError  # unreachable: fail raises

    def column(self, name: str, at: int, *, quoted: bool = False) -> str:
        try:
            index = self.resolve(name, at)
        except _UnknownColumnError as exc:
            exc.quoted = quoted
            raise
        if index not in self.used:
            self.used.append(index)
        return f"c{index}"

    def cast(self) -> str:
        self.take()  # CAST
        self.take()  # (
        self.deeper()
        inner = self.disjunction()
        self.depth -= 1
        self.expect_word("AS", "in CAST(x AS type)")
        if not self.at_word(*_TYPES):
            self.fail("expected INTEGER, REAL, TEXT or NUMERIC in CAST(x AS type)")
        kind = self.take().upper
        self.expect_op(")", "to close CAST(")
        return f"CAST({inner} AS {kind})"

    def function(self) -> str:
        tok = self.take()
        name = tok.text.lower()
        if name not in FUNCTIONS:
            raise _RefusedError(f"the function {tok.text}() is not allowed", tok.at)
        self.take()  # (
        self.deeper()
        args: list[str] = []
        if not self.at_op(")"):
            args.append(self.disjunction())
            while self.at_op(","):
                self.take()
                args.append(self.disjunction())
        self.expect_op(")", f"to close {name}(")
        self.depth -= 1
        least, most = FUNCTIONS[name]
        if not least <= len(args) <= most:
            count = str(least) if least == most else f"{least} to {most}"
            raise _RefusedError(f"{name}() takes {count} arguments, got {len(args)}", tok.at)
        return f"{name}({', '.join(args)})"


def _number(text: str) -> int | float:
    if re.fullmatch(r"[-+]?\d+", text):
        value = int(text)
        if -2**63 <= value < 2**63:
            return value
    return float(text)


def compile_filter(where: str, columns: Sequence[str]) -> Filter:
    """Parse ``where`` against the table's ``columns``; refuse what a filter may not hold.

    Column names are matched as SQLite matches them: exactly, else ignoring the case
    of ASCII letters (when that leaves one column).

    Raises
    ------
    InvalidValueError
        The filter holds something not allowed (the message says what, and what a
        filter may hold), is not complete, or names a column the table does not have.

    Examples
    --------
    >>> f = compile_filter("lan_code = '14' AND population >= 2000",
    ...                    ["tatort_code", "lan_code", "population"])
    >>> f.sql, f.params, f.used
    ('((c1 = ?) AND (c2 >= ?))', ('14', 2000), (1, 2))
    >>> compile_filter("population IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
    ...                "SELECT x+1 FROM c) SELECT x FROM c)", ["population"])
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: cannot apply where = "population IN (WITH ...
    """
    columns = [str(c) for c in columns]

    def resolve(name: str, at: int) -> int:
        if name in columns:
            return columns.index(name)
        folded = [i for i, c in enumerate(columns) if _ascii_lower(c) == _ascii_lower(name)]
        if len(folded) == 1:
            return folded[0]
        if folded:
            raise _RefusedError(f"the column {name!r} is ambiguous: "
                           + ", ".join(repr(columns[i]) for i in folded), at)
        raise _UnknownColumnError(name)

    try:
        if not isinstance(where, str) or not where.strip():
            raise _RefusedError("the filter is empty")
        if len(where) > MAX_LENGTH:
            raise _RefusedError(f"the filter is longer than {MAX_LENGTH} characters")
        if "\x00" in where:
            raise _RefusedError("the filter holds a NUL character")
        if ";" in re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", where):
            raise _RefusedError("one filter only: ';' outside quotes is not allowed")
        parser = _Parser(where, resolve)
        sql = parser.parse()
        _prepare(sql, len(columns))
    except _UnknownColumnError as exc:
        hint = (f" (text goes in single quotes: '{exc.name}')"
                if exc.quoted and exc.name not in columns else "")
        raise InvalidValueError(
            f'cannot apply where = "{where}": no such column: {exc.name}{hint}; the '
            f"columns are {', '.join(columns)}") from None
    except _RefusedError as exc:
        at = f" (at character {exc.at + 1})" if exc.at is not None else ""
        raise InvalidValueError(f'cannot apply where = "{where}": {exc.reason}{at}; '
                                f"{ALLOWED}") from None
    return Filter(where, sql, tuple(parser.params), tuple(parser.used))


def _prepare(sql: str, width: int) -> None:
    """Have SQLite compile (not run) the filter, on an empty table of ``width`` columns.

    SQLite's parser keeps a stack of 100 and an expression tree at most 1000 deep, and
    how much of either a construct takes depends on the construct (``upper(`` takes
    more than ``(``); asking SQLite itself is exact for the SQLite that will run the
    filter, where :data:`MAX_DEPTH` alone let ``NOT NOT … x`` 50 deep reach SQLite
    and fail there with "parser stack overflow" and no word of what to change.
    """
    with contextlib.closing(sqlite3.connect(":memory:")) as con:
        names = ", ".join(f"c{i}" for i in range(max(width, 1)))
        con.execute(f"CREATE TABLE t({names})")
        try:
            con.execute(f"EXPLAIN SELECT rowid FROM t WHERE {sql}", [None] * sql.count("?"))
        except sqlite3.Error as exc:
            raise _RefusedError(f"the filter is too deep for SQLite ({exc}): fewer nested "
                                "parentheses, NOTs and functions, or fewer terms in "
                                "one chain of AND, OR, + or *; IN (…) takes a long "
                                "list") from None


class _UnknownColumnError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
        self.quoted = False


def _ascii_lower(text: str) -> str:
    return text.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
