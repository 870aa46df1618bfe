from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0016_seg_revisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="augmentation",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
