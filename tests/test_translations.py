"""Tests that every translation has the keys and placeholders of translations/en.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

TRANSLATIONS = Path(__file__).parent.parent / "custom_components/ha_rt/translations"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def flatten(node: Any, path: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        result: dict[str, str] = {}
        for key, value in node.items():
            result.update(flatten(value, f"{path}/{key}" if path else key))
        return result
    assert isinstance(node, str), f"{path} is not a string"
    return {path: node}


def load(language: str) -> dict[str, str]:
    return flatten(json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")))


@pytest.mark.parametrize("language", ["de", "fr"])
def test_translation_has_english_keys(language: str) -> None:
    assert sorted(load(language)) == sorted(load("en"))


@pytest.mark.parametrize("language", ["de", "fr"])
def test_translation_keeps_placeholders(language: str) -> None:
    english = load("en")
    translated = load(language)

    mismatched = [
        key
        for key, text in translated.items()
        if key in english
        and set(PLACEHOLDER.findall(text)) != set(PLACEHOLDER.findall(english[key]))
    ]

    assert mismatched == []


@pytest.mark.parametrize("language", ["de", "fr"])
def test_translation_is_translated(language: str) -> None:
    english = load("en")
    # Labels that read the same in English and in the translation.
    same_in_both = {"Queue", "Text", "Ticket"}

    untranslated = [
        key
        for key, text in load(language).items()
        if text == english.get(key) and text not in same_in_both
    ]

    assert untranslated == []
