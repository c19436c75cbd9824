"""Security tests: secrets never leave the encrypted column, organizations never see each other's
data, the login is throttled, and the commands refuse bad input cleanly."""
