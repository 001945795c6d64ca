"""Each message stores its sender's kind (visitor, agent, bot, system).

Pages used to decide that a line was a system line because its author was called
"system", so a visitor who gave that name could post lines that looked like the
service's own. The kind is now written with the message and read from there.

Existing rows get the kind the old rule would have shown them with (an author named
"system" is a system line; the visitor's name, or "Visitor", a visitor line; anyone else
an agent), so nothing already on screen changes; only new lines are told apart for sure.

Revision ID: a0004_sender
Revises: a0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0004_sender"
down_revision = "a0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("sender", sa.String(16), nullable=True))
    op.execute("UPDATE messages SET sender = 'system' WHERE author = 'system'")
    op.execute(
        "UPDATE messages SET sender = 'visitor' WHERE sender IS NULL AND author = "
        "(SELECT COALESCE(c.visitor_name, 'Visitor') FROM conversations c "
        "WHERE c.id = messages.conversation_id)"
    )
    op.execute("UPDATE messages SET sender = 'agent' WHERE sender IS NULL")
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("sender", existing_type=sa.String(16), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("sender")
