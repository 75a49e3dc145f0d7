"""The demo's login and counter flow as a Tornado application.

Run it with ``pip install -e '.[examples]'`` and
``python examples/tornado_app.py``,
then open http://127.0.0.1:8000.
"""

from __future__ import annotations

import asyncio
import os
import secrets

import tornado.web
from pages import REMEMBER_FOR, home_page, login_name

from sessions import SessionConfig
from sessions_adapters.tornado import SessionMixin


class Home(SessionMixin, tornado.web.RequestHandler):
    def get(self) -> None:
        session = self.session
        session["visits"] = session.get("visits", 0) + 1
        self.write(
            home_page(
                framework="Tornado",
                visits=session["visits"],
                user=session.get("user"),
                cookie_max_age=session.cookie.max_age,
            )
        )


class Login(SessionMixin, tornado.web.RequestHandler):
    def post(self) -> None:
        user = login_name(self.get_body_argument("user", ""))
        if user:
            # A new id at every change of privilege defeats session fixation.
            self.session.regenerate(keep_data=True)
            self.session["user"] = user
            self.session.cookie.max_age = (
                REMEMBER_FOR if self.get_body_argument("remember", "") else None
            )
        self.redirect("/", status=303)


class Logout(SessionMixin, tornado.web.RequestHandler):
    def post(self) -> None:
        self.session.destroy()
        self.redirect("/", status=303)


def build_app(secret: str | None = None) -> tornado.web.Application:
    """The example application; the session settings sit with the others."""
    config = SessionConfig(
        secret=secret or os.environ.get("SESSION_SECRET") or secrets.token_hex(32)
    )
    return tornado.web.Application(
        [("/", Home), ("/login", Login), ("/logout", Logout)], session_config=config
    )


async def main() -> None:
    build_app().listen(8000, "127.0.0.1")
    print("Serving the Tornado example on http://127.0.0.1:8000")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
