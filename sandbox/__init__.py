"""The fakes of the platform APIs: a test and demo tool, outside the production package.

Each platform's fake is a sub-package, ``sandbox/<platform>/``, laid out alike: ``__init__`` has
``create_app()``, the accounts the demo connects (``DEMO_CONNECTIONS``) and the names tests use;
``app`` is the fake service; ``catalogue`` its deterministic data, with the ``expected_*`` helpers that
say exactly what the API serves; ``queries`` (where a platform's requests need it) what the fake reads
from a request. What they share:

- ``core``: requests and responses, routing, the fault plan and ``/_sandbox/*`` control endpoints, and
  a loopback server;
- ``oauth``: access tokens and the OAuth 2 authorization server, each platform's quirks declared;
- ``paging``: collections served a page at a time, and page tokens that carry an offset;
- ``serve``: every platform's fake by name, the demo's fixed ports and connections.

The tests and ``make demo`` (``manage.py run_sandbox``) use it from a source checkout; the built wheel
does not ship it, and production code never imports it.
"""
