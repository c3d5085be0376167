"""Query pieces that behave the same on PostgreSQL and SQLite."""
from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

from portal.extensions import db


def among(column, values):
    """`column IN values`. On PostgreSQL as `= ANY(array)`, one parameter: a list of thousands of ids
    (a large remittance's charges) is planned many times faster than as thousands of parameters."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)
