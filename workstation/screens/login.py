"""Sign-in modal: server URL, username, password, TOTP code, and "remember me".

Dismissed with a :class:`LoginResult` on success; failures are shown inline
(unreachable server, wrong credentials, locked account) and the form stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static
from textual.worker import Worker, WorkerState

from workstation.client import ClientError, ReadroomClient, SignIn

__all__ = ["LoginResult", "LoginScreen"]


@dataclass(frozen=True)
class LoginResult:
    """A successful sign-in and whether to remember it on this computer."""

    sign_in: SignIn
    server_url: str
    remember: bool


class LoginScreen(ModalScreen[LoginResult | None]):
    """Collects credentials, signs in on a worker thread, dismisses with the result."""

    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    LoginScreen > Vertical {
        width: 64; height: auto; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    LoginScreen #title { text-style: bold; width: 1fr; content-align: center middle; }
    LoginScreen Label.field { margin-top: 1; }
    LoginScreen #message { color: $error; margin-top: 1; height: auto; }
    LoginScreen #message.info { color: $warning; }
    LoginScreen Horizontal { height: auto; margin-top: 1; }
    LoginScreen Button { margin-right: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="login.cancel"),
    ]

    def __init__(
        self,
        client: ReadroomClient,
        *,
        server_url: str,
        username: str = "",
        remember: bool = False,
        message: str = "",
        cancellable: bool = False,
    ) -> None:
        super().__init__()
        self._client = client
        self._server_url = server_url
        self._username = username
        self._remember = remember
        self._message = message
        self._cancellable = cancellable

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Readroom — sign in", id="title")
            yield Label("Server", classes="field")
            yield Input(self._server_url, id="server", placeholder="https://…")
            yield Label("Username", classes="field")
            yield Input(self._username, id="username")
            yield Label("Password", classes="field")
            yield Input(id="password", password=True)
            yield Label("Authenticator code", classes="field")
            yield Input(id="totp", placeholder="6 digits", max_length=8, restrict=r"[0-9 ]*")
            yield Checkbox("Remember me on this computer", self._remember, id="remember")
            yield Label(self._message, id="message", classes="info" if self._message else "")
            with Horizontal():
                yield Button("Sign in", id="sign-in", variant="primary")
                if self._cancellable:
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        empty = "#username" if not self._username else "#password"
        self.query_one(empty, Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self._cancellable
        return True

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        order = ["server", "username", "password", "totp"]
        current = event.input.id or ""
        if current == "totp" or current not in order:
            self.submit()
        else:
            self.query_one(f"#{order[order.index(current) + 1]}", Input).focus()

    @on(Button.Pressed, "#sign-in")
    def submit(self) -> None:
        server = self.query_one("#server", Input).value.strip().rstrip("/")
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        code = self.query_one("#totp", Input).value.replace(" ", "")
        if not server.startswith(("http://", "https://")):
            self._show("The server address must start with http:// or https://.")
            return
        if not username or not password:
            self._show("Enter your username and password.")
            return
        if not code:
            self._show("Enter the 6-digit code from your authenticator app.")
            return
        self._show("Signing in…", info=True)
        self.query_one("#sign-in", Button).disabled = True
        self._sign_in(server, username, password, code)

    def _show(self, text: str, *, info: bool = False) -> None:
        label = self.query_one("#message", Label)
        label.update(text)
        label.set_class(info, "info")

    @work(thread=True, exclusive=True, group="login", exit_on_error=False)
    def _sign_in(self, server: str, username: str, password: str, code: str) -> LoginResult:
        self._client.base_url = server
        sign_in = self._client.login(username, password, code)
        remember = self.app.call_from_thread(lambda: self.query_one("#remember", Checkbox).value)
        return LoginResult(sign_in=sign_in, server_url=server, remember=bool(remember))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "login":
            return
        event.stop()
        if event.state is WorkerState.SUCCESS:
            self.dismiss(event.worker.result)
        elif event.state is WorkerState.ERROR:
            self.query_one("#sign-in", Button).disabled = False
            error = event.worker.error
            if isinstance(error, ClientError):
                self._show(error.message)
                self.query_one("#password" if error.status == 401 else "#totp", Input).focus()
            else:
                # no message text: it may carry what the user typed
                self._show(f"Sign-in failed unexpectedly ({type(error).__name__}).")
