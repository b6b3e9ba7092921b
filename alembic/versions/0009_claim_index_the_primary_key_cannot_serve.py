"""The claim's index leads with `published_at`, so the primary key can never serve the claim.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

0007 left one way for statistics to mislead the claim. `ORDER BY id` can be read from the
primary key as well as from the partial index over unpublished rows, filtering as it goes. When
ANALYZE last saw a backlog (every row unpublished) and the relay has since drained it, the
planner believes almost every row qualifies, prefers the smaller primary key, and every claim
walks all the rows published since: 90,000 rows and 76 ms a claim, measured in the peer bench,
until autoanalyze catches up. That is the state every drained outage leaves.

The index is now `(published_at, id, slot)` over the unpublished rows, and the claim orders by
`published_at, id`: the same order (`published_at` is NULL on every row it reads), which this
index provides and no other index does. Any other plan needs a sort of every row the planner
believes qualifies, so this one wins whatever the statistics say; `tests/integration/relay/
test_claim_plan.py` asserts it for both kinds of stale statistics. A NULL costs no space in a
btree entry beyond its null bitmap. See docs/decisions/0016.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNPUBLISHED = "published_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["published_at", "id", "slot"],
        postgresql_where=sa.text(UNPUBLISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id", "slot"], postgresql_where=sa.text(UNPUBLISHED)
    )
