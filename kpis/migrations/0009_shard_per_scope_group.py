import django.utils.timezone
from django.db import migrations, models

import kpis.models


def close_open_runs(apps, schema_editor):
    # A run still open was split by year; its shards, read as every scope type over their years, would
    # still be right, but one split both ways could replace rows under two different locks. It is closed
    # as failed: the next run recomputes everything.
    apps.get_model("kpis", "KpiRun").objects.filter(status="running").update(
        status="failed",
        is_open=None,
        finished_at=django.utils.timezone.now(),
        error="Stopped by an upgrade that changed how runs are split into shards; the next run repairs it.",
    )


class Migration(migrations.Migration):

    dependencies = [
        ("kpis", "0008_first_wins_without_constraints"),
    ]

    operations = [
        migrations.RunPython(close_open_runs, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="kpishard",
            name="kpishard_unique_per_run",
        ),
        migrations.AddField(
            model_name="kpishard",
            name="scope_types",
            field=models.JSONField(default=kpis.models.every_scope_type),
        ),
        migrations.AddField(
            model_name="kpishard",
            name="completes_copy",
            field=models.BooleanField(default=False),
        ),
        migrations.AddConstraint(
            model_name="kpishard",
            constraint=models.UniqueConstraint(
                fields=("run", "window_from", "scope_types"), name="kpishard_unique_per_run"
            ),
        ),
    ]
