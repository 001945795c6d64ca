"""The visitor pages' language a form request's sender chose (None: the visitor's
browser, then the site's `default_language` policy, choose).

Revision ID: a0010_lang
Revises: a0009_webhooks (re-chained when main was merged in)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0010_lang"
down_revision = "a0009_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("form_requests", sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    op.drop_column("form_requests", "language")
