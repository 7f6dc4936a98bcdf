"""The sign dialog: the report as it would be sent, what is still missing, confirm or go back.

A ``ModalScreen[bool]``: ``True`` when the radiologist confirmed. Nothing is
signed or submitted here (a later version adds the signature and the
submission to the server); the dialog says so in its footer.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from workstation.report.document import ReportDocument

__all__ = ["NOT_AVAILABLE", "SignDialog"]

NOT_AVAILABLE = "Signing and submission are not available in this version."


class SignDialog(ModalScreen[bool]):
    """Shows the rendered report and its missing required fields; returns the choice."""

    DEFAULT_CSS = """
    SignDialog { align: center middle; }
    SignDialog > Vertical {
        width: 84; max-width: 95%; height: auto; max-height: 90%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    SignDialog #sign-report {
        height: auto; max-height: 30; border: round $primary-darken-2; padding: 0 1;
    }
    SignDialog #sign-missing { color: $error; margin: 1 0 0 0; }
    SignDialog #sign-complete { color: $success; margin: 1 0 0 0; }
    SignDialog #sign-buttons { height: auto; margin: 1 0 0 0; align-horizontal: right; }
    SignDialog #sign-buttons Button { margin: 0 0 0 2; }
    SignDialog #sign-footer { color: $text-muted; text-style: italic; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Back to the report", id="sign.cancel"),
    ]

    def __init__(self, document: ReportDocument) -> None:
        super().__init__()
        self.document = document
        self.missing = document.missing_required()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]Sign report[/b] · {self.document.case_id or ''}", id="sign-title")
            with VerticalScroll(id="sign-report"):
                yield Static(self.document.render_text(), markup=False, id="sign-text")
            if self.missing:
                yield Static(
                    f"Required fields still empty: {', '.join(self.missing)}", id="sign-missing"
                )
            else:
                yield Static("Every required field is filled in.", id="sign-complete")
            with Horizontal(id="sign-buttons"):
                yield Button("Back to the report", id="sign-cancel")
                yield Button(
                    "Sign", variant="primary", id="sign-confirm", disabled=bool(self.missing)
                )
            yield Static(NOT_AVAILABLE, id="sign-footer")

    def on_mount(self) -> None:
        button = "#sign-cancel" if self.missing else "#sign-confirm"
        self.query_one(button, Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "sign-confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)
