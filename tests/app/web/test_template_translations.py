"""Templates compiled per locale with their literal `_()` translated say exactly what the runtime `_()` says."""

from __future__ import annotations

import flask
import pytest
from flask.templating import _render
from jinja2 import Environment
from sqlalchemy import select

import traceability.pages
from app.web.i18n import TranslatedTemplates
from tests.factories import make_vehicle
from tests.traceability.factories import install_part_on, make_batch, part_path
from traceability.models import Part


def _rendered_both_ways(app, monkeypatch, path: str) -> tuple[str, str]:
    """Return the scan page at `path` as served (per-locale compiled) and as the runtime `_()` renders it."""
    captured = {}
    original = traceability.pages.render_template

    def capture(name, **context):
        captured.update(name=name, context=context)
        return original(name, **context)

    monkeypatch.setattr(traceability.pages, "render_template", capture)
    client = app.test_client()
    assert client.get(path).status_code == 200
    with app.test_request_context(path):
        app.preprocess_request()
        served = flask.render_template(captured["name"], **captured["context"])
        # The plain environment's own lookup: `_()` stays a call, translated at every render.
        runtime = Environment.get_template(app.jinja_env, captured["name"])
        return served, _render(app, runtime, dict(captured["context"]))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["genuine", "counterfeit", "installed"])
def test_the_scan_page_reads_the_same_as_with_runtime_translation(app, session, monkeypatch, lang, kind):
    if kind == "installed":
        part = install_part_on(session, make_vehicle(session).vin, shop_name="<b>A&B</b> 服务站")
    else:
        part = session.scalars(select(Part).where(Part.batch_id == make_batch(session, quantity=1).id)).one()
    path = part_path(part) if kind != "counterfeit" else part_path(part)[:-4] + "WXYZ"

    served, runtime = _rendered_both_ways(app, monkeypatch, f"{path}&lang={lang}")

    assert served == runtime
    assert ("正品" in served or "假冒" in served) if lang == "zh" else ("Genuine" in served or "Counterfeit" in served)


def test_a_literal_with_variables_is_formatted_and_escaped_as_at_runtime(app):
    source = "{{ _('Sold by %(shop)s', shop=name) }}|{{ _('Milepost') }}|{% if x %}{{ _('100%% sure') }}{% endif %}"
    with app.test_request_context("/?lang=zh"):
        compiled = app.jinja_env._localized()
        assert isinstance(compiled, TranslatedTemplates) and compiled.locale_key == "zh"
        served = compiled.from_string(source).render(name="<b>A&B</b>", x=True)
        runtime = Environment.from_string(app.jinja_env, source).render(name="<b>A&B</b>", x=True)

    assert served == runtime
    assert "&lt;b&gt;A&amp;B&lt;/b&gt;" in served and "Sold by" not in served


def test_a_template_that_gives_underscore_another_meaning_keeps_it(app):
    source = "{% set _ = joiner('+') %}{{ _() }}a{{ _() }}b"
    with app.test_request_context("/?lang=zh"):
        assert app.jinja_env._localized().from_string(source).render() == "a+b"
