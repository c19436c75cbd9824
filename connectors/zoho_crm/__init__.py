"""Zoho CRM: leads and deals from the CRM REST API (v8), with per-data-centre hosts."""
