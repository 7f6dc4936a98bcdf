"""Accounts HTTP routes (filled in by the accounts work)."""

from fastapi import APIRouter

router = APIRouter(prefix="/auth", tags=["accounts"])
