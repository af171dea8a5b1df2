"""Users, their browser sessions, and sign-in attempts (for throttling)."""

from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.permissions import Access, Role
from app.core.enums import sql_in
from app.core.models import Base, created_at_column


class User(Base):
    """A person who signs in; site_ids limits them to some sites (NULL: every site)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    site_ids: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    created_at: Mapped[datetime] = created_at_column()
    disabled_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(sql_in(Role, "role"), name="role_valid"),
        CheckConstraint("username = lower(username)", name="username_lower"),
    )


class UserSession(Base):
    """A signed-in browser: the cookie's hash, its CSRF token and when it ends."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(INET)


class LoginAttempt(Base):
    """One sign-in attempt, kept a while so repeated failures slow the next ones down."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(INET)
    at: Mapped[datetime] = created_at_column()
    ok: Mapped[bool]

    # Throttling counts by account and by address (app/auth/throttle.py).
    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_remote_addr_at", "remote_addr", "at"),
    )


class ApiToken(Base):
    """A bearer token for integrators: read or write, some sites or all, until it expires."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    prefix: Mapped[str] = mapped_column(Text)  # the first characters, to tell tokens apart
    access: Mapped[str] = mapped_column(Text)
    site_ids: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint(sql_in(Access, "access"), name="access_valid"),)
