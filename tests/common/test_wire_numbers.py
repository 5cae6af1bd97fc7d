"""Money, points and quantities go out as JSON numbers whose text is the exact Decimal (spec §1.8).

`decimal_as_json_number` hands pydantic a float for fractional values; these properties prove
that, over the whole range reaching the wire (2 decimals up to 10^11, 3 decimals up to 10^6), the
text pydantic writes is a plain JSON number spelling exactly the same value.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from loyalty.common.schemas import WireDecimal, decimal_as_json_number

PLAIN_NUMBER = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")  # no sign, no exponent, no padding


class Amount(BaseModel):
    value: WireDecimal


class NumberToken:
    """A number token as it appears in the JSON text, with its kind."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


def written(value: Decimal) -> Any:
    """The JSON text of `value` inside a model, parsed without losing how it was spelled."""
    text = Amount(value=value).model_dump_json()
    document = json.loads(
        text,
        parse_int=lambda token: NumberToken("int", token),
        parse_float=lambda token: NumberToken("float", token),
    )
    return document["value"]


@st.composite
def spelled(draw: st.DrawFn, units: int, max_value: int) -> Decimal:
    """A value with at most `units` decimals in [0, max_value], in any of its spellings:
    62.95, 62.950, 6295E-2, 5E+2, 500.00 ..."""
    scaled = draw(
        st.one_of(
            st.integers(min_value=0, max_value=max_value * 10**units),
            st.integers(min_value=0, max_value=max_value).map(lambda whole: whole * 10**units),
            st.integers(min_value=max_value * 10**units - 1000, max_value=max_value * 10**units),
        )
    )
    value = Decimal(scaled).scaleb(-units)
    spelling = draw(st.sampled_from(["as is", "padded", "normalized"]))
    if spelling == "padded":
        return value.quantize(Decimal(1).scaleb(-units - 2))
    if spelling == "normalized":
        return value.normalize()
    return value


def assert_exact_json_number(value: Decimal, max_decimals: int) -> None:
    token = written(value)
    assert isinstance(token, NumberToken), f"{value} went out as {token!r}, not a JSON number"
    assert PLAIN_NUMBER.match(token.text), f"{value} went out as {token.text}"
    assert Decimal(token.text) == value
    if value == value.to_integral_value():
        assert token.kind == "int", f"whole {value} went out as {token.text}"
    else:
        assert token.kind == "float"
        assert len(token.text.split(".")[1]) <= max_decimals
    assert Amount.model_validate_json(Amount(value=value).model_dump_json()).value == value


class TestMoneyOnTheWire:
    @settings(max_examples=500, deadline=None)
    @given(value=spelled(units=2, max_value=10**11))
    @example(value=Decimal("62.95"))
    @example(value=Decimal("99999999999.99"))
    @example(value=Decimal("0.01"))
    @example(value=Decimal("0.10"))
    @example(value=Decimal("5E+2"))
    def test_is_an_exact_json_number(self, value: Decimal) -> None:
        assert_exact_json_number(value, max_decimals=2)


class TestQuantityOnTheWire:
    @settings(max_examples=500, deadline=None)
    @given(value=spelled(units=3, max_value=10**6))
    @example(value=Decimal("123.456"))
    @example(value=Decimal("0.001"))
    @example(value=Decimal("999999.999"))
    @example(value=Decimal("1.500"))
    def test_is_an_exact_json_number(self, value: Decimal) -> None:
        assert_exact_json_number(value, max_decimals=3)


class TestWholeValues:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            ("500", "500"),
            ("500.00", "500"),
            ("5E+2", "500"),
            ("0", "0"),
            ("0.000", "0"),
            ("100000000000", "100000000000"),
            ("62.95", "62.95"),
            ("0.10", "0.1"),
        ],
    )
    def test_examples(self, value: str, text: str) -> None:
        assert Amount(value=Decimal(value)).model_dump_json() == f'{{"value":{text}}}'

    @settings(max_examples=200, deadline=None)
    @given(points=st.integers(min_value=0, max_value=10**12))
    def test_points_are_integers(self, points: int) -> None:
        rendered = decimal_as_json_number(Decimal(points).quantize(Decimal("0.01")))
        assert type(rendered) is int
        assert rendered == points
