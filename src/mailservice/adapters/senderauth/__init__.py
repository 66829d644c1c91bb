"""Sender authentication at delivery: SPF (pyspf), DKIM and ARC (dkimpy), DMARC, over async DNS."""
