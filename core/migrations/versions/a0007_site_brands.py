"""The site's brand on the visitor pages: display name, colour, support link and logo.

One row per site that has set a brand; a site without one keeps the product's look.

Revision ID: a0007_brand
Revises: a0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a0007_brand"
down_revision = "a0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_brands",
        sa.Column("site_id", sa.String(36), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("primary_color", sa.String(7), nullable=False),
        sa.Column("support_url", sa.String(2000), nullable=True),
        sa.Column("logo", sa.LargeBinary, nullable=True),
        sa.Column("logo_type", sa.String(20), nullable=True),
        sa.Column("logo_digest", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("site_brands")
