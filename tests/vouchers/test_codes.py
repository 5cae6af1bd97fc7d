"""Voucher codes: unique, in their alphabet, and a mistyped character is always caught."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.vouchers import codes
from loyalty.vouchers.codes import CodeFormat, CodeFormatError

FORMATS = [
    CodeFormat(),
    CodeFormat(16, codes.DIGITS),
    CodeFormat(10, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "GC"),
]


@pytest.mark.parametrize("code_format", FORMATS)
def test_generated_codes_are_distinct_well_formed_and_pass_their_check(
    code_format: CodeFormat,
) -> None:
    generated = codes.generate(code_format, 2000)
    assert len(set(generated)) == 2000
    for code in generated:
        assert len(code) == code_format.total_length
        assert code.startswith(code_format.prefix)
        assert set(code[len(code_format.prefix) :]) <= set(code_format.alphabet)
        assert codes.has_valid_check(code, code_format)


@given(st.data())
def test_any_single_mistyped_character_is_caught(data: st.DataObject) -> None:
    code_format = data.draw(st.sampled_from(FORMATS))
    code = codes.generate(code_format, 1)[0]
    position = data.draw(st.integers(len(code_format.prefix), len(code) - 1))
    typo = data.draw(st.sampled_from([c for c in code_format.alphabet if c != code[position]]))
    mistyped = code[:position] + typo + code[position + 1 :]
    assert not codes.has_valid_check(mistyped, code_format)


def test_swapping_two_neighbours_is_caught_almost_always() -> None:
    code_format = CodeFormat(16, codes.DIGITS)
    missed = total = 0
    for code in codes.generate(code_format, 500):
        for position in range(len(code) - 1):
            if code[position] == code[position + 1]:
                continue
            swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
            total += 1
            missed += codes.has_valid_check(swapped, code_format)
    # Luhn misses only the 0↔9 swap among decimal digits.
    assert missed / total < 0.03


def test_random_part_is_uniform_over_the_alphabet() -> None:
    code_format = CodeFormat(12, codes.DEFAULT_ALPHABET)
    counts = dict.fromkeys(code_format.alphabet, 0)
    for code in codes.generate(code_format, 5000):
        for char in code[:-1]:
            counts[char] += 1
    expected = 5000 * 12 / 32
    chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
    assert chi_square < 80  # 31 degrees of freedom: p ≈ 1e-6 if uniform


@pytest.mark.parametrize(
    ("code_format", "problem"),
    [
        (CodeFormat(6, codes.DIGITS), "бит"),
        (CodeFormat(12, "AABBCCDDEEFF"), "повторяться"),
        (CodeFormat(12, "abcdefghjk"), "заглавные"),
        (CodeFormat(12, codes.DEFAULT_ALPHABET, "TOO-LONG-PREFIX"), "Префикс"),
        (CodeFormat(40, codes.DEFAULT_ALPHABET), "Длина"),
    ],
)
def test_formats_that_cannot_be_unguessable_are_refused(
    code_format: CodeFormat, problem: str
) -> None:
    with pytest.raises(CodeFormatError, match=problem):
        code_format.validate()


def test_default_format_has_sixty_bits() -> None:
    assert math.isclose(CodeFormat().entropy_bits, 60)


def test_normalise_accepts_what_a_cashier_types() -> None:
    assert codes.normalise(" ab12-cd34 ef.56 ") == "AB12CD34EF56"
