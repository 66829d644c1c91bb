"""The schema, as SQLAlchemy Core tables. Migrations in migrations/versions mirror it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
)

from mailservice.adapters.db.types import ImapText, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("login", String(32), nullable=False, unique=True),
    Column("key_fingerprint", String(80), nullable=True, unique=True),
    Column("public_key", Text, nullable=True),
    Column("billing_email", String(320), nullable=False),
    Column("status", String(20), nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("credential_epoch", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # Quota columns are written only by the message store, never by mailbox updates.
    Column("quota_bytes", BigInteger, nullable=True),
    Column("used_bytes", BigInteger, nullable=False, server_default="0"),
    # Mailboxes of the legacy account flow; key-bound mailboxes have none.
    Column("account_id", String(32), nullable=True, index=True),
    # The expiry for which the renewal reminder and the expired notice were queued (once per period).
    Column("reminder_sent_for", UtcDateTime, nullable=True),
    Column("expired_notice_sent_for", UtcDateTime, nullable=True),
    # The largest UIDVALIDITY of a deleted folder: a new folder's is above it (see db/folders.py).
    Column("uidvalidity_floor", BigInteger, nullable=False, server_default="0"),
)
Index("ix_mailboxes_status_expires_at", mailboxes.c.status, mailboxes.c.expires_at)

checkouts = Table(
    "checkouts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(20), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("months", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("paid_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
)
Index("ix_checkouts_mailbox_id_created_at", checkouts.c.mailbox_id, checkouts.c.created_at)

payment_events = Table(
    "payment_events",
    metadata,
    Column("provider", String(20), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("processed_at", UtcDateTime, nullable=False),
)

used_challenges = Table(
    "used_challenges",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_text", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("dedupe_key", String(200), nullable=True, index=True),
    Column("reply_to", String(320), nullable=True),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
)
Index("ix_outbox_status_next_attempt_at", outbox.c.status, outbox.c.next_attempt_at)

# SQLite only makes INTEGER PRIMARY KEY an alias of its rowid (and so auto-incrementing).
RowId = BigInteger().with_variant(Integer, "sqlite")

folders = Table(
    "folders",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uidnext", BigInteger, nullable=False),
    Column("highestmodseq", BigInteger, nullable=False),
    Column("special_use", String(20), nullable=True),
    # No longer read: the \Recent mark lives in `recent_marks` (migration 0020). Kept for the reason
    # `subscribed` is.
    Column("recent_uid", BigInteger, nullable=False, server_default="0"),
    # No longer read: subscriptions live in their own table, since they outlive folders (RFC 3501
    # section 6.3.6). Kept because dropping it would rebuild the table under its messages on SQLite.
    Column("subscribed", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("mailbox_id", "name"),
    # A folder deleted and made again must never take the old one's id (migration 0022).
    sqlite_autoincrement=True,
)

recent_marks = Table(
    "recent_marks",
    metadata,
    # The highest uid a read-write session has taken as \Recent: the messages above it are recent to
    # the next session that sees them (Dovecot's rule, kept here so that it holds across nodes). Not a
    # column of the folder's row, whose lock every write to the folder holds until its commit: a session
    # claiming new messages would wait behind them. No row: nothing claimed yet (0).
    Column("folder_id", RowId, ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True),
    Column("recent_uid", BigInteger, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("folder_id", RowId, ForeignKey("folders.id", ondelete="CASCADE"), nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("modseq", BigInteger, nullable=False),
    Column("flags", Text, nullable=False),
    Column("internal_date", UtcDateTime, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("raw_id", String(32), nullable=False, index=True),
    Column("header_end", Integer, nullable=False),
    Column("subject", Text, nullable=True),
    Column("from_address", Text, nullable=True),
    Column("from_name", Text, nullable=True),
    Column("to_json", Text, nullable=False),
    Column("cc_json", Text, nullable=False),
    Column("date_header", UtcDateTime, nullable=True),
    Column("message_id", Text, nullable=True),
    Column("envelope", ImapText, nullable=False),
    Column("body", ImapText, nullable=False),
    Column("bodystructure", ImapText, nullable=False),
    Column("parts_json", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("has_attachments", Boolean, nullable=False),
    Column("tags", Text, nullable=False),
    Column("codes_json", Text, nullable=False, server_default="[]"),
    Column("links_json", Text, nullable=False, server_default="[]"),
    Column("envelope_from", Text, nullable=True),
    Column("auth_json", Text, nullable=True),
    Column("verified_domain", Text, nullable=True),
    # IMAP SORT's keys (`SortKeys`), stored at delivery; sort_subject NULL: stored before they were.
    Column("sort_subject", Text, nullable=True),
    Column("sort_from", Text, nullable=True),
    Column("sort_to", Text, nullable=True),
    Column("sort_cc", Text, nullable=True),
    Column("sort_display_from", Text, nullable=True),
    Column("sort_display_to", Text, nullable=True),
    Column("sort_date", UtcDateTime, nullable=True),
    UniqueConstraint("folder_id", "uid"),
)
Index("ix_messages_mailbox_id_internal_date", messages.c.mailbox_id, messages.c.internal_date)

Index("ix_messages_folder_id_modseq", messages.c.folder_id, messages.c.modseq)
# A header sync finds each message's `header_fields` row from this index alone, without its messages row.
Index("ix_messages_folder_id_uid_raw_id", messages.c.folder_id, messages.c.uid, messages.c.raw_id)
Index("ix_messages_internal_date", messages.c.internal_date)

MAY_BE_DELETED = messages.c.flags.like(literal_column(r"'%\Deleted%'"), escape="/")
"""A message whose flags may hold \\Deleted (a keyword holding the word matches too: check the flags).
The pattern is written into the statement, not bound, so that both databases match it to the partial
index below: an EXPUNGE, and its check for anything to expunge, read the few flagged messages of a
folder from that index instead of scanning the folder's rows."""
Index(
    "ix_messages_folder_id_deleted",
    messages.c.folder_id,
    sqlite_where=MAY_BE_DELETED,
    postgresql_where=MAY_BE_DELETED,
)

# A mailbox's own retention policy; a mailbox without a row follows the configured default.
mailbox_retention = Table(
    "mailbox_retention",
    metadata,
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True),
    Column("max_age_days", Integer, nullable=True),  # NULL: kept forever
    Column("delete_oldest_read", Boolean, nullable=False),
)

expunged_messages = Table(
    "expunged_messages",
    metadata,
    Column("folder_id", RowId, ForeignKey("folders.id", ondelete="CASCADE"), primary_key=True),
    Column("uid", BigInteger, primary_key=True),
    Column("modseq", BigInteger, nullable=False),
    # The flags it had when it was expunged (NULL where they are not known).
    Column("flags", Text, nullable=True),
)
Index("ix_expunged_messages_folder_id_modseq", expunged_messages.c.folder_id, expunged_messages.c.modseq)

message_raw = Table(
    "message_raw",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("raw", LargeBinary, nullable=False),
)

# The common header fields of a raw message and their layout (`mime.common_fields`), cut out at delivery
# so that a header sync reads them without the message. Messages stored before 0018 have no row.
header_fields = Table(
    "header_fields",
    metadata,
    Column("raw_id", String(32), ForeignKey("message_raw.id", ondelete="CASCADE"), primary_key=True),
    Column("fields", LargeBinary, nullable=False),
    Column("layout", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_email", String(320), nullable=False, unique=True),
    Column("api_token_hash", String(64), nullable=False, unique=True),
    Column("subscription_expires_at", UtcDateTime, nullable=True),
    Column("recovery_sent_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Refresh tokens and recovery codes: single use, stored only as SHA-256 hashes.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(32), ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)
Index("ix_account_tokens_account_id_kind", account_tokens.c.account_id, account_tokens.c.kind)

support_messages = Table(
    "support_messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("key_fingerprint", String(80), nullable=False),
    Column("subject", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index(
    "ix_support_messages_key_fingerprint_created_at",
    support_messages.c.key_fingerprint,
    support_messages.c.created_at,
)

# What agents are told, in the order it happened per mailbox (see db/event_log.py for why ids are in
# commit order within a mailbox).
event_log = Table(
    "event_log",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("data", Text, nullable=False),
)
Index("ix_event_log_mailbox_id_id", event_log.c.mailbox_id, event_log.c.id)
Index("ix_event_log_occurred_at", event_log.c.occurred_at)

# A mailbox's webhook endpoints. The signing secret is derived from SECRET_KEY and the id, never stored.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("mailbox_id", String(32), ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),  # event types, space-separated
    Column("q", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    # When its deliveries started failing without a success since; cleared by a success.
    Column("failing_since", UtcDateTime, nullable=True),
)
Index("ix_webhook_endpoints_mailbox_id", webhook_endpoints.c.mailbox_id)

# One row per (event, endpoint), written with the event; `next_attempt_at` doubles as the sending lease.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("endpoint_id", String(32), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", RowId, ForeignKey("event_log.id", ondelete="CASCADE"), nullable=True),
    Column("event_type", String(40), nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)
Index(
    "ix_webhook_deliveries_status_next_attempt_at",
    webhook_deliveries.c.status,
    webhook_deliveries.c.next_attempt_at,
)
Index("ix_webhook_deliveries_endpoint_id_id", webhook_deliveries.c.endpoint_id, webhook_deliveries.c.id)
Index("ix_webhook_deliveries_event_id", webhook_deliveries.c.event_id)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("delivery_id", RowId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
)
Index("ix_webhook_attempts_delivery_id", webhook_attempts.c.delivery_id)
