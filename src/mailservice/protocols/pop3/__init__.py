"""Our POP3 server (RFC 1939 with CAPA, STLS, AUTH PLAIN, UIDL and TOP) over the `MailSession` interface."""
