"""Side-by-side overhead measurements of this library and its peers.

Run ``python -m benchmarks`` from the repository root, after installing the
``bench`` extra (``pip install -e '.[bench]'``). Every framework's
application is called in-process, without sockets: a WSGI callable with a
prepared environ, an ASGI application with a scope and two coroutines, an
aiohttp application through its handler and middleware chain, a Tornado
application through its request-connection interface. Each entry is timed
against the bare application of its own framework, for a returning visitor
whose handler changes, reads or never touches the session.

The modules:

``harness``
    scenarios, the client side of each entry, and the interleaved rounds.
``drivers``
    how a request is handed to each kind of application in-process.
``redis_counting``
    Redis clients that count their round trips.
``entries_wsgi``, ``entries_asgi``, ``entries_aiohttp``, ``entries_tornado``,
``entries_core``
    the applications measured, one module per framework.
``report``
    the printed table, the Markdown for ``docs/performance.md`` and the chart.
"""
