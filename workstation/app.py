"""``readroom``: the Textual app. Wiring only — settings and services in, screens, bindings.

Start-up: :func:`workstation.session.resume` checks a remembered or
configured token, or signs in with the demo credentials; otherwise the
sign-in modal. A 401 from any worker pushes the sign-in modal over whatever
is open and, once signed in, runs the failed worker again. Every other
worker failure becomes one notification (see :meth:`ReadroomApp.worker_failed`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from workstation import heap, session
from workstation.client import ClientError, NotSignedIn, ServerUnreachable, User
from workstation.config import ConfigError, Settings, load_settings
from workstation.screens.login import LoginResult, LoginScreen
from workstation.screens.worklist import WorklistScreen
from workstation.services import Services, build_services
from workstation.viewer.graphics import DEFAULT_CELL_PIXELS, Renderer, resolve_renderer
from workstation.widgets.graphics import detect_graphics

__all__ = ["ReadroomApp", "make_app", "run"]

log = logging.getLogger(__name__)

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


class ReadroomApp(App[None]):
    """The reading workstation."""

    TITLE = "Readroom"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle_theme", "Light/dark", id="app.toggle_theme"),
        Binding("ctrl+o", "sign_out", "Sign out", id="app.sign_out"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]

    def __init__(self, settings: Settings, services: Services) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.user: User | None = None
        self._retry: list[Worker[object]] = []
        self._signing_in = False
        self._shown_failures: set[str] = set()
        self.graphics = resolve_renderer(settings.renderer, detected=None)
        """How viewports draw images (``auto``: what :func:`run` detected, else half-blocks)."""
        self.cell_pixels = DEFAULT_CELL_PIXELS
        """A terminal cell's size in pixels (the graphics frames' resolution)."""

    # -- start-up ----------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = DARK_THEME if self.settings.dark else LIGHT_THEME
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
        self.services.client.base_url = self.settings.server_url
        if session.can_resume(self.settings, self.services.tokens):
            self._resume()
        else:
            self.request_sign_in()
        self.call_after_refresh(self._freeze_heap)

    def _freeze_heap(self) -> None:
        """After the first paint: collect, then move what start-up built out of the GC's reach.

        Full collections walk every object Textual and the imports created
        (100–190 ms pauses mid-scroll); frozen objects are no longer scanned
        (see :mod:`workstation.heap`). Not in headless runs (tests): frozen
        objects would outlive each test.
        """
        if self.manages_heap:
            heap.settle()

    @property
    def manages_heap(self) -> bool:
        """Whether the app freezes the heap (:mod:`workstation.heap`): not when headless."""
        return not self.is_headless

    @work(thread=True, exclusive=True, group="resume", exit_on_error=False)
    def _resume(self) -> session.Resumed:
        """Sign in from the starting token or the demo credentials (see :mod:`session`)."""
        return session.resume(self.services.client, self.settings, self.services.tokens)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "resume" and event.state is WorkerState.SUCCESS:
            resumed: session.Resumed = worker.result  # type: ignore[assignment]
            if resumed.user is None:
                self.request_sign_in(resumed.message)
            else:
                self._signed_in(resumed.user)
        elif worker.group == "resume" and event.state is WorkerState.ERROR:
            error = worker.error
            message = error.message if isinstance(error, ClientError) else "Could not sign in."
            self.request_sign_in(message)
        elif event.state is WorkerState.ERROR:
            self.worker_failed(worker)

    # -- signing in and out ------------------------------------------------------

    def request_sign_in(self, message: str = "", *, retry: Worker[object] | None = None) -> None:
        """Show the sign-in modal over the current screen (once), retrying ``retry`` after."""
        if retry is not None:
            self._retry.append(retry)
        if self._signing_in:
            return
        self._signing_in = True
        username = self.user.username if self.user else (self.settings.username or "")
        screen = LoginScreen(
            self.services.client,
            server_url=self.services.client.base_url,
            username=username,
            remember=self.settings.remember_token,
            message=message,
            cancellable=False,
        )
        self.push_screen(screen, self._login_dismissed)

    def _login_dismissed(self, result: LoginResult | None) -> None:
        self._signing_in = False
        if result is None:
            self.exit()
            return
        if result.remember:
            self._save_token(result.server_url, result.sign_in.token)
        self._signed_in(result.sign_in.user)

    def _signed_in(self, user: User) -> None:
        self.user = user
        self.sub_title = f"{user.full_name} · {self.services.client.base_url}"
        self._shown_failures.clear()
        if not any(isinstance(s, WorklistScreen) for s in self.screen_stack):
            self.push_screen(WorklistScreen(self.settings, self.services))
        retry, self._retry = self._retry, []
        for worker in retry:
            self._run_again(worker)

    def _run_again(self, worker: Worker[object]) -> None:
        node = worker.node
        if not node.is_attached:
            return
        node.run_worker(
            worker._work,  # the same callable and arguments the failed worker ran
            name=worker.name,
            group=worker.group,
            description=worker.description,
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _save_token(self, server_url: str, token: str) -> None:
        try:
            self.services.tokens.save(server_url, token)
        except Exception as error:  # keyring refused: still signed in for this session
            self.notify(
                f"Could not remember the sign-in ({type(error).__name__}).", severity="warning"
            )

    def action_sign_out(self) -> None:
        self._sign_out()

    @work(thread=True, exclusive=True, group="sign-out", exit_on_error=False)
    def _sign_out(self) -> None:
        session.forget_token(self.services.tokens, self.services.client.base_url)
        try:
            self.services.client.logout()
        finally:
            self.call_from_thread(self._signed_out)

    def _signed_out(self) -> None:
        self.user = None
        self.sub_title = ""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.request_sign_in("Signed out.")

    # -- failures ------------------------------------------------------------------

    def worker_failed(self, worker: Worker[object]) -> None:
        """The one handler for failed workers: sign-in on a 401, else a notification."""
        error = worker.error
        if isinstance(error, NotSignedIn):
            self.request_sign_in(error.message, retry=worker)
            return
        if isinstance(error, ClientError):
            message, severity = error.message, "error"
            if isinstance(error, ServerUnreachable):
                severity = "warning"
        else:
            # no str(error): exception text may carry patient data
            log.error("worker %s failed: %s", worker.name, type(error).__name__)
            message, severity = f"Something went wrong ({type(error).__name__}).", "error"
        if message in self._shown_failures:  # a poll failing again says nothing new
            return
        self._shown_failures.add(message)
        self.notify(message, title="Readroom", severity=severity, timeout=8)

    def worker_succeeded(self) -> None:
        """A call went through: repeated failures may be shown again."""
        self._shown_failures.clear()

    # -- theme and palette -------------------------------------------------------

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.theme == DARK_THEME else DARK_THEME

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's commands, then every binding of the current screen with its keys."""
        yield from super().get_system_commands(screen)
        found: dict[str, tuple[str, list[str], object]] = {}
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in ("toggle_theme", "command_palette"):
                continue
            entry = found.setdefault(binding.action, (binding.description, [], active.node))
            entry[1].append(self.get_key_display(binding))
        for action, (description, keys, node) in found.items():
            yield SystemCommand(
                f"{description} ({', '.join(keys)})",
                f"Key: {', '.join(keys)}",
                partial(self.run_action, action, node),  # type: ignore[arg-type]
            )
        yield SystemCommand(
            "Light/dark theme", "Toggle the light and dark theme", self.action_toggle_theme
        )


def make_app(settings: Settings, services: Services) -> ReadroomApp:
    """The app for ``settings`` using ``services`` (tests pass fakes)."""
    return ReadroomApp(settings, services)


def run() -> int:
    """Start the workstation: read the config, build the services, run the app."""
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"readroom: {error}", file=sys.stderr)
        return 2
    services = build_services(settings)
    app = make_app(settings, services)
    if settings.renderer is not Renderer.HALFBLOCK:
        # textual-image queries the terminal (protocols, cell size) when first imported, which
        # only works before Textual owns the terminal: once, here, also for a forced protocol
        detected, app.cell_pixels = detect_graphics()
        app.graphics = resolve_renderer(settings.renderer, detected)
    try:
        app.run()
    finally:
        services.close()
    return app.return_code or 0
