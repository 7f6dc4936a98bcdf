"""Spoken → written radiology formatting: a table of pairs a radiologist would accept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workstation.dictation.formatting import format_spoken, format_words

PAIRS: list[tuple[str, str]] = [
    # numbers and decimals
    ("three point two centimeters", "3.2 cm"),
    ("zero point five centimeters", "0.5 cm"),
    ("point five millimeters", "0.5 mm"),
    ("one point zero centimeters", "1.0 cm"),
    ("two point five zero centimeters", "2.50 cm"),
    ("twelve millimeters", "12 mm"),
    ("twenty five millimeters", "25 mm"),
    ("one hundred twenty millimeters", "120 mm"),
    ("one hundred and five hounsfield units", "105 HU"),
    ("one thousand two hundred milliliters", "1200 mL"),
    ("fifteen hundred milliliters", "1500 mL"),
    ("four centimeters", "4 cm"),
    ("one centimeter", "1 cm"),
    ("eleven point three centimeters", "11.3 cm"),
    ("a three point one four centimeter lesion", "A 3.14 cm lesion"),
    ("measuring seven millimeters", "Measuring 7 mm"),
    ("measuring up to nine millimeters", "Measuring up to 9 mm"),
    ("ninety nine percent", "99%"),
    ("fifty percent stenosis", "50% stenosis"),
    ("five percent", "5%"),
    ("seventy per cent", "70%"),
    ("minus twenty hounsfield units", "-20 HU"),
    ("negative ten hounsfield units", "-10 HU"),
    ("density of forty hounsfield units", "Density of 40 HU"),
    ("ten hounsfield units", "10 HU"),
    ("thirty h u", "30 HU"),
    ("one hundred fifty milliliters", "150 mL"),
    ("eighty milliliters of contrast", "80 mL of contrast"),
    ("five milligrams", "5 mg"),
    ("twenty degrees", "20°"),
    ("peak velocity of one hundred twenty centimeters per second", "Peak velocity of 120 cm/s"),
    ("ejection fraction of fifty five percent", "Ejection fraction of 55%"),
    # small counts stay words, larger become digits
    ("two lesions", "Two lesions"),
    ("there are three cysts", "There are three cysts"),
    ("no one", "No one"),
    ("one of the nodules", "One of the nodules"),
    ("twelve nodules", "12 nodules"),
    ("fifteen lymph nodes", "15 lymph nodes"),
    # reference nouns take digits
    ("series three image forty five", "Series 3 image 45"),
    ("image twelve", "Image 12"),
    ("series two image seven", "Series 2 image 7"),
    ("grade two", "Grade 2"),
    ("bi-rads category four", "BI-RADS category 4"),
    ("bi rads four", "BI-RADS 4"),
    ("segment seven", "Segment 7"),
    ("the lesion in segment eight", "The lesion in segment 8"),
    ("stage three", "Stage 3"),
    ("day five", "Day 5"),
    # dimensions
    ("five by three by two millimeters", "5 x 3 x 2 mm"),
    ("five by three centimeters", "5 x 3 cm"),
    ("five centimeters by three centimeters", "5 cm x 3 cm"),
    ("two point one by one point four centimeters", "2.1 x 1.4 cm"),
    ("two point one by one point four by one point one centimeters", "2.1 x 1.4 x 1.1 cm"),
    ("measuring four by three millimeters", "Measuring 4 x 3 mm"),
    ("a ten by eight millimeter nodule", "A 10 x 8 mm nodule"),
    ("twelve by nine by seven millimeters", "12 x 9 x 7 mm"),
    ("stand by", "Stand by"),
    ("bounded by the psoas", "Bounded by the psoas"),
    ("one by one centimeter", "1 x 1 cm"),
    # plus or minus
    ("three point two plus or minus zero point four centimeters", "3.2 ± 0.4 cm"),
    ("plus or minus two millimeters", "± 2 mm"),
    ("ten plus or minus two", "10 ± 2"),
    ("plus minus five percent", "± 5%"),
    # spine levels and ranges
    ("c five c six", "C5-C6"),
    ("c five", "C5"),
    ("c seven t one", "C7-T1"),
    ("l four five", "L4-5"),
    ("l five s one", "L5-S1"),
    ("t twelve", "T12"),
    ("t twelve l one", "T12-L1"),
    ("l one", "L1"),
    ("s one", "S1"),
    ("c three c four", "C3-C4"),
    ("t eleven twelve", "T11-12"),
    ("l three four", "L3-4"),
    ("at l four five there is a disc bulge", "At L4-5 there is a disc bulge"),
    ("disc protrusion at c five c six period", "Disc protrusion at C5-C6."),
    ("mild stenosis at l two three and l three four", "Mild stenosis at L2-3 and L3-4"),
    ("the l one vertebral body", "The L1 vertebral body"),
    ("compression fracture of t eight", "Compression fracture of T8"),
    ("from c two through c seven", "From C2 through C7"),
    ("l six", "L six"),
    ("c nine", "C nine"),
    # sequences and acronyms
    ("t two weighted", "T2-weighted"),
    ("t one weighted", "T1-weighted"),
    ("t two weighted images", "T2-weighted images"),
    ("on t one weighted images", "On T1-weighted images"),
    ("t two star", "T2*"),
    ("t two star weighted", "T2*-weighted"),
    ("flair", "FLAIR"),
    ("on flair", "On FLAIR"),
    ("t two flair hyperintensity", "T2 FLAIR hyperintensity"),
    ("d w i slash a d c", "DWI/ADC"),
    ("dwi adc", "DWI/ADC"),
    ("d w i a d c", "DWI/ADC"),
    ("restricted diffusion on dwi", "Restricted diffusion on DWI"),
    ("low adc values", "Low ADC values"),
    ("s w i", "SWI"),
    ("blooming on swi", "Blooming on SWI"),
    ("stir", "STIR"),
    ("s t i r hyperintensity", "STIR hyperintensity"),
    ("g r e", "GRE"),
    ("m r i of the brain", "MRI of the brain"),
    ("mri of the brain", "MRI of the brain"),
    ("c t of the chest", "CT of the chest"),
    ("ct abdomen", "CT abdomen"),
    ("cta", "CTA"),
    ("m r a", "MRA"),
    ("pet ct", "PET/CT"),
    ("c s f", "CSF"),
    ("i v contrast", "IV contrast"),
    ("mrcp", "MRCP"),
    ("no evidence of d v t period", "No evidence of DVT."),
    ("the i v c is patent", "The IVC is patent"),
    ("a p diameter", "AP diameter"),
    ("a c t scan", "A CT scan"),
    ("s m a", "SMA"),
    ("ten m l", "10 mL"),
    # ordinals: conservative
    ("third ventricle", "Third ventricle"),
    ("the fourth ventricle is normal", "The fourth ventricle is normal"),
    ("first rib", "First rib"),
    ("second opinion", "Second opinion"),
    ("fifth metatarsal", "Fifth metatarsal"),
    ("eleventh rib", "11th rib"),
    ("twelfth rib", "12th rib"),
    ("twenty first", "21st"),
    ("fiftieth percentile", "50th percentile"),
    ("fifth percentile", "5th percentile"),
    ("ninety fifth percentile", "95th percentile"),
    ("twenty second", "22nd"),
    ("thirty third", "33rd"),
    # punctuation words
    ("no acute findings period", "No acute findings."),
    ("liver comma spleen comma and pancreas", "Liver, spleen, and pancreas"),
    ("impression colon", "Impression:"),
    ("findings colon normal", "Findings: normal"),
    ("normal semicolon stable", "Normal; stable"),
    ("is this new question mark", "Is this new?"),
    ("well dash defined", "Well-defined"),
    ("well hyphen circumscribed", "Well-circumscribed"),
    ("open paren image twelve close paren", "(Image 12)"),
    ("a nodule open paren series three image forty close paren", "A nodule (series 3 image 40)"),
    ("mass open parenthesis arrow close parenthesis", "Mass (arrow)"),
    ("and slash or", "And/or"),
    ("new paragraph impression", "\n\nImpression"),
    ("normal period new paragraph impression colon", "Normal.\n\nImpression:"),
    ("normal period new line no change", "Normal.\nNo change"),
    ("stable period no new lesions period", "Stable. No new lesions."),
    ("stable full stop", "Stable."),
    ("semi colon", ";"),
    # command words inside dictation stay words
    ("the next field of view", "The next field of view"),
    ("no period of", "No period of"),
    ("for a period of three months", "For a period of three months"),
    ("in the postoperative period", "In the postoperative period"),
    ("in the postoperative period period", "In the postoperative period."),
    ("the sigmoid colon is normal", "The sigmoid colon is normal"),
    ("the colon is decompressed", "The colon is decompressed"),
    ("descending colon", "Descending colon"),
    ("thickening of the transverse colon period", "Thickening of the transverse colon."),
    ("at this point", "At this point"),
    ("at this point two lesions are seen", "At this point two lesions are seen"),
    ("the entry point one centimeter below", "The entry point 1 cm below"),
    ("scratch that", "Scratch that"),
    # laterality kept as spoken
    ("left kidney", "Left kidney"),
    ("the right kidney", "The right kidney"),
    ("bilateral pleural effusions", "Bilateral pleural effusions"),
    ("left greater than right", "Left greater than right"),
    ("right lower lobe", "Right lower lobe"),
    ("left and right", "Left and right"),
    ("bilaterally", "Bilaterally"),
    # capitals, spacing
    ("cap parkinson disease", "Parkinson disease"),
    ("the cap fleischner society", "The Fleischner society"),
    ("i recommend follow up", "I recommend follow up"),
    ("normal study", "Normal study"),
    ("no acute intracranial abnormality period", "No acute intracranial abnormality."),
    (
        "there is a three point two centimeter mass in the left lower lobe period",
        "There is a 3.2 cm mass in the left lower lobe.",
    ),
    (
        "disc bulge at l four five comma mild stenosis period",
        "Disc bulge at L4-5, mild stenosis.",
    ),
    (
        "t two flair hyperintensity measuring six millimeters period",
        "T2 FLAIR hyperintensity measuring 6 mm.",
    ),
    (
        "restricted diffusion on d w i slash a d c period",
        "Restricted diffusion on DWI/ADC.",
    ),
    (
        "stable period the left kidney measures eleven centimeters period",
        "Stable. The left kidney measures 11 cm.",
    ),
    (
        "simple cyst open paren five by four millimeters close paren period",
        "Simple cyst (5 x 4 mm).",
    ),
    ("hounsfield units", "Hounsfield units"),
    ("measured in centimeters", "Measured in centimeters"),
    ("", ""),
]


@pytest.mark.parametrize(("spoken", "written"), PAIRS, ids=[p[0] or "empty" for p in PAIRS])
def test_spoken_to_written(spoken: str, written: str) -> None:
    assert format_spoken(spoken) == written


def test_table_has_at_least_150_pairs() -> None:
    assert len(PAIRS) >= 150
    assert len({spoken for spoken, _ in PAIRS}) == len(PAIRS)


def test_mid_sentence_is_not_capitalised() -> None:
    assert format_spoken("the liver is normal", sentence_start=False) == "the liver is normal"
    assert format_spoken("normal period the spleen", sentence_start=False) == "normal. The spleen"


def test_review_spans_follow_low_confidence_words() -> None:
    words = ["mass", "measuring", "three", "point", "two", "centimeters"]
    flags = [False, False, True, False, False, False]
    result = format_words(words, flags)
    assert result.text == "Mass measuring 3.2 cm"
    assert [result.text[a:b] for a, b in result.review_spans] == ["3.2"]


def test_review_span_on_a_plain_word() -> None:
    result = format_words(["left", "kidney", "cyst"], [False, True, False])
    assert [result.text[a:b] for a, b in result.review_spans] == ["kidney"]


def test_unknown_token_is_dropped() -> None:
    assert format_spoken("left [unk] kidney") == "Left kidney"


VOCABULARY = sorted(
    {word for spoken, _ in PAIRS for word in spoken.split()}
    | {"oh", "and", "hundred", "thousand", "point", "by", "per", "x", "7", "[unk]", "of"}
)


@given(st.lists(st.tuples(st.sampled_from(VOCABULARY), st.booleans()), max_size=14), st.booleans())
@settings(max_examples=200, deadline=None)
def test_any_word_sequence_formats_and_spans_stay_inside(pairs, sentence_start) -> None:
    words = [w for w, _ in pairs]
    result = format_words(words, [flag for _, flag in pairs], sentence_start=sentence_start)
    for start, end in result.review_spans:
        assert 0 <= start < end <= len(result.text)
    assert result.text == result.text.strip(" ")
    assert "  " not in result.text
