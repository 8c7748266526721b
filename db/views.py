"""SQL views for analysts. Created and dropped by migrations; the same SQL runs on SQLite and PostgreSQL."""

PREDICTION_VS_MEASUREMENT = """
CREATE VIEW prediction_vs_measurement AS
SELECT e.id                                   AS experiment_id,
       c.id                                   AS campaign_id,
       c.name                                 AS campaign,
       e.composition                          AS composition,
       e."temperature_K"                      AS "temperature_K",
       e.predicted                            AS predicted,
       e.predicted_std                        AS predicted_std,
       m."conductivity_mS_cm"                 AS measured,
       m."conductivity_mS_cm" - e.predicted   AS residual,
       m.measured_composition                 AS measured_composition,
       m.method                               AS method,
       m.quality_flags                        AS quality_flags,
       mv.name                                AS model_version,
       mv.checkpoint_hash                     AS model_checkpoint_hash,
       m.finished_at                          AS measured_at
FROM experiments e
JOIN campaigns c ON c.id = e.campaign_id
JOIN model_versions mv ON mv.id = e.model_version_id
JOIN measurements m ON m.experiment_id = e.id
"""

DROP_PREDICTION_VS_MEASUREMENT = "DROP VIEW IF EXISTS prediction_vs_measurement"

ANALYST_ROLE = "diffmix_analyst"


def without_view(op, work) -> None:  # noqa: ANN001 - alembic's op module and a no-argument callable
    """Run a migration step that alters tables under the view: SQLite rebuilds a table to alter it (copy, drop,
    rename), which a view over the table does not survive, so there the view is dropped first and made again."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(DROP_PREDICTION_VS_MEASUREMENT)
    work()
    if sqlite:
        op.execute(PREDICTION_VS_MEASUREMENT)
