"""Which of the project's strings still lack a translation: makemessages into a copy, never into locale/.

The catalogue locale/<lang>/LC_MESSAGES/django.po is edited by hand (new entries
at its end), so ``makemessages`` must never rewrite it. This module copies the
catalogue into a temporary directory, lets ``makemessages`` merge every string
the code and templates mark into that copy, and reads back the entries that
have no translation or only a fuzzy one. ``manage.py check_translations`` and
the test suite print those msgids, ready to be pasted at the end of the file.
"""

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test.utils import override_settings

# What is not product code: the console never shows strings from these.
IGNORED = [".*", "var", "tests", "bench", "emulators", "cli", "deploy", "playbooks", "puppet", "build", "staticfiles"]
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: its msgid (and plural), its translations, and whether it is marked fuzzy."""

    msgid: str
    plural: str
    translations: tuple[str, ...]
    fuzzy: bool
    context: str = ""

    @property
    def missing(self) -> bool:
        """True when a reader would see the English: no translation, an empty plural form, or a fuzzy guess."""
        return self.fuzzy or not self.translations or not all(self.translations)

    def as_po(self) -> str:
        """The entry as it would be appended to the catalogue, with an empty msgstr to fill."""
        lines = [f'msgctxt "{self.context}"'] if self.context else []
        if "%(" in self.msgid or "%s" in self.msgid or "%d" in self.msgid:
            lines.insert(0, "#, python-format")
        lines.append(f'msgid "{self.msgid}"')
        if self.plural:
            lines += [f'msgid_plural "{self.plural}"', 'msgstr[0] ""']
        else:
            lines.append('msgstr ""')
        return "\n".join(lines)


def read_po(text: str) -> list[Entry]:
    """The entries of a .po file's text (the header, msgid "", left out; obsolete #~ entries too)."""
    entries, block = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line)
            continue
        if block:
            entry = _entry(block)
            if entry is not None:
                entries.append(entry)
        block = []
    return entries


def _entry(block: list[str]) -> Entry | None:
    """One blank-line separated block of a .po file as an Entry."""
    fields: dict[str, str] = {}
    key, fuzzy = None, False
    for line in block:
        if line.startswith("#,"):
            fuzzy = fuzzy or "fuzzy" in line
        if line.startswith("#"):
            continue
        head = line.split(" ", 1)[0] if not line.startswith('"') else None
        if head:
            key = head
            fields[key] = ""
        if key is not None:
            fields[key] += "".join(_QUOTED.findall(line))
    if not fields.get("msgid"):
        return None
    translations = tuple(value for name, value in sorted(fields.items()) if name.startswith("msgstr"))
    return Entry(
        msgid=fields["msgid"],
        plural=fields.get("msgid_plural", ""),
        translations=translations,
        fuzzy=fuzzy,
        context=fields.get("msgctxt", ""),
    )


def untranslated(language: str = "zh_Hans", root: Path | None = None) -> list[Entry]:
    """The entries of the code and templates under ``root`` with no (or only a fuzzy) translation in ``language``.

    ``root`` defaults to the project; its catalogue is copied, never written.
    """
    root = Path(root or settings.BASE_DIR)
    catalogue = Path("LC_MESSAGES") / "django.po"
    with tempfile.TemporaryDirectory(prefix="dcp-messages-") as scratch:
        scratch = Path(scratch)
        target = scratch / "locale" / language / catalogue
        target.parent.mkdir(parents=True)
        source = root / "locale" / language / catalogue
        if source.exists():
            shutil.copyfile(source, target)
        for child in root.iterdir():
            if child.is_dir() and child.name not in {"locale", ".venv"} and not child.name.startswith("."):
                os.symlink(child, scratch / child.name)
        _makemessages(scratch, language)
        return [entry for entry in read_po(target.read_text(encoding="utf-8")) if entry.missing]


def _makemessages(scratch: Path, language: str) -> None:
    """Run makemessages in ``scratch`` (which holds symlinks to the sources) into its own locale/ only."""
    here = os.getcwd()
    os.chdir(scratch)
    try:
        with override_settings(LOCALE_PATHS=[scratch / "locale"]):
            call_command(
                "makemessages",
                locale=[language],
                symlinks=True,
                no_location=True,
                no_obsolete=True,
                ignore_patterns=IGNORED,
                verbosity=0,
            )
    finally:
        os.chdir(here)
