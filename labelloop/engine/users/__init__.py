"""Accounts, roles, API tokens, browser sessions and project memberships.

One module per concern, all re-exported here (``from labelloop.engine import users``):

- `accounts`: create, look up, list and deactivate users; passwords for browser log-in;
- `tokens`: API tokens, and `token_access`, the one read that authenticates a request;
- `sessions`: browser sessions (cookie secret, CSRF token, expiry, idle expiry);
- `logins`: password log-in throttled per account and per client address;
- `passwords`: a user changes their password (proving the current one), or an operator
  sets it; either ends the user's other browser sessions;
- `memberships`: who is a member of which project.

Rules the package keeps:

- Roles and `UserInfo` are declared in `labelloop.engine.core.identity`; a user's role
  holds in every project they are a member of, and admins are not implicitly members.
- Secrets (tokens, sessions) are stored only as digests and passwords only as argon2
  hashes; nothing here hands out either.
- Every change writes its audit event in the same transaction.
- The modules share private helpers (`_rows`, the token and membership writers that
  `create_user` reuses) only inside the package; callers use the names below.
"""

from __future__ import annotations

from labelloop.engine.core.identity import ROLES, UserInfo
from labelloop.engine.users.accounts import (
    create_user,
    get_user,
    list_users,
    set_user_active,
    verify_password,
)
from labelloop.engine.users.logins import (
    LoginPolicy,
    ThrottleState,
    check_login,
    login_throttle_state,
)
from labelloop.engine.users.memberships import (
    add_member,
    is_member,
    list_members,
    remove_member,
    user_projects,
)
from labelloop.engine.users.passwords import PasswordChange, change_password, set_password
from labelloop.engine.users.sessions import (
    SESSION_LIFETIME,
    create_browser_session,
    end_browser_session,
    session_user,
)
from labelloop.engine.users.tokens import (
    TOKEN_PREFIX,
    TokenAccess,
    TokenInfo,
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
    token_access,
)

__all__ = [
    "ROLES",
    "SESSION_LIFETIME",
    "LoginPolicy",
    "PasswordChange",
    "TOKEN_PREFIX",
    "ThrottleState",
    "TokenAccess",
    "TokenInfo",
    "UserInfo",
    "add_member",
    "authenticate_token",
    "change_password",
    "check_login",
    "create_browser_session",
    "create_token",
    "create_user",
    "end_browser_session",
    "get_user",
    "is_member",
    "list_members",
    "list_tokens",
    "list_users",
    "login_throttle_state",
    "remove_member",
    "revoke_token",
    "session_user",
    "set_password",
    "set_user_active",
    "token_access",
    "user_projects",
    "verify_password",
]
