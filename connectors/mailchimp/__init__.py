"""Mailchimp Marketing API v3.0: sent-campaign reports into the email campaign table."""
