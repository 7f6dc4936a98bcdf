"""Who is calling, once their token has been checked (no HTTP here: services use it too)."""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts.schemas import Role
from server.audit.service import Actor


@dataclass(frozen=True)
class Principal:
    """The signed-in caller of one request."""

    user_id: int
    username: str
    role: Role
    token_id: int
    client_addr: str | None

    @property
    def actor(self) -> Actor:
        return Actor(
            user_id=self.user_id,
            username=self.username,
            role=str(self.role),
            client_addr=self.client_addr,
        )
