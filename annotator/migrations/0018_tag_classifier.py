from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0017_project_augmentation"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="tags_exclusive",
            field=models.BooleanField(
                default=False,
                help_text="An image takes one tag class at most (softmax); otherwise any (a "
                "sigmoid per tag).",
            ),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="classifier",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="The tag classifier trained with it: weights file, sha256, tag index "
                "-> label class id, per-tag thresholds and per-split metrics; empty when none was "
                "trained.",
            ),
        ),
    ]
