"""Combining the strings' whole cycles into one efficiency: what counts, what is left out."""

import pytest

from app.kpis.efficiency import StringCycle, efficiency


def test_strings_that_charged_enough_count_in_proportion_to_their_energy() -> None:
    # Two strings of 100 kWh: 40 in / 38 out and 20 in / 18 out: (38 + 18) / (40 + 20).
    result = efficiency([StringCycle(1, 40.0, 38.0, 100.0), StringCycle(2, 20.0, 18.0, 100.0)])
    assert result.ratio == pytest.approx(56 / 60)
    assert result.losses_kwh == pytest.approx(4.0)
    assert (result.strings, result.unbalanced) == (2, 0)


def test_a_short_cycle_does_not_count_and_alone_leaves_it_undefined() -> None:
    short = StringCycle(1, 9.9, 9.0, 100.0)  # under 10 % of the string's rated energy
    assert efficiency([short]).ratio is None
    assert efficiency([short, StringCycle(2, 10.0, 9.0, 100.0)]).ratio == pytest.approx(0.9)
    assert efficiency([]).ratio is None


def test_a_string_giving_out_more_than_it_took_in_is_left_out_and_counted() -> None:
    result = efficiency([StringCycle(1, 40.0, 38.0, 100.0), StringCycle(2, 20.0, 21.0, 100.0)])
    assert result.ratio == pytest.approx(0.95)
    assert (result.strings, result.unbalanced) == (1, 1)
    alone = efficiency([StringCycle(2, 20.0, 21.0, 100.0)])
    assert (alone.ratio, alone.unbalanced) == (None, 1)
