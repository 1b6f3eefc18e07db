"""Holidays and adjusted working days entered by an administrator."""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='CalendarDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date', models.DateField(unique=True, verbose_name='date')),
                ('kind', models.CharField(choices=[('holiday', 'Holiday (no work)'), ('workday', 'Adjusted working day (调休)')], max_length=8, verbose_name='kind')),
                ('name', models.CharField(blank=True, max_length=50, verbose_name='name')),
            ],
            options={
                'verbose_name': 'calendar day',
                'verbose_name_plural': 'calendar days',
                'ordering': ['date'],
            },
        ),
    ]
