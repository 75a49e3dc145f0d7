"""The test clients' cookie jar keeps and sends cookies as a browser does,
on the clock it is given; and for what both model, it sends exactly what
the standard library's :class:`http.cookiejar.CookieJar` sends."""

from __future__ import annotations

import email.message
import http.cookiejar
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from sessions.testing import ManualClock
from sessions.testing.clients import CookieJar

SITE = "http://www.example.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def jar(clock: ManualClock) -> CookieJar:
    return CookieJar(host="www.example.com", clock=clock)


def sent(jar: CookieJar, url: str = SITE + "/") -> str | None:
    return jar.header_for(url)


# -- lifetime --------------------------------------------------------------------------


def test_max_age_counts_on_the_jars_clock(jar: CookieJar, clock: ManualClock) -> None:
    jar.receive(SITE + "/", ["a=1; Max-Age=60"])

    clock.advance(59)
    assert sent(jar) == "a=1"
    clock.advance(1)
    assert sent(jar) is None
    assert len(jar) == 0


def test_max_age_wins_over_expires(jar: CookieJar, clock: ManualClock) -> None:
    jar.receive(SITE + "/", ["a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60"])
    (cookie,) = jar

    assert cookie.expires == clock() + timedelta(seconds=60)


def test_expires_alone_sets_the_expiry(jar: CookieJar, clock: ManualClock) -> None:
    jar.receive(SITE + "/", ["a=1; Expires=Tue, 01 Jan 2030 01:00:00 GMT"])

    clock.advance(timedelta(minutes=59))
    assert sent(jar) == "a=1"
    clock.advance(timedelta(minutes=1))
    assert sent(jar) is None


@pytest.mark.parametrize(
    "deletion",
    [
        "a=; Max-Age=0",
        "a=gone; Max-Age=-5",
        "a=; Max-Age=-0",
        "a=; Max-Age=-" + "9" * 5000,
        "a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_an_expired_cookie_deletes_the_one_it_replaces(
    jar: CookieJar, deletion: str
) -> None:
    jar.receive(SITE + "/", ["a=1", "b=2"])

    jar.receive(SITE + "/", [deletion])

    assert sent(jar) == "b=2"


def test_a_deletion_must_name_the_same_path(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Path=/"])

    jar.receive(SITE + "/", ["a=; Max-Age=0; Path=/other"])

    assert sent(jar) == "a=1"


def test_lifetimes_are_capped_at_400_days(jar: CookieJar, clock: ManualClock) -> None:
    jar.receive(
        SITE + "/",
        ["a=1; Max-Age=999999999", "b=2; Expires=Fri, 01 Jan 2100 00:00:00 GMT"],
    )

    assert {cookie.expires for cookie in jar} == {clock() + timedelta(days=400)}


@pytest.mark.parametrize(
    "field",
    [
        "a=1; Max-Age=99999999999999999999",
        "a=1; Max-Age=" + "9" * 5000,
        "a=1; Max-Age=" + "0" * 5000 + "99999999999",
        "a=1; Expires=Fri, 31 Dec 9999 23:59:59 -0100",
        "a=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
    ],
)
def test_a_lifetime_too_long_to_count_is_capped_too(
    jar: CookieJar, clock: ManualClock, field: str
) -> None:
    jar.receive(SITE + "/", [field])
    (cookie,) = jar

    assert cookie.expires == clock() + timedelta(days=400)


@pytest.mark.parametrize(
    ("field", "lifetime"),
    [
        ("a=1; Max-Age=100; Max-Age=abc", 100),
        ("a=1; Max-Age=100; Max-Age=", 100),
        ("a=1; Max-Age=100; Max-Age", 100),
        ("a=1; Max-Age=100; Max-Age=+5", 100),
        ("a=1; Max-Age=100; Max-Age=1.5", 100),
        ("a=1; Max-Age=100; Max-Age=-", 100),
        ("a=1; Max-Age=abc; Max-Age=100", 100),
        ("a=1; Max-Age=100; Max-Age=200", 200),
        # An unreadable Max-Age leaves the Expires it would have beaten.
        ("a=1; Expires=Tue, 01 Jan 2030 01:00:00 GMT; Max-Age=soon", 3600),
        ("a=1; Expires=Tue, 01 Jan 2030 01:00:00 GMT; Expires=someday", 3600),
    ],
)
def test_an_invalid_attribute_is_ignored_and_the_valid_one_stands(
    jar: CookieJar, clock: ManualClock, field: str, lifetime: int
) -> None:
    # RFC 6265 section 5.2: a cookie-av whose value is invalid is ignored.
    jar.receive(SITE + "/", [field])
    (cookie,) = jar

    assert cookie.expires == clock() + timedelta(seconds=lifetime)


def test_an_empty_domain_is_ignored(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Domain=example.com; Domain="])
    (cookie,) = jar

    assert (cookie.domain, cookie.host_only) == ("example.com", False)


def test_a_browser_session_cookie_ends_with_the_browser(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["session=1", "remembered=1; Max-Age=60"])

    jar.end_browser_session()

    assert sent(jar) == "remembered=1"


def test_an_unreadable_expires_is_ignored(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Expires=someday"])
    (cookie,) = jar

    assert cookie.expires is None


# -- scope -----------------------------------------------------------------------------


def test_path_scopes_the_cookie(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Path=/shop"])

    assert sent(jar, SITE + "/shop") == "a=1"
    assert sent(jar, SITE + "/shop/cart") == "a=1"
    assert sent(jar, SITE + "/shopping") is None
    assert sent(jar, SITE + "/") is None


def test_without_a_path_the_cookie_gets_the_directory_of_the_request(
    jar: CookieJar,
) -> None:
    jar.receive(SITE + "/shop/cart", ["a=1"])
    jar.receive(SITE + "/top", ["b=2"])

    assert [(c.name, c.path) for c in jar] == [("a", "/shop"), ("b", "/")]


def test_longer_paths_are_sent_first_then_older_cookies(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1", "b=2; Path=/shop", "c=3"])

    assert sent(jar, SITE + "/shop/x") == "b=2; a=1; c=3"


def test_a_replaced_cookie_keeps_its_place(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1", "b=2"])
    jar.receive(SITE + "/", ["a=3"])

    assert sent(jar) == "a=3; b=2"


def test_a_host_only_cookie_stays_on_its_host(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1"])

    assert sent(jar, "http://shop.www.example.com/") is None
    assert sent(jar, "http://WWW.EXAMPLE.COM/") == "a=1"


def test_a_domain_cookie_reaches_subdomains(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Domain=.Example.com"])

    assert sent(jar, "http://example.com/") == "a=1"
    assert sent(jar, "http://shop.example.com/") == "a=1"
    assert sent(jar, "http://example.org/") is None
    assert sent(jar, "http://badexample.com/") is None


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (SITE, "a=1; Domain=other.com"),
        (SITE, "a=1; Domain=shop.www.example.com"),
        ("http://127.0.0.1", "a=1; Domain=0.0.1"),
    ],
)
def test_a_cookie_for_another_site_is_refused(url: str, field: str) -> None:
    jar = CookieJar()

    jar.receive(url + "/", [field])

    assert len(jar) == 0


# -- Secure and the name prefixes ------------------------------------------------------


def test_a_secure_cookie_arrives_and_leaves_over_https_only(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1; Secure"])
    assert len(jar) == 0

    jar.receive("https://www.example.com/", ["a=1; Secure"])
    assert sent(jar, "https://www.example.com/") == "a=1"
    assert sent(jar, SITE + "/") is None


@pytest.mark.parametrize(
    "field",
    [
        "a=2",
        "a=2; Path=/",
        "a=2; Path=/shop",  # inside the secure cookie's path
        "a=2; Domain=example.com",  # a domain the secure cookie is inside
        "a=; Max-Age=0",  # not even to delete it
    ],
)
def test_plain_http_cannot_overwrite_a_secure_cookie(
    jar: CookieJar, field: str
) -> None:
    # RFC 6265bis section 5.7: an insecure origin cannot shadow a Secure
    # cookie of the same name.
    jar.receive("https://www.example.com/", ["a=1; Secure; Path=/"])

    jar.receive(SITE + "/", [field])

    assert [(c.name, c.value, c.secure) for c in jar] == [("a", "1", True)]
    assert sent(jar, "https://www.example.com/shop") == "a=1"


@pytest.mark.parametrize(
    ("set_by", "field", "values"),
    [
        # Over plain HTTP: a path outside the secure cookie's, another
        # name, a host the secure cookie's domain does not cover.
        ("http://www.example.com/", "a=2; Path=/other", ["1", "2"]),
        ("http://www.example.com/", "a=2; Path=/", ["1", "2"]),
        ("http://www.example.com/", "b=2; Path=/shop", ["1", "2"]),
        ("http://other.example.com/", "a=2; Path=/shop", ["1", "2"]),
        # A secure origin may replace it, even with a cookie that is not.
        ("https://www.example.com/", "a=2; Path=/shop", ["2"]),
    ],
)
def test_what_may_still_be_set_beside_a_secure_cookie(
    set_by: str, field: str, values: list[str]
) -> None:
    jar = CookieJar(host="www.example.com")
    jar.receive("https://www.example.com/", ["a=1; Secure; Path=/shop"])

    jar.receive(set_by, [field])

    assert [cookie.value for cookie in jar] == values


def test_plain_http_cannot_replace_a_cookie_with_a_secure_one(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["a=1"])

    jar.receive(SITE + "/", ["a=2; Secure"])

    assert [(c.value, c.secure) for c in jar] == [("1", False)]


@pytest.mark.parametrize(
    ("field", "kept"),
    [
        ("__Secure-a=1", False),
        ("__Secure-a=1; Secure", True),
        ("__Host-a=1; Secure; Path=/", True),
        ("__host-a=1; Secure; Path=/", True),
        ("__Host-a=1; Secure", False),  # the default path is /x here
        ("__Host-a=1; Secure; Path=/; Domain=example.com", False),
        ("__HOST-a=1; Path=/", False),
    ],
)
def test_name_prefixes_are_enforced(field: str, kept: bool) -> None:
    jar = CookieJar()

    jar.receive("https://www.example.com/x/y", [field])

    assert (len(jar) == 1) is kept


@pytest.mark.parametrize(
    ("url", "field", "kept"),
    [
        # __Host- wants Path=/ said outright, not the default path.
        ("https://www.example.com/", "__Host-a=1; Secure", False),
        ("https://www.example.com/", "__Host-a=1; Secure; Path", False),
        ("https://www.example.com/", "__Host-a=1; Secure; Path=/; Path=", False),
        ("https://www.example.com/", "__Host-a=1; Secure; Path=/", True),
        ("https://www.example.com/", "__Host-a=1; Secure; Path=/; Domain=", True),
        (
            "https://www.example.com/",
            "__Host-a=1; Secure; Path=/; Domain=www.example.com",
            False,
        ),
        # Both prefixes want Secure, which only a secure origin may set.
        ("http://www.example.com/", "__Host-a=1; Secure; Path=/", False),
        ("http://www.example.com/", "__Secure-a=1; Secure", False),
        ("https://www.example.com/", "__Secure-a=1", False),
        ("https://www.example.com/", "__Secure-a=1; Secure", True),
    ],
)
def test_name_prefixes_from_the_sites_root(url: str, field: str, kept: bool) -> None:
    jar = CookieJar()

    jar.receive(url, [field])

    assert (len(jar) == 1) is kept


# -- reading and planting --------------------------------------------------------------


def test_get_set_delete_and_clear(jar: CookieJar, clock: ManualClock) -> None:
    jar.set("a", "1")
    jar.set("a", "2", path="/shop")

    assert sent(jar, SITE + "/shop/x") == "a=2; a=1"
    with pytest.raises(LookupError, match="2 cookies"):
        jar.get("a")
    assert jar.get("a", path="/shop") == "2"
    assert "a" in jar
    assert jar.delete("a", path="/") == 1
    assert jar.get("a") == "2"

    jar.set("b", "3", expires=clock() + timedelta(seconds=5))
    clock.advance(5)
    assert jar.get("b") is None
    jar.clear()
    assert len(jar) == 0


def test_a_field_without_a_name_is_ignored(jar: CookieJar) -> None:
    jar.receive(SITE + "/", ["no pair here", "=value", "a=1"])

    assert sent(jar) == "a=1"


# -- against the standard library ------------------------------------------------------

SCENARIOS = [
    [("/", "a=1"), ("/", "b=2; Path=/shop"), ("/", "c=3; Max-Age=3600")],
    [("/", "a=1; Max-Age=3600"), ("/", "a=; Max-Age=0")],
    [("/shop/cart", "a=1"), ("/", "b=2; Path=/")],
    [("/", "a=1; Domain=example.com"), ("/", "b=2")],
    [("/", "a=1"), ("/", "a=2")],
    [("/", "a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT"), ("/", "b=2")],
]
REQUESTS = ["/", "/shop", "/shop/cart/x", "/other"]


class _Response:
    """All that :mod:`http.cookiejar` reads of a response: its headers."""

    def __init__(self, headers: email.message.Message) -> None:
        self._headers = headers

    def info(self) -> email.message.Message:
        return self._headers


def stdlib_header(scenario: list[tuple[str, str]], path: str) -> str | None:
    jar = http.cookiejar.CookieJar()
    for set_path, field in scenario:
        request = urllib.request.Request(SITE + set_path)
        headers = email.message.Message()
        headers["Set-Cookie"] = field
        jar.extract_cookies(_Response(headers), request)  # type: ignore[arg-type]
    request = urllib.request.Request(SITE + path)
    jar.add_cookie_header(request)
    return request.get_header("Cookie")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_jar_sends_what_the_standard_library_sends(
    scenario: list[tuple[str, str]],
) -> None:
    # The standard library reads the system clock: so does this jar here.
    jar = CookieJar(host="www.example.com", clock=lambda: datetime.now(timezone.utc))
    for set_path, field in scenario:
        jar.receive(SITE + set_path, [field])

    for path in REQUESTS:
        assert jar.header_for(SITE + path) == stdlib_header(scenario, path), path
