"""Pure case rules: field validators, the state machine, readiness, fees, eligibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.cases import rules
from server.cases.models import CaseStatus, Coverage
from tests.server.cases.conftest import BRITISH_COLUMBIA, ONTARIO, ontario

TODAY = date(2026, 11, 30)

# --------------------------------------------------------------------------- health card


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9876543217", "9876543217"),
        ("9876-543-217", "9876543217"),
        ("9876 543 217", "9876543217"),
        ("1234567897", "1234567897"),
        ("0000000000", "0000000000"),
        ("1111111116", "1111111116"),
    ],
)
def test_health_card_valid(text: str, expected: str) -> None:
    assert rules.health_card_number(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9876543210", "not valid"),  # wrong check digit
        ("9876543218", "not valid"),
        ("1234567890", "not valid"),
        ("987654321", "10 digits"),  # too short
        ("98765432170", "10 digits"),  # too long
        ("98765432AB", "10 digits"),  # letters
        ("", "10 digits"),
    ],
)
def test_health_card_invalid(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        rules.health_card_number(text)


@pytest.mark.parametrize(
    ("payload", "digit"), [("987654321", 7), ("123456789", 7), ("000000000", 0), ("111111111", 6)]
)
def test_luhn_check_digit(payload: str, digit: int) -> None:
    assert rules.luhn_check_digit(payload) == digit


@pytest.mark.parametrize(("text", "expected"), [("A", "A"), ("ab", "AB"), (" Zx ", "ZX")])
def test_version_code_valid(text: str, expected: str) -> None:
    assert rules.health_card_version(text) == expected


@pytest.mark.parametrize("text", ["", "ABC", "1", "A1", "É", "A-B"])
def test_version_code_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="one or two letters"):
        rules.health_card_version(text)


# --------------------------------------------------------------------------- postal codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M5H 2N2", "M5H 2N2"),
        ("m5h2n2", "M5H 2N2"),
        ("k1a-0b1", "K1A 0B1"),
        (" V6B  1A1 ", "V6B 1A1"),
        ("X0A 0H0", "X0A 0H0"),
        ("T2P 2Z9", "T2P 2Z9"),  # W and Z are fine in other positions
        ("H0H 0H0", "H0H 0H0"),
        ("A1W 1A1", "A1W 1A1"),
    ],
)
def test_postal_code_valid(text: str, expected: str) -> None:
    assert rules.postal_code(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "W1A 1A1",  # W never first
        "Z1A 1A1",  # Z never first
        "D1A 1A1",  # D F I O Q U never used
        "M1D 1A1",
        "M1A 1F1",
        "I1A 1A1",
        "O1A 1A1",
        "Q1A 1A1",
        "U1A 1A1",
        "M5H 2N",  # too short
        "M5H 2N22",
        "12345",  # a US ZIP
        "MM5 2N2",
        "",
    ],
)
def test_postal_code_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="A1A 1A1"):
        rules.postal_code(text)


@pytest.mark.parametrize(
    ("code", "province", "matches"),
    [
        ("M5H 2N2", "ON", True),
        ("M5H 2N2", "BC", False),
        ("X0A 0H0", "NU", True),
        ("X1A 1A1", "NT", True),
        ("H2X 1Y4", "QC", True),
        ("K1A 0B1", "QC", False),
    ],
)
def test_postal_code_matches_province(code: str, province: str, matches: bool) -> None:
    assert rules.postal_code_matches_province(code, province) is matches


@pytest.mark.parametrize("code", sorted(rules.PROVINCES))
def test_every_province_code_accepted(code: str) -> None:
    assert rules.province(code.lower()) == code


@pytest.mark.parametrize("code", ["US", "NY", "Ontario", "", "NF", "PQ"])
def test_unknown_province_refused(code: str) -> None:
    with pytest.raises(ValueError, match="two-letter code"):
        rules.province(code)


# --------------------------------------------------------------------------- phone and fax


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("416-555-0199", "+14165550199"),
        ("(416) 555-0199", "+14165550199"),
        ("416.555.0199", "+14165550199"),
        ("4165550199", "+14165550199"),
        ("1-416-555-0199", "+14165550199"),
        ("+1 416 555 0199", "+14165550199"),
        ("+14165550199", "+14165550199"),
        ("1 (905) 555-0100", "+19055550100"),
        ("212 555 0100", "+12125550100"),
    ],
)
def test_fax_number_valid(text: str, expected: str) -> None:
    assert rules.nanp_number(text, what="fax number") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("016-555-0199", "area code"),  # area code starts with 0
        ("116-555-0199", "area code"),  # area code starts with 1
        ("416-055-0199", "area code"),  # exchange starts with 0
        ("416-155-0199", "area code"),  # exchange starts with 1
        ("555-0199", "area code"),  # no area code
        ("+44 20 7946 0958", "area code"),  # not North American
        ("416-555-019", "area code"),
        ("416-555-01999", "area code"),
        ("416-555-0199 x12", "area code"),
        ("fax me", "area code"),
        ("411-555-0199", "service code"),
        ("416-911-0199", "service code"),
    ],
)
def test_fax_number_invalid(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        rules.nanp_number(text, what="fax number")


# --------------------------------------------------------------------------- other fields


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("12345", True),
        ("123456", True),
        ("1234", False),
        ("1234567", False),
        ("12a45", False),
        ("", False),
    ],
)
def test_cpso_number(text: str, ok: bool) -> None:
    if ok:
        assert rules.cpso_number(text) == text
    else:
        with pytest.raises(ValueError, match="5 or 6 digits"):
            rules.cpso_number(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [("f", True), ("M", True), ("O", True), ("U", True), ("X", False), ("female", False)],
)
def test_sex(text: str, ok: bool) -> None:
    if ok:
        assert rules.sex(text) == text.upper()
    else:
        with pytest.raises(ValueError, match="F \\(female\\)"):
            rules.sex(text)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1970-01-31", None),
        ("2026-11-30", None),
        ("2026-12-01", "future"),
        ("31/01/1970", "YYYY-MM-DD"),
        ("1850-01-01", "year"),
        ("1970-02-30", "YYYY-MM-DD"),
    ],
)
def test_birth_date(text: str, error: str | None) -> None:
    if error is None:
        assert rules.birth_date(text, today=TODAY) == date.fromisoformat(text)
    else:
        with pytest.raises(ValueError, match=error):
            rules.birth_date(text, today=TODAY)


def test_valid_details_are_normalised() -> None:
    values, errors = rules.validate_details(ONTARIO, today=TODAY)
    assert errors == []
    assert values["patient_postal_code"] == "M5H 2N2"
    assert values["patient_health_card_number"] == "9876543217"
    assert values["patient_health_card_version"] == "AB"
    assert values["physician_fax"] == "+14165550199"
    assert values["patient_birth_date"] == date(1970, 1, 31)
    assert rules.cross_check_details(values) == []
    assert rules.missing_details(values) == []


def test_every_invalid_field_is_reported_at_once() -> None:
    bad = ontario(
        patient_postal_code="W1A 1A1",
        patient_health_card_number="9876543210",
        patient_health_card_version="ABC",
        physician_fax="016-555-0199",
        physician_cpso_number="12",
        patient_birth_date="yesterday",
        patient_sex="X",
        patient_province="ZZ",
    )
    _values, errors = rules.validate_details(bad, today=TODAY)
    assert {e.field for e in errors} == {
        "patient_postal_code",
        "patient_health_card_number",
        "patient_health_card_version",
        "physician_fax",
        "physician_cpso_number",
        "patient_birth_date",
        "patient_sex",
        "patient_province",
    }
    assert all(e.message.endswith((".", "?")) for e in errors)


def test_blank_clears_and_missing_lists_required_fields() -> None:
    values, errors = rules.validate_details({"clinical_question": "  "}, today=TODAY)
    assert errors == []
    assert values == {"clinical_question": None}
    missing = {e.field for e in rules.missing_details({"patient_province": "ON"})}
    assert "clinical_question" in missing
    assert "patient_health_card_number" in missing
    assert "patient_address_line2" not in missing
    assert "patient_health_card_number" not in {
        e.field for e in rules.missing_details({"patient_province": "BC"})
    }


def test_cross_checks() -> None:
    values, _ = rules.validate_details(ontario(patient_province="BC"), today=TODAY)
    fields = {e.field for e in rules.cross_check_details(values)}
    assert fields == {
        "patient_postal_code",
        "patient_health_card_number",
        "patient_health_card_version",
    }


# --------------------------------------------------------------------------- coverage and fee


@pytest.mark.parametrize(
    ("details", "coverage"),
    [
        (ONTARIO, Coverage.OHIP),
        (BRITISH_COLUMBIA, Coverage.PRIVATE),
        ({**ONTARIO, "patient_health_card_number": None}, Coverage.PRIVATE),
        ({**ONTARIO, "patient_health_card_number": "9876543210"}, Coverage.PRIVATE),
    ],
)
def test_coverage(details: dict[str, str], coverage: Coverage) -> None:
    values = {k: v for k, v in details.items()}
    if values.get("patient_health_card_number"):
        values["patient_health_card_number"] = values["patient_health_card_number"].replace("-", "")
    assert rules.coverage_for(values) is coverage


@pytest.mark.parametrize(
    ("fee", "rate", "amount", "tax", "total"),
    [
        ("450.00", "0.13", "450.00", "58.50", "508.50"),
        ("450", "0.05", "450.00", "22.50", "472.50"),
        ("99.99", "0.13", "99.99", "13.00", "112.99"),  # 12.9987 -> 13.00
        ("0.05", "0.13", "0.05", "0.01", "0.06"),  # 0.0065 rounds half up
    ],
)
def test_private_fee(fee: str, rate: str, amount: str, tax: str, total: str) -> None:
    result = rules.fee_for(Coverage.PRIVATE, private_fee=Decimal(fee), tax_rate=Decimal(rate))
    assert (result.amount, result.tax, result.total) == (
        Decimal(amount),
        Decimal(tax),
        Decimal(total),
    )


def test_covered_fee_is_zero() -> None:
    fee = rules.fee_for(Coverage.OHIP, private_fee=Decimal("450"), tax_rate=Decimal("0.13"))
    assert fee.total == Decimal("0.00")


def test_cents_round_trip() -> None:
    assert rules.to_cents(Decimal("508.50")) == 50850
    assert rules.from_cents(50850) == Decimal("508.50")


# --------------------------------------------------------------------------- state machine

S = CaseStatus
ALLOWED = {
    (S.DRAFT, S.SUBMITTED), (S.DRAFT, S.CANCELLED),
    (S.SUBMITTED, S.READY), (S.SUBMITTED, S.REJECTED), (S.SUBMITTED, S.CANCELLED),
    (S.READY, S.ASSIGNED), (S.READY, S.REJECTED), (S.READY, S.CANCELLED),
    (S.ASSIGNED, S.READING), (S.ASSIGNED, S.READY), (S.ASSIGNED, S.REJECTED),
    (S.ASSIGNED, S.CANCELLED),
    (S.READING, S.SIGNED), (S.READING, S.ASSIGNED), (S.READING, S.REJECTED),
    (S.READING, S.CANCELLED),
    (S.SIGNED, S.DELIVERED),
}  # fmt: skip
EVERY_PAIR = [(a, b) for a in CaseStatus for b in CaseStatus]


@pytest.mark.parametrize(("current", "target"), EVERY_PAIR, ids=lambda s: s.value)
def test_state_machine(current: CaseStatus, target: CaseStatus) -> None:
    allowed = (current, target) in ALLOWED
    assert rules.can_transition(current, target) is allowed
    refusal = rules.transition_refusal(current, target)
    assert (refusal is None) is allowed
    if not allowed:
        assert current.value in refusal


def test_terminal_states() -> None:
    assert {s for s in CaseStatus if not rules.TRANSITIONS[s]} == {
        S.DELIVERED,
        S.REJECTED,
        S.CANCELLED,
    }


# --------------------------------------------------------------------------- readiness


@dataclass
class Facts:
    images_accepted_count: int = 0
    total_owed: int = 0
    amount_paid: int = 0
    has_referral: bool = False


@pytest.mark.parametrize(
    ("facts", "missing"),
    [
        (Facts(), ["Images", "Referral"]),
        (Facts(images_accepted_count=5), ["Referral"]),
        (Facts(has_referral=True), ["Images"]),
        (Facts(images_accepted_count=5, has_referral=True), []),
        (Facts(images_accepted_count=5, has_referral=True, total_owed=50850), ["Payment"]),
        (
            Facts(images_accepted_count=5, has_referral=True, total_owed=50850, amount_paid=50000),
            ["Payment"],
        ),
        (
            Facts(images_accepted_count=5, has_referral=True, total_owed=50850, amount_paid=50850),
            [],
        ),
        (Facts(total_owed=50850), ["Images", "Referral", "Payment"]),
    ],
)
def test_readiness(facts: Facts, missing: list[str]) -> None:
    found = rules.missing_for_ready(facts)
    assert [m.split(":")[0] for m in found] == missing
    assert rules.is_ready(facts) is (not missing)


def test_payment_missing_says_how_much() -> None:
    found = rules.missing_for_ready(Facts(5, 50850, 0, True))
    assert found == ["Payment: $508.50 CAD is still owed."]


def test_due_at() -> None:
    ready = datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert rules.due_at(ready, turnaround_days=7) == ready + timedelta(days=7)


# --------------------------------------------------------------------------- eligibility

SETTINGS = SimpleNamespace(accepted_modalities=["CT", "MR"], study_max_age_days=365)


@pytest.mark.parametrize(
    ("modality", "study_date", "reason"),
    [
        ("CT", TODAY - timedelta(days=1), None),
        ("MR", TODAY, None),
        ("mr", TODAY - timedelta(days=365), None),
        ("CT", TODAY - timedelta(days=366), "366 days old"),
        ("US", TODAY, "Only CT or MR"),
        ("CR", TODAY, "Only CT or MR"),
        (None, TODAY, "unknown type"),
        ("CT", None, "no date"),
        ("CT", TODAY + timedelta(days=1), "future"),
    ],
)
def test_study_is_eligible(
    modality: str | None, study_date: date | None, reason: str | None
) -> None:
    result = rules.study_is_eligible(modality, study_date, TODAY, SETTINGS)
    if reason is None:
        assert result is None
    else:
        assert result is not None
        assert reason in result


def test_eligibility_follows_settings() -> None:
    wider = SimpleNamespace(accepted_modalities=["CT", "MR", "PT"], study_max_age_days=30)
    assert rules.study_is_eligible("PT", TODAY, TODAY, wider) is None
    assert "30 days" in (
        rules.study_is_eligible("CT", TODAY - timedelta(days=31), TODAY, wider) or ""
    )


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1970, 1, 31), date(2026, 1, 30), 55),
        (date(1970, 1, 31), date(2026, 1, 31), 56),
        (None, date(2026, 1, 1), None),
    ],
)
def test_age_in_years(born: date | None, on: date, age: int | None) -> None:
    assert rules.age_in_years(born, on) == age


# --------------------------------------------------------------------------- properties


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9), st.data())
def test_luhn_catches_every_single_digit_error(payload: str, position: int, data) -> None:
    number = payload + str(rules.luhn_check_digit(payload))
    assert rules.health_card_number(number) == number
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    with pytest.raises(ValueError, match="not valid"):
        rules.health_card_number(number[:position] + wrong + number[position + 1 :])


@given(st.from_regex(r"[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9]", fullmatch=True))
def test_postal_code_letters_rule(text: str) -> None:
    letters = [c.upper() for c in text if c.isalpha()]
    allowed = not set(letters) & set("DFIOQU") and letters[0] not in "WZ"
    if allowed:
        assert (
            rules.postal_code(text)
            == f"{text.replace(' ', '')[:3]} {text.replace(' ', '')[3:]}".upper()
        )
    else:
        with pytest.raises(ValueError, match="A1A 1A1"):
            rules.postal_code(text)
