"""The right-hand panel of the reading screen: dictation status above the report editor.

The caller builds the :class:`~workstation.report.document.ReportDocument`
(e.g. ``DraftStore.open(choose_template(...), case_id)``) and, when a speech
model is installed, a :class:`~workstation.dictation.session.DictationSession`;
the panel attaches the session on mount (or later, through :meth:`ReportPanel.attach`,
when the model is still loading): the editor becomes its sink, the dictation
panel its event listener, and its ``{section}`` commands learn the template's
spoken names. F4 / F5 toggle dictation / command-only on a worker
thread (stopping waits for the last words, which the editor puts on this
thread). "Sign report" (voice or ctrl+s) posts :class:`ReportPanel.SignRequested`;
the panel never signs. With a :class:`~workstation.report.drafts.DraftStore`
the draft is saved shortly after every change and when the panel goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from workstation.dictation.audio import AudioError
from workstation.dictation.models import INSTALL_HINT
from workstation.dictation.session import DictationSession, DictationState, SessionEvent
from workstation.report.document import ReportDocument
from workstation.report.drafts import DraftStore
from workstation.widgets.dictation_panel import DictationPanel
from workstation.widgets.report_editor import ReportEditor

__all__ = ["LOADING_MODEL", "NO_SESSION_MESSAGE", "ReportPanel"]

NO_SESSION_MESSAGE = f"Typing only: no speech model. {INSTALL_HINT[:1].upper()}{INSTALL_HINT[1:]}"
LOADING_MODEL = "Loading the speech model… (typing works meanwhile)"


class _PanelListener:
    """A session's ``on_event`` while a panel shows it: the panel, then the caller's listener."""

    def __init__(
        self, panel: DictationPanel, *, downstream: Callable[[SessionEvent], None] | None
    ) -> None:
        self.panel = panel
        self.downstream = downstream

    def __call__(self, event: SessionEvent) -> None:
        self.panel.session_listener(event)
        if self.downstream is not None:
            self.downstream(event)


def _downstream(session: DictationSession) -> Callable[[SessionEvent], None] | None:
    """The caller's own listener of a session (without a panel's)."""
    listener = session.on_event
    return listener.downstream if isinstance(listener, _PanelListener) else listener


class ReportPanel(Vertical):
    """Dictation panel + report editor for one case."""

    DEFAULT_CSS = """
    ReportPanel { height: 1fr; }
    ReportPanel > DictationPanel { height: auto; min-height: 3; max-height: 8; }
    ReportPanel > ReportEditor { height: 1fr; }
    ReportPanel > #report-status { height: 1; color: $text-muted; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f4", "toggle_dictation", "Dictate", id="report.toggle_dictation"),
        Binding("f5", "toggle_command_only", "Commands", id="report.toggle_command_only"),
        Binding("ctrl+s", "request_sign", "Sign", id="report.sign"),
    ]

    class SignRequested(Message):
        """The radiologist asked to sign (by voice or key); open the sign dialog."""

        def __init__(self, document: ReportDocument) -> None:
            super().__init__()
            self.document = document

    class DraftSaved(Message):
        """The draft was written to disk."""

        def __init__(self, document: ReportDocument) -> None:
            super().__init__()
            self.document = document

    def __init__(
        self,
        document: ReportDocument,
        *,
        session: DictationSession | None = None,
        drafts: DraftStore | None = None,
        autosave_delay: float = 1.0,
        loading: bool = False,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.document = document
        self.session = session
        self.drafts = drafts
        self.autosave_delay = autosave_delay
        self.loading = loading and session is None
        """True while the session is being built elsewhere (see :meth:`attach`)."""
        self.unavailable = NO_SESSION_MESSAGE
        """Why there is no session (shown as a problem unless :attr:`loading`)."""
        self._save_timer: Timer | None = None
        self._saved_revision = document.revision
        #: Stops dictation still running when the panel is removed (join it to wait for the
        #: last words and the final draft).
        self.stop_thread: threading.Thread | None = None

    def compose(self) -> ComposeResult:
        yield DictationPanel(id="dictation")
        yield ReportEditor(self.document, id="report-editor")
        yield Static(id="report-status")

    @property
    def dictation(self) -> DictationPanel:
        return self.query_one(DictationPanel)

    @property
    def editor(self) -> ReportEditor:
        return self.query_one(ReportEditor)

    def show_microphone(self, text: str) -> None:
        """Name the microphone dictation captures from (shown while dictation is off)."""
        self.dictation.microphone = text

    def focus_editor(self) -> None:
        """Put the keyboard focus in the report, at the current field."""
        self.editor.focus_current()

    def on_mount(self) -> None:
        if self.session is None:
            self._show_unavailable()
        else:
            self._attach_session(self.session)
        self._show_status()

    def _show_unavailable(self) -> None:
        if self.loading:
            self.dictation.show_notice(LOADING_MODEL)
        else:
            self.dictation.show_error(self.unavailable)

    def attach(self, session: DictationSession | None, *, reason: str = "") -> None:
        """Dictate with ``session`` from now on (built after mount), or show why there is none."""
        if self.session is not None:
            return  # one session per panel
        self.loading = False
        if session is None:
            self.unavailable = reason or NO_SESSION_MESSAGE
            self._show_unavailable()
            return
        self.session = session
        self._attach_session(session)

    def _attach_session(self, session: DictationSession) -> None:
        self.dictation.show_notice("F4 dictate / stop · F5 commands only")
        session.sink = self.editor
        session.on_event = _PanelListener(self.dictation, downstream=_downstream(session))
        session.commands = session.commands.with_sections(self.document.template.spoken_names())

    def _detach_session(self, session: DictationSession) -> None:
        """Hand the session back: late words go straight into the (thread-safe) document."""
        session.sink = self.document
        session.on_event = _downstream(session)

    def on_unmount(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        session = self.session
        if session is not None:
            self._detach_session(session)
        if session is not None and session.state is not DictationState.OFF:
            # stop() waits for the last words (now written straight into the document)
            def stop_then_save() -> None:
                session.stop()
                self._save_now()

            self.stop_thread = threading.Thread(
                target=stop_then_save, name="dictation-stop", daemon=True
            )
            self.stop_thread.start()
        else:
            try:
                self._save_now()
            except OSError as error:
                self.app.notify(f"The draft could not be saved: {error}", severity="error")

    # --- dictation ----------------------------------------------------------------------

    def action_toggle_dictation(self) -> None:
        """F4: start dictating, or stop (the last words are flushed into the report)."""
        self._toggle(command_only=False)

    def action_toggle_command_only(self) -> None:
        """F5: listen for commands only (nothing is typed), or back to dictating."""
        self._toggle(command_only=True)

    def _toggle(self, *, command_only: bool) -> None:
        if self.session is None:
            if self.loading:
                self.notify(LOADING_MODEL, timeout=3)
            else:
                self.notify("Dictation is not available: see the panel.", severity="warning")
            self._show_unavailable()
            return
        self._run_toggle(self.session, command_only)

    @work(thread=True, group="dictation", exit_on_error=False)
    def _run_toggle(self, session: DictationSession, command_only: bool) -> None:
        try:
            if command_only:
                session.toggle_command_only()
            else:
                session.toggle_dictation()
        except AudioError:
            return  # already shown: the session posted ErrorOccurred to the dictation panel

    # --- signing ------------------------------------------------------------------------

    def action_request_sign(self) -> None:
        """ctrl+s: ask for the sign dialog (the screen opens it)."""
        self.document.request_sign()
        self.post_message(self.SignRequested(self.document))

    def on_report_editor_sign_requested(self, message: ReportEditor.SignRequested) -> None:
        message.stop()
        self.post_message(self.SignRequested(self.document))

    # --- drafts and status -------------------------------------------------------------------

    def on_report_editor_document_changed(self, message: ReportEditor.DocumentChanged) -> None:
        self._show_status()
        if self.drafts is None or self.document.case_id is None:
            return
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None
        if self.autosave_delay > 0:
            self._save_timer = self.set_timer(self.autosave_delay, self._autosave_due)
        else:
            self._write_draft()

    def _autosave_due(self) -> None:
        self._save_timer = None
        self._write_draft()

    @work(thread=True, group="drafts", exclusive=True, exit_on_error=False)
    def _write_draft(self) -> None:
        if self._save_now():
            self.post_message(self.DraftSaved(self.document))

    def _save_now(self) -> bool:
        """Save the draft if it changed since the last save; True when written."""
        revision = self.document.revision
        if self.drafts is None or self.document.case_id is None:
            return False
        if revision == self._saved_revision:
            return False
        self.drafts.save(self.document)
        self._saved_revision = revision
        return True

    def save_draft(self) -> None:
        """Save the draft now (e.g. before leaving the case)."""
        self._save_now()

    def on_report_panel_draft_saved(self, message: DraftSaved) -> None:
        self._show_status(saved=True)

    def _show_status(self, *, saved: bool = False) -> None:
        missing = self.document.missing_required()
        text = f"[b]Missing:[/b] {', '.join(missing)}" if missing else "Complete"
        if saved:
            text += "  · draft saved"
        self.query_one("#report-status", Static).update(text)
