"""Our asyncio IMAP4rev1 server: a parser, a state machine per connection and a selected-folder view,
over the storage-agnostic `MailSession` interface (domain/mail_session.py).

`start_imap(login, options)` is the entry point (server.py)."""
