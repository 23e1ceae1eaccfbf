"""Django's makemessages, also finding a count's two English forms marked with core.sentences.ngettext_noop (as a
plural entry), as Django's docs say to add an xgettext keyword ("Customizing the makemessages command")."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=ngettext_noop:1,2"]
