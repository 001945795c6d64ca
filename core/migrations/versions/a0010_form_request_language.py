"""The visitor pages' language a form request's sender chose (None: the visitor's
browser, then the site's `default_language` policy, choose).

Revision ID: a0010_lang
Revises: a0007_brand
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0010_lang"
down_revision = "a0007_brand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("form_requests", sa.Column("language", sa.String(8), nullable=True))


def downgrade() -> None:
    op.drop_column("form_requests", "language")
