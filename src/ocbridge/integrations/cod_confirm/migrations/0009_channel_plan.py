"""The channel plan (DESIGN.md 2026-12-06): each cod_confirm Integration's single connection and its
channel_policy / attempt_offsets_minutes / answer_wait_minutes settings become ChannelStep rows; the settings keys
and Integration.connection are cleared (the plan is the one truth), attempts made so far name their connection."""

import django.db.models.deletion
from django.db import migrations, models

OLD_KEYS = ("channel_policy", "attempt_offsets_minutes", "answer_wait_minutes")


def _channels(policy: str, n: int) -> list[str]:
    if policy == "call":
        return ["call"] * n
    if policy == "sms":
        return ["sms"] * n
    return ["call"] * (n - 1) + ["sms"] if n > 1 else ["call"]  # call_then_sms: the last attempt is an SMS


def to_plan(apps, schema_editor):
    Integration = apps.get_model("core", "Integration")
    ChannelStep = apps.get_model("cod_confirm", "ChannelStep")
    Attempt = apps.get_model("cod_confirm", "Attempt")
    for integration in Integration.objects.filter(kind="cod_confirm"):
        settings = dict(integration.settings or {})
        offsets = [int(m) for m in settings.get("attempt_offsets_minutes") or [0, 30, 120]]
        window = min(max(int(settings.get("answer_wait_minutes") or 15), 1), 720)
        if integration.connection_id is not None:
            delays = [offsets[0]] + [max(b - a, 0) for a, b in zip(offsets, offsets[1:])]
            channels = _channels(settings.get("channel_policy") or "call_then_sms", len(offsets))
            for n, (channel, delay) in enumerate(zip(channels, delays), 1):
                ChannelStep.objects.create(integration=integration, position=n, channel=channel,
                                           connection_id=integration.connection_id, delay_minutes=delay,
                                           window_minutes=window)
            service = integration.connection.service
            Attempt.objects.filter(confirmation__integration=integration, service=service,
                                   connection__isnull=True).update(connection_id=integration.connection_id)
        for key in OLD_KEYS:
            settings.pop(key, None)
        integration.settings = settings
        integration.connection = None
        integration.save(update_fields=["settings", "connection"])


def from_plan(apps, schema_editor):
    Integration = apps.get_model("core", "Integration")
    ChannelStep = apps.get_model("cod_confirm", "ChannelStep")
    for integration in Integration.objects.filter(kind="cod_confirm"):
        steps = list(ChannelStep.objects.filter(integration=integration).order_by("position"))
        if not steps:
            continue
        channels = {s.channel for s in steps}
        offsets, total = [], 0
        for s in steps:
            total += s.delay_minutes
            offsets.append(total)
        integration.settings = {**(integration.settings or {}), "attempt_offsets_minutes": offsets,
                                "answer_wait_minutes": steps[0].window_minutes,
                                "channel_policy": channels.pop() if len(channels) == 1 else "call_then_sms"}
        integration.connection_id = steps[0].connection_id
        integration.save(update_fields=["settings", "connection"])


class Migration(migrations.Migration):

    dependencies = [
        ('cod_confirm', '0008_skipped_state'),
        ('core', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='attempt',
            name='connection',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.connection'),
        ),
        migrations.AlterField(
            model_name='attempt',
            name='channel',
            field=models.CharField(choices=[('call', 'Call'), ('sms', 'SMS'), ('whatsapp', 'WhatsApp')], max_length=8),
        ),
        migrations.CreateModel(
            name='ChannelStep',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField()),
                ('channel', models.CharField(choices=[('call', 'Call'), ('sms', 'SMS'), ('whatsapp', 'WhatsApp')], max_length=8, verbose_name='channel')),
                ('delay_minutes', models.PositiveIntegerField(default=0, help_text='The first step: minutes after the order arrived.', verbose_name='minutes after the previous attempt')),
                ('window_minutes', models.PositiveIntegerField(default=15, help_text='How long the customer may still answer; the next step waits until it ends.', verbose_name='answer window (minutes)')),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='channel_steps', to='core.connection', verbose_name='connection')),
                ('integration', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='channel_steps', to='core.integration')),
            ],
            options={
                'verbose_name': 'channel step',
                'verbose_name_plural': 'channel plan',
                'ordering': ['integration', 'position'],
                'constraints': [models.UniqueConstraint(fields=('integration', 'position'), name='channel_step_position')],
            },
        ),
        migrations.RunPython(to_plan, from_plan),
    ]
