"""One test application per adapter, all doing what
:mod:`tests.behaviour.actions` describes.

An adapter module provides ``serve(spec: AppSpec)``, a context manager that
runs the application behind a real server on 127.0.0.1 (port 0) in a
background thread, yields the base URL, and on exit stops the server and
joins its threads. Listing it in ``ADAPTERS`` in the suite's ``conftest.py``
runs every behaviour test against it. What the application has to do:

* Wrap the session middleware around a handler that reads
  ``plan_from_query(query_string)``, applies ``plan.actions`` with
  ``run_actions`` (carrying out each yielded step: ``save`` and ``reload``
  called or awaited, ``detach`` in the adapter's documented way), answers
  with ``render_body(session)``, and follows the plan's switches. A request
  outside ``cookie.path`` has no session and answers ``NO_SESSION_BODY``.
* Apply ``plan.late_actions`` once the response has started.
* Report to ``spec.probe``: ``request_started`` and ``request_finished``
  around everything (including a failing session load and any work after
  the response), ``handler_ran(full path)`` from the handler, and
  ``error`` for every exception that reaches the framework, including one
  the adapter reports only by logging.
* Honour ``spec.mount`` the framework's way (``SCRIPT_NAME``, ASGI
  ``root_path``, a sub-application), with a 404 outside the prefix.
* Asynchronous adapters use ``spec.store.as_async()``: the same records and
  call log, with delays awaited rather than slept.
* Leave forwarded headers to the session library: a server that rewrites
  the scheme from ``X-Forwarded-Proto`` by itself (uvicorn's
  ``proxy_headers``) must have that turned off, or the ``trust_proxy`` tests
  measure the server instead of the adapter.
"""
