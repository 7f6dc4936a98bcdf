"""Image intake's HTTP surface in one router: tus uploads, upload codes and STOW-RS."""

from fastapi import APIRouter

from server.imaging.routes_stow import router as stow_router
from server.imaging.routes_upload import router as upload_router

router = APIRouter()
router.include_router(upload_router)
router.include_router(stow_router)

__all__ = ["router"]
