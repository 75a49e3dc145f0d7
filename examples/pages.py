"""The HTML of the example sites, shared by every framework's example."""

from __future__ import annotations

import html
from datetime import timedelta

REMEMBER_FOR = timedelta(days=30)
"""How long "remember me" keeps a login."""

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>sessions demo</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; }}
form {{ margin: 1rem 0; }}
.note {{ color: #555; font-size: 0.9rem; }}
</style></head>
<body>
<h1>sessions demo <small>({framework})</small></h1>
<p>You have viewed this page <strong>{visits}</strong> time{plural} in this
session.</p>
{body}
<p class="note">Session cookie: {cookie_kind}.</p>
</body>
</html>
"""

_LOGIN_FORM = """<form method="post" action="/login">
<label>Name <input name="user" required maxlength="40" autofocus></label>
<label><input type="checkbox" name="remember" value="1"> Remember me for 30
days</label>
<button>Log in</button>
</form>"""

_LOGGED_IN = """<p>Logged in as <strong>{user}</strong>.</p>
<form method="post" action="/logout"><button>Log out</button></form>"""


def home_page(
    *, framework: str, visits: int, user: str | None, cookie_max_age: int | None
) -> str:
    """The home page: the visit count, and a login form or a logout button."""
    body = _LOGGED_IN.format(user=html.escape(user)) if user else _LOGIN_FORM
    if cookie_max_age is None:
        cookie_kind = "ends when the browser closes"
    elif cookie_max_age >= 86400:
        cookie_kind = f"expires in {round(cookie_max_age / 86400)} days"
    else:
        cookie_kind = f"expires in {timedelta(seconds=cookie_max_age)}"
    return _PAGE.format(
        framework=framework,
        visits=visits,
        plural="" if visits == 1 else "s",
        body=body,
        cookie_kind=cookie_kind,
    )


def login_name(raw: str | None) -> str:
    """The user name from the login form, trimmed to 40 characters."""
    return (raw or "").strip()[:40]
