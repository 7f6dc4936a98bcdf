"""Imports every domain's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from server.accounts import models as accounts_models
from server.audit import models as audit_models
from server.db import Base

__all__ = ["Base", "accounts_models", "audit_models"]
