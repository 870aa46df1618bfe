from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0005_job_enqueued_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="promotion_min_val_lesions",
            field=models.PositiveIntegerField(
                default=10,
                help_text="Labelled val lesions below which no model version is promoted automatically.",
            ),
        ),
    ]
