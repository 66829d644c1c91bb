"""Benchmark harness: an SMTP load generator and a Postfix + Dovecot baseline to compare against."""
