"""Demandbase One ("uapi"): ABM accounts from the Data Export API, intent from the Intent API."""
