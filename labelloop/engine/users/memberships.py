"""Project memberships: who works on which project.

- A user's role holds in every project they are a member of.
- Admins are not implicitly members: `is_member` answers for memberships only, and the
  HTTP layer lets admins through on its own.
- Adding a member twice, or removing a non-member, changes nothing and says so (False);
  each real change is audited on the project's chain.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelloop.engine.core.identity import UserInfo
from labelloop.engine.core.project import resolve_project
from labelloop.engine.users._rows import find_user, user_info
from labelloop.store.audit import append_event
from labelloop.store.db import Database
from labelloop.store.tables import MembershipRow, ProjectRow, UserRow

__all__ = ["add_member", "is_member", "list_members", "remove_member", "user_projects"]


def _add_membership(session: Session, *, actor: str, project: ProjectRow, user: UserRow) -> bool:
    """Make ``user`` a member of ``project`` in this transaction; False if already one."""
    if session.get(MembershipRow, (project.id, user.id)) is not None:
        return False
    session.add(MembershipRow(project_id=project.id, user_id=user.id))
    session.flush()
    append_event(
        session,
        project_id=project.id,
        actor=actor,
        action="member.added",
        target=f"user:{user.name}",
        after={"user": user.name, "role": user.role},
    )
    return True


def add_member(db: Database, *, actor: str, project: int | str, user: int | str) -> bool:
    """Make a user a member of a project. True when added, False when already a member."""
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        return _add_membership(
            session, actor=actor, project=project_row, user=find_user(session, user)
        )


def remove_member(db: Database, *, actor: str, project: int | str, user: int | str) -> bool:
    """End a user's membership of a project. True when removed, False when not a member."""
    with db.transaction() as session:
        project_row = resolve_project(session, project)
        user_row = find_user(session, user)
        row = session.get(MembershipRow, (project_row.id, user_row.id))
        if row is None:
            return False
        session.delete(row)
        append_event(
            session,
            project_id=project_row.id,
            actor=actor,
            action="member.removed",
            target=f"user:{user_row.name}",
            before={"user": user_row.name, "role": user_row.role},
        )
        return True


def list_members(db: Database, project: int | str) -> list[UserInfo]:
    """The members of a project, by name."""
    with db.read() as session:
        project_row = resolve_project(session, project)
        rows = session.execute(
            select(UserRow)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.project_id == project_row.id)
            .order_by(UserRow.name)
        ).scalars()
        return [user_info(row) for row in rows]


def is_member(db: Database, project_id: int, user_id: int) -> bool:
    """Whether the user is a member of the project (one primary-key lookup)."""
    with db.read() as session:
        return session.get(MembershipRow, (project_id, user_id)) is not None


def user_projects(db: Database, user_id: int) -> list[int]:
    """The ids of the projects a user is a member of, ascending."""
    with db.read() as session:
        return list(
            session.execute(
                select(MembershipRow.project_id)
                .where(MembershipRow.user_id == user_id)
                .order_by(MembershipRow.project_id)
            ).scalars()
        )
