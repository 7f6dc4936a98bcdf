"""``create_app(settings)``: the ASGI application, wired once."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from server import balance, tables  # noqa: F401  (tables: every table registered)
from server.accounts.routes import router as accounts_router
from server.cases.routes import router as cases_router
from server.config import Settings, get_settings
from server.db import make_engine, make_sessionmaker
from server.imaging.routes_dicomweb import router as dicomweb_router
from server.imaging.routes_intake import router as intake_router
from server.memory import tune_malloc
from server.privacy import silence_value_quoting_libraries
from server.problems import install_problem_handlers
from server.storage import EncryptedFileStore, load_key


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    silence_value_quoting_libraries()
    tune_malloc()
    settings = settings or get_settings()
    engine = engine or make_engine(settings.sqlalchemy_url)
    app = FastAPI(
        title="Readroom",
        version="0.1.0",
        summary="Second-opinion radiology: intake, DICOMweb, worklist and reports",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.blobs = open_blob_store(settings)
    install_problem_handlers(app)
    balance.install(app)
    for router in (accounts_router, cases_router, dicomweb_router, intake_router):
        app.include_router(router)

    @app.get("/health", tags=["service"], summary="Liveness check")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def open_blob_store(settings: Settings) -> EncryptedFileStore:
    if not settings.key_file.exists():
        raise SystemExit(f"no blob key at {settings.key_file}: run 'readroom-server init' first")
    return EncryptedFileStore(settings.blob_dir, load_key(settings.key_file))
