from django.db import migrations

TOUCH_POINTS = [
    ("web", "Web"),
    ("phone", "Phone"),
    ("email", "E-mail"),
    ("event", "Event"),
    ("referral", "Referral"),
    ("partner", "Partner"),
    ("other", "Other"),
]


def create_touch_points(apps, schema_editor):
    TouchPoint = apps.get_model("salesteam", "TouchPoint")
    for code, name in TOUCH_POINTS:
        TouchPoint.objects.get_or_create(code=code, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("salesteam", "0001_initial")]
    operations = [migrations.RunPython(create_touch_points, migrations.RunPython.noop)]
