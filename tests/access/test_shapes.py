"""access/shapes.py: ``Shape.answer``, the fast path the core answers with, gives exactly what
marshmallow's ``dump`` of the same schema gives (keys, their order, values, absent keys),
for rows with every value, rows of nulls, rows lacking attributes, and given values."""

import datetime
from types import SimpleNamespace

import pytest
from marshmallow import Schema, fields, post_dump

from access import events, shapes

SHAPES = [s for s in vars(shapes).values() if isinstance(s, shapes.Shape)] + [events.EVENT]
WHEN = datetime.datetime(2026, 11, 23, 12, 0, 5)


def value_of(field: fields.Field, full: bool):
    if not full:
        return None
    if isinstance(field, shapes.Time):
        return WHEN
    if isinstance(field, fields.Nested):
        return SimpleNamespace(type="Project", rid="p-1")
    if isinstance(field, fields.List):
        return [value_of(field.inner, full), value_of(field.inner, full)]
    if isinstance(field, fields.Dict):
        return {"k": [1, 2]}
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 7
    if isinstance(field, fields.Raw) and not isinstance(field, fields.String):
        return {"x": None}
    return "text"


def cases(shape: shapes.Shape):
    """A full row, a row of nulls, an empty row, and each as a Given of its given fields."""
    names = {n: f.attribute or n for n, f in shape.dump_fields.items()}
    for full in (True, False):
        row = SimpleNamespace(**{a: value_of(shape.dump_fields[n], full) for n, a in names.items()})
        yield row
        yield shapes.Given(row)  # the given-only fields absent
        given = {a: getattr(row, a) for a in shape.GIVEN}
        yield shapes.Given(row, **given)
        yield shapes.Given(SimpleNamespace(), **given)
    yield SimpleNamespace()


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: type(s).__name__)
def test_answer_is_the_dump(shape):
    seen = 0
    for obj in cases(shape):
        answered, dumped = shape.answer(obj), shape.dump(obj)
        assert answered == dumped
        assert list(answered) == list(dumped)
        seen += bool(answered)
    assert seen >= 4


def test_a_given_only_field_never_falls_back_to_the_row():
    row = SimpleNamespace(id="inv-1", status="pending", token="leaked")
    answer = shapes.INVITATION.answer(shapes.Given(row, status="expired"))
    assert answer["status"] == "expired"
    assert "token" not in answer
    assert shapes.INVITATION.dump(shapes.Given(row, status="expired")) == answer


def test_a_shape_refuses_what_answer_would_skip():
    class Hooked(shapes.Shape):
        a = fields.String()

        @post_dump
        def twist(self, data, **kwargs):
            return data

    class Defaulted(shapes.Shape):
        a = fields.String(dump_default="x")

    class Computed(shapes.Shape):
        a = fields.Function(lambda obj: 1)

    for schema in (Hooked, Defaulted, Computed):
        with pytest.raises(TypeError):
            schema()
    assert issubclass(shapes.Shape, Schema)
