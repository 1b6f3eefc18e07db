from django.db import migrations

DEFAULT_TAGS = [
    ("低保", "care", "minimum living allowance"),
    ("特困", "care", "extreme hardship support"),
    ("独居老人", "care", "elderly living alone"),
    ("空巢老人", "care", "empty-nest elderly"),
    ("留守儿童", "care", "left-behind child"),
    ("残疾人", "care", "person with a disability"),
    ("优抚对象", "care", "veterans' families and entitled groups"),
    ("社区矫正", "sensitive", "under community correction"),
    ("刑满释放", "sensitive", "released prisoner"),
    ("严重精神障碍", "sensitive", "severe mental illness"),
    ("吸毒人员", "sensitive", "drug user"),
    ("党员", "other", "party member"),
    ("退役军人", "other", "veteran"),
    ("脱贫户", "other", "household lifted out of poverty (monitored)"),
    ("出租房", "other", "rented dwelling"),
]


def fill(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    for name, kind, description in DEFAULT_TAGS:
        Tag.objects.get_or_create(name=name, defaults={"kind": kind, "description": description})


def empty(apps, schema_editor):
    Tag = apps.get_model("registry", "Tag")
    Tag.objects.filter(name__in=[n for n, _k, _d in DEFAULT_TAGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(fill, empty)]
