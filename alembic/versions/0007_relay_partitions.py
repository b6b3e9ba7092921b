"""Relays that scale out: a partition slot on every outbox row, relay members and their leases.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

`outbox.slot` is computed by PostgreSQL from the key (a stored generated column), so every writer
(the API's one-statement insert, the unit of work, the scheduler's page insert) gets it without a
change and no writer can get it wrong. A relay partition is `slot % RELAY_PARTITIONS`; a relay
claims only rows of the partitions it leases. Leases are timed by the database clock.

The claim's plan must not depend on statistics: once ANALYZE had seen a mostly published outbox,
PostgreSQL served `published_at IS NULL` from the full `published_at` index plus a sort of the
whole backlog. That index is now partial over published rows (all the purge needs), so the only
index that can answer the claim is the partial one over unpublished rows, already in id order.
See docs/decisions/0012.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RELAY = "todo_relay"
#: 256 slots: hashtext's low byte. RELAY_PARTITIONS (at most 256) groups them into partitions.
SLOT = "hashtext(key) & 255"
UNPUBLISHED = "published_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    # Rewrites the table once (a stored column); the outbox is small while the relay keeps up.
    op.add_column(
        "outbox",
        sa.Column("slot", sa.SmallInteger(), sa.Computed(SLOT, persisted=True), nullable=False),
    )
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id", "slot"], postgresql_where=sa.text(UNPUBLISHED)
    )
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.create_index(
        "ix_outbox_published_at",
        "outbox",
        ["published_at"],
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_table(
        "relay_members",
        sa.Column("member", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member", name=op.f("pk_relay_members")),
    )
    op.create_table(
        "relay_leases",
        sa.Column("partition", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("partition", name=op.f("pk_relay_leases")),
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON relay_members, relay_leases TO {RELAY}")


def downgrade() -> None:
    op.execute(f"REVOKE ALL ON relay_members, relay_leases FROM {RELAY}")
    op.drop_table("relay_leases")
    op.drop_table("relay_members")
    op.drop_index("ix_outbox_published_at", table_name="outbox")
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text(UNPUBLISHED)
    )
    op.drop_column("outbox", "slot")
