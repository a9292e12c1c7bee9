"""What the community views share: the settings of the running app and the URL a question is read at."""

from __future__ import annotations

from flask import current_app, url_for

from community.models import Question
from community.settings import CommunitySettings, community_settings


def current_settings() -> CommunitySettings:
    """Return the community settings of the running app."""
    return community_settings(current_app.config)


def question_url(question: Question) -> str:
    """Return the public address of a question's page (linked from the article drafted from it)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(
        "community.question_page", question_id=question.id
    )
