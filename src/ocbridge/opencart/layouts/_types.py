"""Column-type helpers: MySQL/MariaDB types exactly as OpenCart declares them, generic types on SQLite."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Index, MetaData, PrimaryKeyConstraint, Table, types
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn, CreateIndex

_MY = ("mysql", "mariadb")


def _v(generic: types.TypeEngine, specific: types.TypeEngine) -> types.TypeEngine:
    return generic.with_variant(specific, *_MY)


def Int(width: int = 11) -> types.TypeEngine:
    return _v(types.Integer(), mysql.INTEGER(display_width=width))


def TinyInt(width: int = 1) -> types.TypeEngine:
    return _v(types.SmallInteger(), mysql.TINYINT(display_width=width))


def SmallInt(width: int = 6) -> types.TypeEngine:
    return _v(types.SmallInteger(), mysql.SMALLINT(display_width=width))


def Str(length: int) -> types.TypeEngine:
    return _v(types.String(length), mysql.VARCHAR(length))


def Char(length: int) -> types.TypeEngine:
    return _v(types.String(length), mysql.CHAR(length))


def Text() -> types.TypeEngine:
    return _v(types.Text(), mysql.TEXT())


def MediumText() -> types.TypeEngine:
    return _v(types.Text(), mysql.MEDIUMTEXT())


def Dec(precision: int, scale: int) -> types.TypeEngine:
    # asdecimal: money stays Decimal on every backend (SQLite stores it as text-compatible NUMERIC)
    return _v(types.Numeric(precision, scale), mysql.DECIMAL(precision, scale))


def Float(precision: int, scale: int) -> types.TypeEngine:
    return _v(types.Float(), mysql.FLOAT(precision, scale))


def Double(precision: int, scale: int) -> types.TypeEngine:
    return _v(types.Float(), mysql.DOUBLE(precision, scale))


def Date() -> types.TypeEngine:
    return _v(types.Date(), mysql.DATE())


def DateTime() -> types.TypeEngine:
    return _v(types.DateTime(), mysql.DATETIME())


@dataclass
class C:
    """One column as written in OpenCart's DDL: NOT NULL unless `null`, optional DEFAULT, AUTO_INCREMENT."""

    name: str
    type: types.TypeEngine
    default: str | None = None
    null: bool = False
    ai: bool = False


def only(present: bool, *columns: C) -> tuple[C, ...]:
    """The columns if this version has them, else none: `*only(oc4, C(...))` inside a column list."""
    return columns if present else ()


def table(md: MetaData, prefix: str, name: str, engine: str, charset: str, *, pk: tuple[str, ...],
          columns: list[C], keys: dict[str, tuple[str, ...]] | None = None) -> Table:
    """Build one table; KEYs get OpenCart's own index names (MySQL names indexes per table)."""
    cols = [
        Column(c.name, c.type, nullable=c.null, server_default=c.default,
               autoincrement=bool(c.ai), key=c.name)
        for c in columns
    ]
    t = Table(prefix + name, md, *cols, PrimaryKeyConstraint(*pk),
              mysql_engine=engine, mysql_charset=charset, mysql_collate=f"{charset}_general_ci",
              info={"name": name})
    for key, key_cols in (keys or {}).items():
        Index(key, *[t.c[k] for k in key_cols], info={"opencart_key": True})
    return t


@compiles(CreateIndex, "sqlite")
def _sqlite_create_index(element: CreateIndex, compiler, **kw) -> str:
    """MySQL names indexes per table (OpenCart reuses `order_id`…); SQLite per database: qualify there."""
    index = element.element
    if not index.info.get("opencart_key"):
        return compiler.visit_create_index(element, **kw)
    prep = compiler.preparer
    cols = ", ".join(prep.quote(c.name) for c in index.columns)
    return (f"CREATE INDEX {prep.quote(index.table.name + '__' + index.name)} "
            f"ON {prep.format_table(index.table)} ({cols})")


@compiles(CreateColumn, "sqlite")
def _sqlite_create_column(element: CreateColumn, compiler, **kw) -> str:
    """OpenCart has AUTO_INCREMENT inside composite keys (order_status); SQLite cannot: plain column there."""
    column = element.element
    if column.autoincrement is True and len(column.table.primary_key.columns) > 1:
        spec = f"{compiler.preparer.format_column(column)} " + compiler.dialect.type_compiler_instance.process(column.type)
        default = compiler.get_column_default_string(column)
        if default is not None:
            spec += f" DEFAULT {default}"
        return spec + ("" if column.nullable else " NOT NULL")
    return compiler.visit_create_column(element, **kw)
