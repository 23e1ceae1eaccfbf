"""Django's makemessages, also finding a count's two English forms marked with core.sentences.ngettext_noop (as a
plural entry), as Django's docs say to add an xgettext keyword ("Customizing the makemessages command")."""

from django.core.management.commands import makemessages

# Catalogues nobody reviews as a whole (Arabic: the customer's pages only, locale/README.md): msgmerge's guesses from
# similar texts ("fuzzy") would wait there as wrong translations, so their new entries stay empty (English) instead.
UNGUESSED = frozenset({"ar"})


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=ngettext_noop:1,2"]

    def write_po_file(self, potfile, locale):
        no_guesses = ["--no-fuzzy-matching"] if locale in UNGUESSED else []
        self.msgmerge_options = [*type(self).msgmerge_options, *no_guesses]
        super().write_po_file(potfile, locale)
