"""Spoken → written radiology formatting, as a pure function.

``format_spoken("three point two centimeters")`` → ``"3.2 cm"``. The input is
the lower-case word string a recogniser produces; the output is report text.
:func:`format_words` takes per-word review flags (low confidence) and returns
the character spans of the written text that came from flagged words.

Decisions (conservative; a radiologist should never have to undo a rewrite):

* Numbers become digits when a radiologist would write digits: decimals,
  before a unit or ``%``, in dimensions (``5 x 3 x 2 mm``), after ``±``,
  ``minus``/``negative``, after reference nouns (``series 3``, ``image 45``,
  ``grade 2``) and for values of 10 or more. ``one`` … ``nine`` standing
  alone stay words (``two lesions``, ``no one``).
* Ordinals ``first`` … ``ninth`` stay words (``third ventricle``, ``first
  rib``, ``second opinion``); ``tenth`` and above become ``10th``, ``21st``,
  and any ordinal before ``percentile`` becomes numeric (``5th percentile``).
* Units are abbreviated only after a number (``measured in centimeters``
  stays as spoken).
* ``colon`` is punctuation unless it reads as anatomy (after ``the``,
  ``sigmoid``, ``transverse`` …, or before ``is``, ``wall`` …); ``period`` is
  a word before ``of`` or after ``the``/``postoperative`` ….
* Spelled letters become an acronym (``d v t`` → ``DVT``); a run never starts
  with the article ``a`` (``a c t scan`` → ``A CT scan``).
* Laterality (``left``, ``right``, ``bilateral``) is kept exactly as spoken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = ["FormattedText", "format_spoken", "format_words"]


class Kind(StrEnum):
    """How a written token attaches to its neighbours."""

    WORD = "word"
    NUMBER = "number"
    CLOSE = "close"  # , . ; : ? ! ) % ° — no space before
    OPEN = "open"  # ( — no space after
    JOIN = "join"  # - / — no space either side
    BREAK = "break"  # new line / paragraph
    SPACED = "spaced"  # x ± — spaces both sides, never capitalised


@dataclass(slots=True)
class Tok:
    text: str
    kind: Kind = Kind.WORD
    review: bool = False
    value: float | None = None  # numbers only
    is_decimal: bool = False
    digits: bool = False  # render a number as digits
    no_cap: bool = False
    cap_next: bool = False  # "cap <word>"
    ordinal: bool = False


@dataclass(frozen=True, slots=True)
class FormattedText:
    """Written text and the spans (start, end) that came from words flagged for review."""

    text: str
    review_spans: tuple[tuple[int, int], ...] = field(default=())


# --- tables -----------------------------------------------------------------

UNITS_0_19 = {
    "zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
    "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50,
    "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
    "hundredth": 100,
}  # fmt: skip

#: Multi-word spoken phrases rewritten before anything else (longest first).
PHRASES: dict[tuple[str, ...], Tok] = {
    ("question", "mark"): Tok("?", Kind.CLOSE),
    ("exclamation", "mark"): Tok("!", Kind.CLOSE),
    ("exclamation", "point"): Tok("!", Kind.CLOSE),
    ("full", "stop"): Tok(".", Kind.CLOSE),
    ("semi", "colon"): Tok(";", Kind.CLOSE),
    ("open", "paren"): Tok("(", Kind.OPEN),
    ("open", "parenthesis"): Tok("(", Kind.OPEN),
    ("open", "bracket"): Tok("(", Kind.OPEN),
    ("close", "paren"): Tok(")", Kind.CLOSE),
    ("close", "parenthesis"): Tok(")", Kind.CLOSE),
    ("closed", "paren"): Tok(")", Kind.CLOSE),
    ("close", "bracket"): Tok(")", Kind.CLOSE),
    ("new", "paragraph"): Tok("\n\n", Kind.BREAK),
    ("new", "line"): Tok("\n", Kind.BREAK),
    ("plus", "or", "minus"): Tok("±", Kind.SPACED),
    ("plus", "minus"): Tok("±", Kind.SPACED),
    # spelled acronyms
    ("d", "w", "i"): Tok("DWI"),
    ("a", "d", "c"): Tok("ADC"),
    ("s", "w", "i"): Tok("SWI"),
    ("g", "r", "e"): Tok("GRE"),
    ("s", "t", "i", "r"): Tok("STIR"),
    ("m", "r", "i"): Tok("MRI"),
    ("m", "r", "a"): Tok("MRA"),
    ("m", "r", "v"): Tok("MRV"),
    ("c", "t", "a"): Tok("CTA"),
    ("m", "r"): Tok("MR"),
    ("c", "t"): Tok("CT"),
    ("p", "e", "t"): Tok("PET"),
    ("c", "s", "f"): Tok("CSF"),
    ("i", "v", "c"): Tok("IVC"),
    ("i", "v"): Tok("IV"),
    ("a", "p"): Tok("AP"),
    ("f", "l", "a", "i", "r"): Tok("FLAIR"),
    ("pet", "ct"): Tok("PET/CT"),
    ("pet", "mri"): Tok("PET/MRI"),
    ("bi", "rads"): Tok("BI-RADS"),
    ("li", "rads"): Tok("LI-RADS"),
    ("pi", "rads"): Tok("PI-RADS"),
}

#: Single words written in capitals (sequences, modalities).
ACRONYMS = {
    "flair": "FLAIR", "dwi": "DWI", "adc": "ADC", "swi": "SWI", "stir": "STIR",
    "mri": "MRI", "mra": "MRA", "mrv": "MRV", "ct": "CT", "cta": "CTA", "csf": "CSF",
    "gre": "GRE", "dti": "DTI", "mrcp": "MRCP", "i": "I", "bi-rads": "BI-RADS",
    "birads": "BI-RADS", "li-rads": "LI-RADS", "lirads": "LI-RADS", "pi-rads": "PI-RADS",
    "pirads": "PI-RADS",
}  # fmt: skip
#: Adjacent acronyms written with a slash.
SLASH_PAIRS = {("DWI", "ADC"), ("PET", "CT"), ("PET", "MR"), ("PET", "MRI")}

#: Spoken unit (tuple of words) → (written, attaches without a space).
UNITS: dict[tuple[str, ...], tuple[str, bool]] = {
    ("centimeters", "per", "second"): ("cm/s", False),
    ("centimeter", "per", "second"): ("cm/s", False),
    ("millimeters", "of", "mercury"): ("mmHg", False),
    ("hounsfield", "units"): ("HU", False),
    ("hounsfield", "unit"): ("HU", False),
    ("h", "u"): ("HU", False),
    ("hu",): ("HU", False),
    ("per", "cent"): ("%", True),
    ("percent",): ("%", True),
    ("centimeters",): ("cm", False),
    ("centimeter",): ("cm", False),
    ("centimetres",): ("cm", False),
    ("centimetre",): ("cm", False),
    ("millimeters",): ("mm", False),
    ("millimeter",): ("mm", False),
    ("millimetres",): ("mm", False),
    ("millimetre",): ("mm", False),
    ("milliliters",): ("mL", False),
    ("milliliter",): ("mL", False),
    ("millilitres",): ("mL", False),
    ("millilitre",): ("mL", False),
    ("ml",): ("mL", False),
    ("m", "l"): ("mL", False),
    ("cc",): ("cc", False),
    ("c", "c"): ("cc", False),
    ("milligrams",): ("mg", False),
    ("milligram",): ("mg", False),
    ("kilograms",): ("kg", False),
    ("degrees",): ("°", True),
    ("degree",): ("°", True),
}
_MAX_UNIT = max(len(k) for k in UNITS)
_MAX_PHRASE = max(len(k) for k in PHRASES)

#: Nouns after which a small number is written in digits (``series 3``).
REFERENCE_NOUNS = {
    "series", "image", "images", "slice", "slices", "level", "grade", "stage",
    "segment", "segments", "category", "type", "zone", "score", "day", "days",
    "week", "weeks", "month", "months", "year", "years", "number", "bi-rads",
    "birads", "li-rads", "lirads", "pi-rads", "pirads", "tirads", "ti-rads", "rib",
    "ribs", "vertebra", "cycle", "station", "gleason", "class", "tier", "hours",
    "hour", "minute", "minutes", "figure",
}  # fmt: skip
SPINE_RANGE = {"c": (1, 8), "t": (1, 12), "l": (1, 5), "s": (1, 5)}
SPINE_NEXT = {"c": "t", "t": "l", "l": "s"}

PUNCTUATION = {
    "period": Tok(".", Kind.CLOSE),
    "comma": Tok(",", Kind.CLOSE),
    "colon": Tok(":", Kind.CLOSE),
    "semicolon": Tok(";", Kind.CLOSE),
    "hyphen": Tok("-", Kind.JOIN),
    "dash": Tok("-", Kind.JOIN),
    "slash": Tok("/", Kind.JOIN),
    "ellipsis": Tok("...", Kind.CLOSE),
}
PERIOD_AS_WORD_BEFORE = {"of", "in", "is", "was"}
PERIOD_AS_WORD_AFTER = {
    "the", "a", "this", "that", "postoperative", "perioperative", "postpartum",
    "neonatal", "washout", "interval", "refractory", "latent", "short", "long",
}  # fmt: skip
COLON_AS_WORD_AFTER = {
    "the", "a", "sigmoid", "ascending", "descending", "transverse", "right", "left",
    "proximal", "distal", "mid", "entire", "redundant", "whole", "of", "and", "or",
    "decompressed", "distended", "normal", "remaining", "residual", "your", "his", "her",
}  # fmt: skip
COLON_AS_WORD_BEFORE = {
    "is", "are", "was", "were", "wall", "walls", "cancer", "carcinoma", "and", "with",
    "which", "demonstrates", "shows", "appears", "contains", "to", "in", "without",
}  # fmt: skip
SENTENCE_END = {".", "?", "!"}
#: "this point two" is not 0.2: a bare "point <digit>" after these words is a noun.
NOT_BEFORE_BARE_POINT = {
    "this", "that", "the", "a", "which", "any", "some", "no", "each", "every", "one",
    "what", "starting", "focal", "single", "entry", "exit", "end", "reference", "tender",
}  # fmt: skip


# --- stages -----------------------------------------------------------------


def _words(tokens: list[Tok], i: int, n: int) -> tuple[str, ...]:
    return tuple(t.text for t in tokens[i : i + n] if t.kind is Kind.WORD)


def _merge(tokens: list[Tok], i: int, n: int, template: Tok) -> Tok:
    return replace(template, review=any(t.review for t in tokens[i : i + n]))


def _phrases(tokens: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        for n in range(min(_MAX_PHRASE, len(tokens) - i), 0, -1):
            window = tokens[i : i + n]
            if all(t.kind is Kind.WORD for t in window):
                key = tuple(t.text for t in window)
                if key in PHRASES:
                    out.append(_merge(tokens, i, n, PHRASES[key]))
                    i += n
                    break
        else:
            j = i
            while j < len(tokens) and _is_letter(tokens[j]) and (j > i or tokens[j].text != "a"):
                j += 1
            run = tuple(t.text for t in tokens[i:j])
            if j - i >= 2 and run not in UNITS:  # spelled letters: "d v t" → DVT
                out.append(_merge(tokens, i, j - i, Tok("".join(run).upper())))
                i = j
                continue
            tok = tokens[i]
            if tok.kind is Kind.WORD and tok.text in ACRONYMS:
                tok = replace(tok, text=ACRONYMS[tok.text])
            out.append(tok)
            i += 1
    # DWI ADC → DWI/ADC
    joined: list[Tok] = []
    for tok in out:
        if joined and (joined[-1].text, tok.text) in SLASH_PAIRS:
            prev = joined.pop()
            tok = replace(tok, text=f"{prev.text}/{tok.text}", review=prev.review or tok.review)
        joined.append(tok)
    return joined


def _is_letter(tok: Tok) -> bool:
    return tok.kind is Kind.WORD and len(tok.text) == 1 and "a" <= tok.text <= "z"


def _is_num_word(text: str) -> bool:
    return text in UNITS_0_19 or text in TENS or text in ("hundred", "thousand")


def _parse_number(tokens: list[Tok], i: int) -> tuple[Tok, int] | None:
    """Parse a spoken number (integer, decimal or ordinal) starting at ``i``."""
    total, current, last = 0, 0, ""
    j = i
    seen = False
    ordinal = False
    while j < len(tokens) and tokens[j].kind is Kind.WORD:
        w = tokens[j].text
        if w.isdigit():
            if seen:
                break
            current, last, seen = int(w), "digits", True
        elif w in UNITS_0_19 and w != "oh":
            v = UNITS_0_19[w]
            if v < 10 and last in ("", "tens", "scale"):
                current += v
                last = "units"
            elif v >= 10 and last in ("", "scale") and current % 100 == 0:
                current += v
                last = "teens"
            else:
                break
            seen = True
        elif w in TENS and last in ("", "scale") and current % 100 == 0:
            current += TENS[w]
            last, seen = "tens", True
        elif w == "hundred" and last in ("units", "teens") and current < 100:
            current *= 100
            last = "scale"
        elif w == "thousand" and seen and last != "scale_k" and current > 0:
            total += current * 1000
            current, last = 0, "scale"
        elif (
            w == "and"
            and last == "scale"
            and j + 1 < len(tokens)
            and (tokens[j + 1].text in UNITS_0_19 or tokens[j + 1].text in TENS)
        ):
            pass
        elif w in ORDINALS and (
            not seen or (last == "tens" and ORDINALS[w] < 10) or last == "scale"
        ):
            current += ORDINALS[w]
            ordinal, seen = True, True
            j += 1
            break
        else:
            break
        j += 1
    if not seen and not (j < len(tokens) and tokens[j].text == "point"):
        return None
    value: float = total + current
    text = str(total + current)
    is_decimal = False
    # decimals: "point" followed by digit words
    if not ordinal and j + 1 < len(tokens) and tokens[j].text == "point":
        k = j + 1
        digits = ""
        while k < len(tokens) and tokens[k].kind is Kind.WORD:
            w = tokens[k].text
            if w in UNITS_0_19 and UNITS_0_19[w] < 10:
                digits += str(UNITS_0_19[w])
            elif w.isdigit() and len(w) == 1:
                digits += w
            else:
                break
            k += 1
        if digits:
            text = f"{text if seen else '0'}.{digits}"
            value = float(text)
            is_decimal = True
            j = k
    if not seen and not is_decimal:
        return None
    review = any(t.review for t in tokens[i:j])
    if ordinal:
        n = int(value)
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        spoken = " ".join(t.text for t in tokens[i:j])
        text = f"{n}{suffix}" if n >= 10 else spoken
        return Tok(text, Kind.NUMBER, review, value=value, digits=n >= 10, ordinal=True), j
    spoken = " ".join(t.text for t in tokens[i:j])
    return Tok(spoken, Kind.NUMBER, review, value=value, is_decimal=is_decimal), j


def _numbers(tokens: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        # "oh" as zero only inside a decimal; "a" / single-word non-number skip fast
        if tok.kind is Kind.WORD and (
            _is_num_word(tok.text)
            or (tok.text in ORDINALS and not (out and out[-1].text == "per"))
            or tok.text.isdigit()
            or (
                tok.text == "point"
                and i + 1 < len(tokens)
                and tokens[i + 1].text in UNITS_0_19
                and not (out and out[-1].text in NOT_BEFORE_BARE_POINT)
            )
        ):
            parsed = _parse_number(tokens, i)
            if parsed is not None:
                num, i = parsed
                out.append(num)
                continue
        out.append(tok)
        i += 1
    return out


def _int_value(tok: Tok) -> int | None:
    if tok.kind is Kind.NUMBER and not tok.is_decimal and tok.value is not None:
        return None if tok.ordinal else int(tok.value)
    return None


def _level(tokens: list[Tok], i: int) -> tuple[str, int] | None:
    """A spine level ``C5`` at ``tokens[i:i+2]``, as (letter, number)."""
    if i + 1 >= len(tokens):
        return None
    letter = tokens[i].text
    if tokens[i].kind is not Kind.WORD or letter not in SPINE_RANGE:
        return None
    n = _int_value(tokens[i + 1])
    lo, hi = SPINE_RANGE[letter]
    if n is None or not lo <= n <= hi:
        return None
    return letter, n


def _spine(tokens: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        level = _level(tokens, i)
        if level is None:
            out.append(tokens[i])
            i += 1
            continue
        letter, n = level
        text = f"{letter.upper()}{n}"
        j = i + 2
        nxt = _level(tokens, j)
        if nxt is not None and (
            (nxt[0] == letter and nxt[1] > n) or (SPINE_NEXT.get(letter) == nxt[0] and nxt[1] == 1)
        ):
            text += f"-{nxt[0].upper()}{nxt[1]}"
            j += 2
        elif j < len(tokens) and _int_value(tokens[j]) == n + 1:
            text += f"-{n + 1}"
            j += 1
        review = any(t.review for t in tokens[i:j])
        # sequences: T1-weighted, T2*
        if letter == "t" and "-" not in text and n <= 2:
            if j < len(tokens) and tokens[j].text == "star":
                text += "*"
                j += 1
            if j < len(tokens) and tokens[j].text == "weighted":
                text += "-weighted"
                j += 1
            review = any(t.review for t in tokens[i:j])
        out.append(Tok(text, Kind.WORD, review, no_cap=True))
        i = j
    return out


def _unit_at(tokens: list[Tok], i: int) -> tuple[str, bool, int] | None:
    for n in range(min(_MAX_UNIT, len(tokens) - i), 0, -1):
        key = _words(tokens, i, n)
        if len(key) == n and key in UNITS:
            written, attach = UNITS[key]
            return written, attach, n
    return None


def _units_and_dimensions(tokens: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        out.append(tok)
        i += 1
        if tok.kind is not Kind.NUMBER or _is_spoken_ordinal(tok):
            continue
        unit = _unit_at(tokens, i)
        if unit is not None:
            written, attach, n = unit
            tok.digits = True
            review = any(t.review for t in tokens[i : i + n])
            out.append(Tok(written, Kind.CLOSE if attach else Kind.WORD, review, no_cap=True))
            i += n
        # "by" between numbers → x
        if (
            i + 1 < len(tokens)
            and tokens[i].text == "by"
            and tokens[i + 1].kind is Kind.NUMBER
            and not _is_spoken_ordinal(tokens[i + 1])
        ):
            tok.digits = True
            tokens[i + 1].digits = True
            out.append(Tok("x", Kind.SPACED, tokens[i].review))
            i += 1
    return out


def _is_spoken_ordinal(tok: Tok) -> bool:
    return tok.kind is Kind.NUMBER and tok.ordinal


def _punctuation(tokens: list[Tok]) -> list[Tok]:
    out: list[Tok] = []
    for i, tok in enumerate(tokens):
        w = tok.text
        prev = tokens[i - 1].text if i > 0 else ""
        nxt = tokens[i + 1].text if i + 1 < len(tokens) else ""
        if tok.kind is Kind.WORD and w in PUNCTUATION:
            as_word = (
                (w == "period" and (nxt in PERIOD_AS_WORD_BEFORE or prev in PERIOD_AS_WORD_AFTER))
                or (w == "colon" and (not prev or prev in COLON_AS_WORD_AFTER))
                or (w == "colon" and nxt in COLON_AS_WORD_BEFORE)
            )
            if not as_word:
                out.append(replace(PUNCTUATION[w], review=tok.review))
                continue
        if (
            tok.kind is Kind.WORD
            and w in ("minus", "negative")
            and nxt
            and tokens[i + 1].kind is Kind.NUMBER
            and not _is_spoken_ordinal(tokens[i + 1])
        ):
            tokens[i + 1].digits = True
            out.append(Tok("-", Kind.OPEN, tok.review, no_cap=True))
            continue
        if tok.kind is Kind.WORD and w == "cap" and nxt and tokens[i + 1].kind is Kind.WORD:
            tokens[i + 1].cap_next = True
            continue
        out.append(tok)
    return out


def _number_style(tokens: list[Tok]) -> None:
    """Decide digits vs words for each number (see the module docstring)."""
    for i, tok in enumerate(tokens):
        if tok.kind is not Kind.NUMBER or _is_spoken_ordinal(tok):
            continue
        prev = tokens[i - 1] if i > 0 else None
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        nxt2 = tokens[i + 2] if i + 2 < len(tokens) else None
        if (
            tok.is_decimal
            or (tok.value is not None and tok.value >= 10)
            or (prev is not None and prev.text.lower() in REFERENCE_NOUNS)
            or (prev is not None and prev.text in ("±", "-", "x") and prev.kind is not Kind.WORD)
            or (nxt is not None and nxt.text in ("±", "%"))
            or (nxt is not None and nxt.text == "percentile")
            or (
                nxt is not None
                and nxt.kind is Kind.JOIN
                and nxt2 is not None
                and nxt2.kind is Kind.NUMBER
            )
            or (prev is not None and prev.kind is Kind.JOIN and i > 1 and tokens[i - 2].digits)
        ):
            tok.digits = True
    # ordinals before "percentile"
    for i, tok in enumerate(tokens):
        if (
            _is_spoken_ordinal(tok)
            and i + 1 < len(tokens)
            and tokens[i + 1].text == "percentile"
            and tok.value is not None
        ):
            n = int(tok.value)
            suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            tok.text, tok.digits = f"{n}{suffix}", True


def _number_text(tok: Tok) -> str:
    if tok.ordinal or tok.text[:1].isdigit():
        return tok.text
    if not tok.digits or tok.value is None:
        return tok.text
    if tok.is_decimal:
        # keep the spoken digits ("two point five zero" → 2.50)
        return _decimal_text(tok.text)
    return str(int(tok.value))


def _decimal_text(spoken: str) -> str:
    words = spoken.split()
    k = words.index("point")
    int_part = _parse_int_words(words[:k]) if k else 0
    decimals = "".join(str(UNITS_0_19[w]) if w in UNITS_0_19 else w for w in words[k + 1 :])
    return f"{int_part}.{decimals}"


def _parse_int_words(words: list[str]) -> int:
    parsed = _parse_number([Tok(w) for w in words], 0)
    return int(parsed[0].value or 0) if parsed else 0


def _render(tokens: list[Tok], *, sentence_start: bool) -> FormattedText:
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    capitalise = sentence_start
    prev: Tok | None = None
    for tok in tokens:
        text = _number_text(tok) if tok.kind is Kind.NUMBER else tok.text
        space = (
            prev is not None
            and tok.kind not in (Kind.CLOSE, Kind.JOIN, Kind.BREAK)
            and prev.kind not in (Kind.OPEN, Kind.JOIN, Kind.BREAK)
        )
        if tok.kind in (Kind.CLOSE, Kind.BREAK) and parts and parts[-1] == " ":
            parts.pop()
            length -= 1
        if space:
            parts.append(" ")
            length += 1
        if tok.cap_next or (capitalise and tok.kind in (Kind.WORD, Kind.NUMBER) and not tok.no_cap):
            text = text[:1].upper() + text[1:]
        if tok.kind in (Kind.WORD, Kind.NUMBER):
            capitalise = False
        if tok.text in SENTENCE_END or tok.kind is Kind.BREAK:
            capitalise = True
        if tok.review:
            spans.append((length, length + len(text)))
        parts.append(text)
        length += len(text)
        prev = tok
    return FormattedText("".join(parts), tuple(spans))


# --- public -----------------------------------------------------------------


def format_words(
    words: Sequence[str],
    review: Sequence[bool] | None = None,
    *,
    sentence_start: bool = True,
) -> FormattedText:
    """Format recognised words; ``review[i]`` flags word ``i`` (e.g. low confidence)."""
    flags = list(review) if review is not None else [False] * len(words)
    tokens = [
        Tok(w.lower(), review=flag)
        for w, flag in zip(words, flags, strict=True)
        if w and w != "[unk]"
    ]
    tokens = _phrases(tokens)
    tokens = _numbers(tokens)
    tokens = _spine(tokens)
    tokens = _units_and_dimensions(tokens)
    tokens = _punctuation(tokens)
    _number_style(tokens)
    return _render(tokens, sentence_start=sentence_start)


def format_spoken(text: str, *, sentence_start: bool = True) -> str:
    """Spoken words → written report text (pure; see the module docstring)."""
    return format_words(text.split(), sentence_start=sentence_start).text
