"""Issue 11 item 5 in real headless Chromium: each role's home page lists the work that waits
for it, overdue first, each item a link to where the work is done, and nothing the role may not
read (R-11). The site (tests/homesite.py) has an overdue art. 10 request, a fresh one, an
approved one whose requester is not identified, a registered art. 9 request whose officer is
not identified, a hold whose footage turns 28 days old in two days, a storage alarm, an account
awaiting approval and an art. 12 question awaiting both advices. The web runs as `nvr web`
without a recorder, so the recorder's absence is work too."""

from __future__ import annotations

import re

import pytest
from homesite import APPROVED, FRESH, OVERDUE, PENDING, POLICE, QUESTION, waiting_site
from test_browser import browser, log_in, serving, shot  # noqa: F401 (fixture)

NAMES = (OVERDUE, FRESH, APPROVED, POLICE)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    config, ids = waiting_site(tmp_path_factory.mktemp("browser-home"))
    with serving(config, "web") as url:
        yield url, ids


@pytest.fixture
def home_of(browser, web):  # noqa: F811
    """The home page of `name`, logged in in a fresh context; returns (page, [item texts])."""
    url, _ = web
    contexts = []

    def open_as(name: str):
        context, page = log_in(browser, url, name)
        contexts.append(context)
        return page, page.locator("ul.work li").all_inner_texts()

    yield open_as
    for context in contexts:
        context.close()


def test_manager_sees_the_overdue_request_first_then_the_fresh_one_and_the_account_R72(
        home_of, web):
    page, items = home_of("m.manager")
    assert items, page.content()
    assert items[0].startswith("Termijn verstreken") and OVERDUE in items[0], items
    assert FRESH in items[1] and "Besluit over het verzoek" in items[1], items
    assert any(PENDING in i and "Keur het account" in i for i in items), items
    first = page.locator("ul.work li a").first
    assert re.fullmatch(r"/requests/\d+", first.get_attribute("href"))
    first.click()                                        # the link goes where the work is done
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    assert OVERDUE in page.inner_text("main")
    shot(page, "home-manager-verzoek")


def test_beheerder_sees_identities_the_lapsing_hold_and_the_storage_alarm(home_of):
    page, items = home_of("b.beheerder")
    text = "\n".join(items)
    assert "identiteit van de ambtenaar van " + POLICE in text             # art. 9 lid 3
    assert "identiteit van " + APPROVED in text                             # art. 10 lid 4
    assert "Bewaaropdracht" in text and "28 dagen oud" in text               # lapses soon
    assert "Opslagalarm" in text
    assert "Besluit over" not in text                                        # the manager's
    assert "Testcamera" in page.inner_text("main")        # the cameras stay for who may watch
    shot(page, "home-beheerder")


def test_privacy_officer_sees_the_overdue_request_first_and_the_advice_asked(home_of):
    page, items = home_of("p.officer")
    assert items[0].startswith("Termijn verstreken") and OVERDUE in items[0], items
    assert any("Geef uw advies als privacy officer" in i and QUESTION in i for i in items)
    steps = page.inner_text("table.steps")                 # the next step of each request
    assert POLICE in steps and "manager bedrijfsvoering" in steps


def test_fg_is_asked_for_advice_and_sees_the_overdue_request(home_of):
    page, items = home_of("d.dpo")
    assert items[0].startswith("Termijn verstreken") and OVERDUE in items[0], items
    assert any("functionaris gegevensbescherming" in i and QUESTION in i for i in items)


def test_technisch_beheerder_sees_the_system_and_no_requester_nor_footage_R11(home_of):
    page, items = home_of("t.admin")
    text = "\n".join(items)
    assert "Opslagalarm" in text and "recorder antwoordt niet" in text, items
    assert PENDING in text
    main = page.inner_text("main")
    for name in NAMES:
        assert name not in main, name
    assert page.locator("table.steps").count() == 0
    assert page.locator("main a[href^='/cameras/']").count() == 0
    shot(page, "home-technisch-beheerder")


def test_eindverantwoordelijke_has_nothing_until_both_advices_are_in(home_of):
    page, items = home_of("g.secretaris")
    assert items == [] and "Er wacht nu niets op u" in page.inner_text("main")
