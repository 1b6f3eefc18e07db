"""The default categories of DOMAIN.md, with first tier, limits and county department."""

from django.db import migrations

# code, name, English name, first tier, kind, department, (grid, village, town, county) days,
# (grid, village, town, county) hours when urgent
DEFAULTS = [
    ("policy", "政策咨询", "Policy consultation", "grid", "general", "县政务服务中心",
     (2, 3, 5, 7), (4, 8, 24, 48)),
    ("assistance", "困难帮扶", "Hardship assistance", "village", "assistance", "县民政局",
     (3, 5, 7, 10), (8, 24, 48, 72)),
    ("environment", "环境卫生", "Environment and sanitation", "grid", "general",
     "县城市管理局", (2, 3, 5, 7), (4, 8, 24, 48)),
    ("dispute", "矛盾纠纷", "Dispute", "grid", "mediation", "县司法局",
     (3, 5, 10, 15), (4, 8, 24, 48)),
    ("safety", "安全隐患", "Safety hazard", "grid", "general", "县应急管理局",
     (1, 2, 3, 5), (2, 4, 8, 24)),
    ("facilities", "市政设施", "Public facilities", "village", "general", "县住房和城乡建设局",
     (3, 5, 7, 10), (8, 24, 48, 72)),
    ("enterprise", "企业服务", "Enterprise service", "town", "general", "县工业和信息化局",
     (3, 5, 5, 10), (8, 24, 24, 48)),
    ("other", "其他", "Other", "grid", "general", "县政府办公室",
     (3, 5, 7, 10), (8, 24, 48, 72)),
]


def fill(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    for position, (code, name, name_en, tier, kind, dept, days, hours) in enumerate(DEFAULTS):
        Category.objects.update_or_create(
            code=code,
            defaults=dict(
                name=name, name_en=name_en, first_tier=tier, kind=kind, department=dept,
                position=position,
                grid_days=days[0], village_days=days[1], town_days=days[2], county_days=days[3],
                grid_hours=hours[0], village_hours=hours[1], town_hours=hours[2],
                county_hours=hours[3],
            ),
        )


def empty(apps, schema_editor):
    apps.get_model("cases", "Category").objects.filter(
        code__in=[d[0] for d in DEFAULTS], cases__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0002_cases")]
    operations = [migrations.RunPython(fill, empty)]
