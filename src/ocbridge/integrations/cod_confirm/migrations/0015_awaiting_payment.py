# The customer chose to pay now by card (cod_confirm.pay): a state that waits for the payment.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cod_confirm', '0014_phone_tally_keys'),
    ]

    operations = [
        migrations.AlterField(
            model_name='confirmation',
            name='state',
            field=models.CharField(choices=[('new', 'New'), ('scheduled', 'Scheduled'), ('calling', 'Calling'), ('sms_sent', 'SMS sent'), ('whatsapp_sent', 'WhatsApp sent'), ('no_answer', 'No answer'), ('confirmed', 'Confirmed'), ('cancelled', 'Cancelled'), ('failed', 'Failed'), ('expired', 'Attempts used up'), ('needs_person', 'Needs a person'), ('resolved_in_shop', 'Resolved in the shop'), ('skipped', 'Not checked (rule)'), ('awaiting_payment', 'Waiting for the payment')], default='new', max_length=20),
        ),
        migrations.AlterField(
            model_name='transition',
            name='from_state',
            field=models.CharField(choices=[('new', 'New'), ('scheduled', 'Scheduled'), ('calling', 'Calling'), ('sms_sent', 'SMS sent'), ('whatsapp_sent', 'WhatsApp sent'), ('no_answer', 'No answer'), ('confirmed', 'Confirmed'), ('cancelled', 'Cancelled'), ('failed', 'Failed'), ('expired', 'Attempts used up'), ('needs_person', 'Needs a person'), ('resolved_in_shop', 'Resolved in the shop'), ('skipped', 'Not checked (rule)'), ('awaiting_payment', 'Waiting for the payment')], max_length=20),
        ),
        migrations.AlterField(
            model_name='transition',
            name='to_state',
            field=models.CharField(choices=[('new', 'New'), ('scheduled', 'Scheduled'), ('calling', 'Calling'), ('sms_sent', 'SMS sent'), ('whatsapp_sent', 'WhatsApp sent'), ('no_answer', 'No answer'), ('confirmed', 'Confirmed'), ('cancelled', 'Cancelled'), ('failed', 'Failed'), ('expired', 'Attempts used up'), ('needs_person', 'Needs a person'), ('resolved_in_shop', 'Resolved in the shop'), ('skipped', 'Not checked (rule)'), ('awaiting_payment', 'Waiting for the payment')], max_length=20),
        ),
    ]
