"""What every screen shares: worker failures go to the app's one handler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from textual.worker import Worker, WorkerState

if TYPE_CHECKING:
    from textual.app import App


class FailureHandler(Protocol):
    def worker_failed(self, worker: Worker[object]) -> None: ...
    def worker_succeeded(self) -> None: ...


class ForwardsWorkerFailures:
    """Mixin for screens: a worker that ended in error is reported by the app.

    ``Worker.StateChanged`` does not bubble, so each screen forwards it; the
    app alone decides what to show (notification, or the sign-in modal on a 401).
    """

    app: App[object]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        handler: FailureHandler = self.app  # type: ignore[assignment]
        if event.state is WorkerState.ERROR:
            handler.worker_failed(event.worker)
        elif event.state is WorkerState.SUCCESS:
            handler.worker_succeeded()
