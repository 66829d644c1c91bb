"""What the IMAP and POP3 servers share: the listener with its connection caps, a connection base
that reads lines within the memory budget and the login deadline, SASL PLAIN and batched output."""
