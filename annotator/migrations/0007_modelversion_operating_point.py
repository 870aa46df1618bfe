from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotator", "0006_project_promotion_min_val_lesions"),
    ]

    operations = [
        # Versions registered before operating points keep the threshold they were served at.
        migrations.AddField(
            model_name="modelversion",
            name="score_threshold",
            field=models.FloatField(
                default=0.3,
                help_text="Operating point: proposals are the detections scored at least this (chosen on val).",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="modelversion",
            name="promotion",
            field=models.JSONField(
                default=dict,
                help_text="Whether the promotion rule made the version active, and why.",
            ),
        ),
        migrations.AlterField(
            model_name="modelversion",
            name="metrics",
            field=models.JSONField(
                default=dict,
                help_text="Per split: COCO AP and the lesion-level figures at the operating point, each with its images, lesions and 95 % interval.",
            ),
        ),
    ]
