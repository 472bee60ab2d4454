"""The engine's sentences (apps.core.sentences): each line one writes is read back as that sentence, with the
values it was given; every sentence has a Chinese translation naming the same fields; a line no sentence wrote is
shown as stored."""

import re

import pytest
from django.utils import translation

from apps.console.labels import said
from apps.core import sentences
from apps.core.sentences import SENTENCES, translate

#: A value for each kind of field, as the engine would write it (see sentences.FIELDS).
SAMPLES = {
    "host": "web-0007",
    "instance": "i-0abc",
    "status": "partial",
    "kind": "check",
    "delta": "+3",
    "seconds": "12.5",
    "doing": "Looking at",
    "why": "timed out",
    "placements": "2 on rack-a, 1 on ecs-small in cn-hangzhou-b",
}


def sample(name: str) -> str:
    if name in SAMPLES:
        return SAMPLES[name]
    if name in sentences.FIELDS:
        return "42"
    return f"Value of {name.upper()}"


@pytest.mark.parametrize("sentence", SENTENCES, ids=lambda sentence: sentence.text[:60])
def test_each_line_reads_back_as_the_sentence_that_wrote_it(sentence):
    names = re.findall(r"\{(\w+)", sentence.text)
    values = {name: sample(name) for name in names}
    line = sentence.text
    for name in names:
        line = re.sub(r"\{" + name + r"(?::[^}]*)?\}", values[name], line)
    first = next(s for s in SENTENCES if s.read(line) is not None)
    assert first is sentence, f"{line!r} is read as {first.text!r}"
    assert first.read(line) == values


@pytest.mark.parametrize("sentence", [s for s in SENTENCES if s.text != "{status}"], ids=lambda s: s.text[:60])
def test_each_sentence_reads_in_chinese_with_its_values(sentence):
    names = re.findall(r"\{(\w+)", sentence.text)
    line = sentence.text
    for name in names:
        line = re.sub(r"\{" + name + r"(?::[^}]*)?\}", sample(name), line)
    with translation.override("zh-hans"):
        shown = said(line)
        kept = {name for name in names if translate(sample(name)) == sample(name)}
    assert shown != line or sentence is sentences.SAYS  # whose speaker and words are someone else's
    assert "{" not in shown
    for name in names:
        if name not in sentences.LABELLED and name not in sentences.LISTS and name in kept:
            assert sample(name) in shown, (name, shown)


def test_values_keep_their_words_and_states_their_labels():
    line = sentences.JOB_ENDED_BECAUSE(
        status="partial",
        reason=sentences.HOSTS_READY_BECAUSE(
            count=1, size=3, reason=sentences.PROVIDER_REFUSED(account="aws", reason="AuthFailure: key; retry")
        ),
    )
    assert line == "partial: 1 of 3 hosts ready; aws refused: AuthFailure: key; retry"
    with translation.override("zh-hans"):
        assert said(line) == "部分完成：3 台主机中 1 台就绪；aws 拒绝：AuthFailure: key; retry"
    with translation.override("en"):
        assert said(line) == line


def test_reasons_joined_are_each_translated_and_the_unknown_kept():
    line = sentences.JOIN.join([sentences.TOO_MANY_FAILED(), "QuotaExceeded: 20 instances", sentences.NO_MORE_HOSTS()])
    with translation.override("zh-hans"):
        assert (
            translate(line) == "失败的主机太多；请查看失败主机的消息；QuotaExceeded: 20 instances；不再为此任务创建主机"
        )


def test_a_line_no_sentence_wrote_is_shown_as_stored():
    for line in ("Connection reset by peer", "", "ÆØÅ {not a field}", "x" * 2000):
        with translation.override("zh-hans"):
            assert translate(line) == line


def test_the_capacity_sentence_is_what_placement_looks_for():
    from apps.provisioning.placement import CAPACITY_PREFIX

    assert sentences.NO_CAPACITY(reason="none left").startswith(CAPACITY_PREFIX)
    assert CAPACITY_PREFIX == "capacity:"
