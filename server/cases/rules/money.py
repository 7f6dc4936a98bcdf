"""Coverage (OHIP or private), the fee and its tax, money in cents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from server.cases.rules.fields import health_card_number
from server.cases.schemas import Coverage

# --------------------------------------------------------------------------- coverage, fees

CENT = Decimal("0.01")


def coverage_for(details: Mapping[str, Any]) -> Coverage:
    """OHIP covers Ontario residents with a valid health card; everyone else pays."""
    if details.get("patient_province") == "ON" and details.get("patient_health_card_number"):
        try:
            health_card_number(details["patient_health_card_number"])
        except ValueError:
            return Coverage.PRIVATE
        return Coverage.OHIP
    return Coverage.PRIVATE


@dataclass(frozen=True)
class Fee:
    amount: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def fee_for(coverage: Coverage, *, private_fee: Decimal, tax_rate: Decimal) -> Fee:
    """The fee and tax owed, rounded half-up to the cent."""
    if coverage is Coverage.OHIP:
        return Fee(Decimal("0.00"), Decimal("0.00"))
    amount = private_fee.quantize(CENT, rounding=ROUND_HALF_UP)
    return Fee(amount, (amount * tax_rate).quantize(CENT, rounding=ROUND_HALF_UP))


def to_cents(amount: Decimal) -> int:
    return int((amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def money(amount: Decimal, currency: str = "CAD") -> str:
    return f"${amount:,.2f} {currency}"
