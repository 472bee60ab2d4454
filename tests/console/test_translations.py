"""Every string the console shows has a Simplified Chinese translation; the check names the ones that do not.

makemessages (real xgettext and msgmerge from Debian's gettext) runs into a temporary copy of the
catalogue, so locale/zh_Hans/LC_MESSAGES/django.po is never rewritten by the check.
"""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.console.translations import read_po, untranslated

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_console_string_has_a_chinese_translation():
    """The project's catalogue covers every marked string, and the check leaves the catalogue as it was."""
    before = CATALOGUE.read_bytes()
    missing = untranslated("zh_Hans")
    assert CATALOGUE.read_bytes() == before
    assert not missing, "untranslated (append to the end of the catalogue, translated):\n\n" + "\n\n".join(
        entry.as_po() for entry in missing
    )


@pytest.fixture
def project(tmp_path):
    """A small project tree: one module and one template with strings, a catalogue that translates one of them."""
    (tmp_path / "apps" / "things" / "templates").mkdir(parents=True)
    (tmp_path / "apps" / "things" / "views.py").write_text(
        "from django.utils.translation import gettext as _, ngettext\n"
        "A = _('Pools')\nB = _('Scale this pool')\nC = ngettext('%(n)d host', '%(n)d hosts', 2)\n"
    )
    (tmp_path / "apps" / "things" / "templates" / "page.html").write_text(
        "{% load i18n %}<h1>{% translate 'Pool' %}</h1><p>{% translate 'Cancel the job' %}</p>"
    )
    (tmp_path / "tests").mkdir()
    only_a_test = "from django.utils.translation import gettext as _\n_('Only a test')\n"
    (tmp_path / "tests" / "test_x.py").write_text(only_a_test)
    po = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
        '"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        'msgid "Pools"\nmsgstr "服务池"\n\n'
        '#, fuzzy\nmsgid "Cancel the job"\nmsgstr "取消"\n',
        encoding="utf-8",
    )
    return tmp_path


def test_the_check_names_each_missing_and_fuzzy_msgid(project):
    """Missing, fuzzy and plural entries are named; translated ones and test-only strings are not."""
    po = project / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    before = po.read_bytes()
    missing = {entry.msgid: entry for entry in untranslated("zh_Hans", root=project)}
    assert set(missing) == {"Scale this pool", "%(n)d host", "Pool", "Cancel the job"}
    assert missing["Cancel the job"].fuzzy
    assert missing["%(n)d host"].plural == "%(n)d hosts"
    assert po.read_bytes() == before, "the catalogue is never rewritten"
    appended = read_po(missing["%(n)d host"].as_po())
    assert appended[0].msgid == "%(n)d host" and appended[0].missing


def test_the_command_fails_listing_the_entries(project, settings, capsys):
    """manage.py check_translations exits non-zero and prints the entries to fill in."""
    settings.BASE_DIR = project
    with pytest.raises(CommandError, match="4 string"):
        call_command("check_translations")
    printed = capsys.readouterr().out
    assert 'msgid "Scale this pool"\nmsgstr ""' in printed
    assert 'msgid_plural "%(n)d hosts"' in printed and "Only a test" not in printed
