"""One INSERT of a model instance, with the statement's text built once per model and database.

`Model.save()` rebuilds its INSERT through the query compiler on every call; for a work order's forty
columns that was a fifth of a submission's time (bench/intake.py). This writes the same row with the
same values: each field's own `pre_save` and `get_db_prep_save` prepare them, as the ORM's would.
No pre_save/post_save signals are sent: use it only for models that have no receivers (a test checks
the models it is used for).
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)

_statements: dict[tuple[type[Model], str], tuple[str, list[Any]]] = {}


def _statement(model: type[Model], alias: str) -> tuple[str, list[Any]]:
    key = (model, alias)
    found = _statements.get(key)
    if found is None:
        connection = connections[alias]
        qn = connection.ops.quote_name
        fields = [f for f in model._meta.local_concrete_fields if not f.generated and f is not model._meta.auto_field]
        # Table and column names from the model, quoted; values travel as parameters.
        sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
            qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields))
        )
        if connection.features.can_return_columns_from_insert:
            sql += f" RETURNING {qn(model._meta.pk.column)}"
        found = _statements[key] = (sql, fields)
    return found


def insert(obj: M) -> M:
    """INSERT `obj` (a new instance with an auto primary key) and set its pk, as save() would."""
    model = type(obj)
    alias = router.db_for_write(model, instance=obj)
    connection = connections[alias]
    sql, fields = _statement(model, alias)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            pk = cursor.fetchone()[0]
        else:  # SQLite before 3.35
            pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    setattr(obj, model._meta.pk.attname, pk)
    obj._state.adding = False
    obj._state.db = alias
    return obj
