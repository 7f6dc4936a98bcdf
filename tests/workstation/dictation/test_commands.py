"""The command table: whole-utterance matching, slots, sequences, grammar, config."""

from __future__ import annotations

import pytest

from workstation.dictation.commands import Action, Command, CommandTable

TABLE = CommandTable(sections=["Clinical history", "Findings", "Impression"])


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ("next field", Command(Action.NEXT_FIELD)),
        ("previous field", Command(Action.PREVIOUS_FIELD)),
        ("go to findings", Command(Action.GOTO_SECTION, "Findings")),
        ("go to clinical history", Command(Action.GOTO_SECTION, "Clinical history")),
        ("scratch that", Command(Action.SCRATCH_THAT)),
        ("delete last word", Command(Action.DELETE_LAST_WORD)),
        ("delete last sentence", Command(Action.DELETE_LAST_SENTENCE)),
        ("new line", Command(Action.NEW_LINE)),
        ("new paragraph", Command(Action.NEW_PARAGRAPH)),
        ("undo", Command(Action.UNDO)),
        ("redo", Command(Action.REDO)),
        ("insert normal", Command(Action.INSERT_NORMAL)),
        ("insert normal impression", Command(Action.INSERT_NORMAL, "Impression")),
        ("normal findings", Command(Action.INSERT_NORMAL, "Findings")),
        ("cap fleischner", Command(Action.CAP, "fleischner")),
        ("all caps on", Command(Action.ALL_CAPS_ON)),
        ("all caps off", Command(Action.ALL_CAPS_OFF)),
        ("start dictation", Command(Action.START_DICTATION)),
        ("stop dictation", Command(Action.STOP_DICTATION)),
        ("sign report", Command(Action.SIGN_REPORT)),
        ("Next Field", Command(Action.NEXT_FIELD)),
    ],
)
def test_whole_utterance_commands(spoken: str, expected: Command) -> None:
    found = TABLE.match(spoken.split())
    assert found is not None
    assert (found.action, found.argument) == (expected.action, expected.argument)


@pytest.mark.parametrize(
    "spoken",
    [
        "the next field of view",
        "next field please",
        "go to the emergency department",
        "normal study",
        "normal",
        "undo the bandage",
        "cap",
        "cap two words",
        "",
        "[unk]",
    ],
)
def test_dictation_is_not_a_command(spoken: str) -> None:
    assert TABLE.match(spoken.split()) is None


def test_without_a_template_go_to_takes_any_name() -> None:
    found = CommandTable().match(["go", "to", "comparison"])
    assert found == Command(Action.GOTO_SECTION, "comparison", ("go", "to", "comparison"))
    assert CommandTable().match(["go", "to", "whatever", "place"]).argument == "whatever place"


def test_sequence_matching_for_command_only_mode() -> None:
    spoken = ["next", "field", "um", "go", "to", "impression", "undo"]
    commands, ignored = TABLE.match_sequence(spoken)
    assert [(c.action, c.argument) for c in commands] == [
        (Action.NEXT_FIELD, None),
        (Action.GOTO_SECTION, "Impression"),
        (Action.UNDO, None),
    ]
    assert ignored == ["um"]


def test_grammar_spells_out_every_phrase() -> None:
    grammar = TABLE.grammar()
    assert "next field" in grammar
    assert "go to clinical history" in grammar
    assert "normal impression" in grammar
    assert all("{" not in phrase for phrase in grammar)


def test_table_is_language_agnostic() -> None:
    korean = CommandTable({"next_field": ["다음"]})
    assert korean.match(["다음"]) == Command(Action.NEXT_FIELD, None, ("다음",))
    assert korean.grammar() == ["다음"]


def test_extended_adds_phrases() -> None:
    table = TABLE.extended({"next_field": ["tab"], "sign_report": ["sign it"]})
    assert table.match(["tab"]).action is Action.NEXT_FIELD
    assert table.match(["next", "field"]).action is Action.NEXT_FIELD
    assert table.match(["sign", "it"]).action is Action.SIGN_REPORT


def test_unknown_action_in_config_is_rejected(tmp_path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[commands]\nlaunch_rocket = ["fire"]\n')
    with pytest.raises(ValueError, match="unknown command action"):
        CommandTable.from_toml(config)
