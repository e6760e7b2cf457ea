"""devopness-server: a self-hostable server for the Devopness REST API."""

from starlette.convertors import IntegerConvertor, register_url_convertor


class BoundedIntegerConvertor(IntegerConvertor):
    """`{x:int}` path ids: at most 18 digits, so an absurd id is a 404 and never overflows
    a database integer on its way to a query."""

    regex = "[0-9]{1,18}"


# Registered before any router module builds its routes.
register_url_convertor("int", BoundedIntegerConvertor())
