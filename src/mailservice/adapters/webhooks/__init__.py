"""Sending webhooks: Standard Webhooks signatures over HTTP connections that only reach checked addresses."""
