"""Imports every domain's tables so ``Base.metadata`` is complete (Alembic, tests)."""

from server.accounts import models as accounts_models
from server.audit import models as audit_models
from server.cases import models as cases_models
from server.db import Base
from server.imaging import models as imaging_models

__all__ = ["Base", "accounts_models", "audit_models", "cases_models", "imaging_models"]
