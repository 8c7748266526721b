"""A campaign's design is one versioned JSON document (model.optimize.design.DesignSpec) instead of four columns;
an experiment's optimiser coordinates move out of its recipe (what the robot reads, model.contract.Recipe) into
their own column, and every stored recipe gets its version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from db.base import JSONType
from db.views import without_view

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

campaigns = sa.table("campaigns", sa.column("id", sa.Integer), sa.column("property", sa.String),
                     sa.column("objective", JSONType), sa.column("space", JSONType),
                     sa.column("temperature_K", sa.Float), sa.column("temperature_range_K", JSONType),
                     sa.column("design", JSONType))
experiments = sa.table("experiments", sa.column("id", sa.Integer), sa.column("recipe", JSONType),
                       sa.column("point", JSONType))


def upgrade() -> None:
    without_view(op, _upgrade)


def _upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("campaigns") as b:
        b.add_column(sa.Column("design", JSONType))
    for row in conn.execute(sa.select(campaigns)).mappings().all():
        design = {"version": 1, "property": row["property"], "space": row["space"], "objective": row["objective"],
                  "temperature_K": row["temperature_K"], "temperature_range_K": row["temperature_range_K"]}
        conn.execute(campaigns.update().where(campaigns.c.id == row["id"]).values(design=design))
    with op.batch_alter_table("campaigns") as b:
        b.alter_column("design", existing_type=JSONType, nullable=False)
        for col in ("objective", "space", "temperature_K", "temperature_range_K"):
            b.drop_column(col)

    with op.batch_alter_table("experiments") as b:
        b.add_column(sa.Column("point", JSONType))
    for row in conn.execute(sa.select(experiments.c.id, experiments.c.recipe)).mappings().all():
        recipe = dict(row["recipe"])
        point = recipe.pop("z", None)
        conn.execute(experiments.update().where(experiments.c.id == row["id"])
                     .values(point=point or [], recipe={"version": 1, **recipe}))
    with op.batch_alter_table("experiments") as b:
        b.alter_column("point", existing_type=JSONType, nullable=False)


def downgrade() -> None:
    without_view(op, _downgrade)


def _downgrade() -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(experiments.c.id, experiments.c.recipe, experiments.c.point)).mappings().all():
        recipe = {k: v for k, v in dict(row["recipe"]).items() if k != "version"} | {"z": row["point"]}
        conn.execute(experiments.update().where(experiments.c.id == row["id"]).values(recipe=recipe))
    with op.batch_alter_table("experiments") as b:
        b.drop_column("point")

    with op.batch_alter_table("campaigns") as b:
        b.add_column(sa.Column("objective", JSONType))
        b.add_column(sa.Column("space", JSONType))
        b.add_column(sa.Column("temperature_K", sa.Float()))
        b.add_column(sa.Column("temperature_range_K", JSONType))
    for row in conn.execute(sa.select(campaigns.c.id, campaigns.c.design)).mappings().all():
        d = row["design"]
        conn.execute(campaigns.update().where(campaigns.c.id == row["id"]).values(
            objective=d["objective"], space=d["space"], temperature_K=d["temperature_K"],
            temperature_range_K=d["temperature_range_K"]))
    with op.batch_alter_table("campaigns") as b:
        b.alter_column("objective", existing_type=JSONType, nullable=False)
        b.alter_column("space", existing_type=JSONType, nullable=False)
        b.drop_column("design")
