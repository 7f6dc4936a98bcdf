"""Voice commands as data: a table of phrases per action, and a matcher.

An utterance is a command only when it is *wholly* a command phrase ("next
field"); the same words inside a sentence ("the next field of view") are
dictation. Phrases may end in a slot: ``{section}`` (one of the template's
section names, or any words when none are known) or ``{word}`` (one word).
The table is language-agnostic — any phrases in any language work, e.g. a
Korean table for the Korean test model — and extendable from TOML config::

    [commands]
    next_field = ["next field", "tab"]
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "DEFAULT_COMMANDS",
    "DEFAULT_SECTIONS",
    "Action",
    "Command",
    "CommandTable",
]


class Action(StrEnum):
    """What a voice command does."""

    NEXT_FIELD = "next_field"
    PREVIOUS_FIELD = "previous_field"
    GOTO_SECTION = "goto_section"
    SCRATCH_THAT = "scratch_that"
    DELETE_LAST_WORD = "delete_last_word"
    DELETE_LAST_SENTENCE = "delete_last_sentence"
    NEW_LINE = "new_line"
    NEW_PARAGRAPH = "new_paragraph"
    UNDO = "undo"
    REDO = "redo"
    INSERT_NORMAL = "insert_normal"
    CAP = "cap"
    ALL_CAPS_ON = "all_caps_on"
    ALL_CAPS_OFF = "all_caps_off"
    START_DICTATION = "start_dictation"
    STOP_DICTATION = "stop_dictation"
    SIGN_REPORT = "sign_report"


#: The English command phrases (action → phrases).
DEFAULT_COMMANDS: dict[str, list[str]] = {
    "next_field": ["next field"],
    "previous_field": ["previous field"],
    "goto_section": ["go to {section}"],
    "scratch_that": ["scratch that"],
    "delete_last_word": ["delete last word", "delete the last word"],
    "delete_last_sentence": ["delete last sentence", "delete the last sentence"],
    "new_line": ["new line"],
    "new_paragraph": ["new paragraph"],
    "undo": ["undo", "undo that"],
    "redo": ["redo", "redo that"],
    "insert_normal": ["insert normal", "insert normal {section}", "normal {section}"],
    "cap": ["cap {word}"],
    "all_caps_on": ["all caps on"],
    "all_caps_off": ["all caps off"],
    "start_dictation": ["start dictation"],
    "stop_dictation": ["stop dictation"],
    "sign_report": ["sign report", "sign the report"],
}

#: Section names used for ``{section}`` when no template is loaded.
DEFAULT_SECTIONS = ("clinical history", "technique", "comparison", "findings", "impression")

SECTION_SLOT = "{section}"
WORD_SLOT = "{word}"


@dataclass(frozen=True, slots=True)
class Command:
    """A matched command: the action, its slot value (section or word), and the words heard."""

    action: Action
    argument: str | None = None
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Pattern:
    action: Action
    words: tuple[str, ...]  # fixed words
    slot: str | None  # SECTION_SLOT, WORD_SLOT or None


def _normalise(text: str) -> tuple[str, ...]:
    return tuple(text.lower().split())


class CommandTable:
    """Phrases per action; matches whole utterances (or, in command-only mode, sequences)."""

    def __init__(
        self,
        phrases: Mapping[str, Iterable[str]] = DEFAULT_COMMANDS,
        *,
        sections: Sequence[str] | None = None,
    ) -> None:
        self.phrases: dict[Action, list[str]] = {}
        for name, texts in phrases.items():
            self.phrases.setdefault(Action(name), []).extend(texts)
        self.sections = tuple(sections) if sections is not None else None
        self._section_words = {
            _normalise(name): name for name in (self.sections or DEFAULT_SECTIONS)
        }
        self._patterns: list[_Pattern] = []
        for action, texts in self.phrases.items():
            for text in texts:
                words = _normalise(text)
                slot = words[-1] if words and words[-1] in (SECTION_SLOT, WORD_SLOT) else None
                self._patterns.append(_Pattern(action, words[:-1] if slot else words, slot))
        # longest fixed part first, so "insert normal findings" beats "insert normal"
        self._patterns.sort(key=lambda p: (len(p.words), p.slot is not None), reverse=True)

    def extended(self, phrases: Mapping[str, Iterable[str]]) -> CommandTable:
        """A copy with more phrases (e.g. from config) added to the actions named."""
        merged = {action.value: list(texts) for action, texts in self.phrases.items()}
        for name, texts in phrases.items():
            merged.setdefault(Action(name).value, []).extend(texts)
        return CommandTable(merged, sections=self.sections)

    def with_sections(self, sections: Sequence[str]) -> CommandTable:
        """A copy whose ``{section}`` slot matches exactly these section names."""
        return CommandTable(
            {action.value: texts for action, texts in self.phrases.items()}, sections=sections
        )

    @classmethod
    def from_toml(
        cls, path: Path, *, base: Mapping[str, Iterable[str]] = DEFAULT_COMMANDS
    ) -> CommandTable:
        """The default table extended by the ``[commands]`` table of a TOML file."""
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        extra = data.get("commands", data)
        try:
            return cls(base).extended({name: list(texts) for name, texts in extra.items()})
        except ValueError as error:
            raise ValueError(f"{path}: unknown command action ({error})") from None

    # --- matching -------------------------------------------------------------

    def _match_at(
        self, words: Sequence[str], start: int, *, whole: bool
    ) -> tuple[Command, int] | None:
        rest = tuple(w.lower() for w in words[start:])
        for pattern in self._patterns:
            n = len(pattern.words)
            if rest[:n] != pattern.words:
                continue
            if pattern.slot is None:
                if not whole or len(rest) == n:
                    return Command(pattern.action, None, rest[:n]), start + n
                continue
            tail = rest[n:]
            if pattern.slot == WORD_SLOT:
                if tail and (len(tail) == 1 or not whole):
                    return Command(pattern.action, tail[0], rest[: n + 1]), start + n + 1
                continue
            for section_words, name in sorted(
                self._section_words.items(), key=lambda kv: -len(kv[0])
            ):
                k = len(section_words)
                if tail[:k] == section_words and (not whole or len(tail) == k):
                    return Command(pattern.action, name, rest[: n + k]), start + n + k
            if self.sections is None and tail and whole and pattern.words[:1] != ("normal",):
                # no template known: "go to <anything>"
                return Command(pattern.action, " ".join(tail), rest), len(words)
        return None

    def match(self, words: Sequence[str]) -> Command | None:
        """The command that the whole utterance is, or None (then it is dictation)."""
        words = [w for w in words if w != "[unk]"]
        if not words:
            return None
        found = self._match_at(words, 0, whole=True)
        return found[0] if found else None

    def match_sequence(self, words: Sequence[str]) -> tuple[list[Command], list[str]]:
        """Commands spoken one after another (command-only mode), and the words ignored."""
        words = [w for w in words if w != "[unk]"]
        commands: list[Command] = []
        ignored: list[str] = []
        i = 0
        while i < len(words):
            found = self._match_at(words, i, whole=False)
            if found is None:
                ignored.append(words[i])
                i += 1
            else:
                command, i = found
                commands.append(command)
        return commands, ignored

    def grammar(self) -> list[str]:
        """Every phrase spelled out (slots expanded), for a recogniser grammar."""
        out: list[str] = []
        sections = [" ".join(words) for words in self._section_words]
        for pattern in self._patterns:
            fixed = " ".join(pattern.words)
            if pattern.slot == SECTION_SLOT:
                out.extend(f"{fixed} {section}".strip() for section in sections)
            elif pattern.slot is None:
                out.append(fixed)
        return sorted(set(out))
