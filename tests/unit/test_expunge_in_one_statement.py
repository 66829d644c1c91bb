"""What an EXPUNGE's one statement gave, read on PostgreSQL (`message_changes`): a folder gone between the
read of its messages and the write gives no row, and is told as gone, not as an index error."""

from __future__ import annotations

import pytest

from mailservice.adapters.db import message_changes
from mailservice.domain.errors import FolderNotFound


def test_a_folder_gone_before_the_write_is_told_as_gone() -> None:
    with pytest.raises(FolderNotFound):
        message_changes.expunged_in_one_statement([], folder_id=7)
    with pytest.raises(FolderNotFound):
        message_changes.unshared_raws_asked([])
