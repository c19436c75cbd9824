"""Google Ads: daily campaign performance through the official ``google-ads`` library over gRPC.

The Google Ads API version is chosen here, once; the connector, its GAQL and the sandbox all use it.
Versions live about a year: upgrading means a newer ``google-ads`` release and a new value here,
after checking the version's field renames against ``mapping.py``.
"""

# v26 was released on 2026-10-14; its projected sunset is November 2027 (tentative: check
# developers.google.com/google-ads/api/docs/sunset-dates before then). google-ads 34.x serves v23-v26.
API_VERSION = "v26"
