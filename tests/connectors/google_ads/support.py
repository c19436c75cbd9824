"""The Google Ads sandbox's account ids as the tests use them, and the stream method's path.

The sandbox itself (HTTP token endpoint + gRPC API over TLS) is served by the shared ``sandboxes``
fixture (tests/conftest.py), with small stream messages (tests/sandboxes.py).
"""

from __future__ import annotations

from sandbox.google_ads import NORTHWIND_MCC

MANAGER = NORTHWIND_MCC  # the demo's manager account: two enabled clients (USD, EUR) and a cancelled one
US_CLIENT = "5550001001"
DACH_CLIENT = "5550001002"
CANCELLED_CLIENT = "5550001003"
STANDALONE = "5550003001"
BIG_ACCOUNT = "5550002001"
EMPTY_ACCOUNT = "5550004001"
STREAM_PATH = "/google.ads.googleads.v26.services.GoogleAdsService/SearchStream"
