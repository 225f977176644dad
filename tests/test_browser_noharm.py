"""No harm by one click (issue 11 item 4) in real headless Chromium: releasing a hold asks for a
confirmation and a reason, which the logbook shows; a form a rule refused comes back with what
was typed and the field marked."""

from __future__ import annotations

from datetime import datetime, timedelta

from test_browser import AMSTERDAM, as_user, browser, device, local, shot  # noqa: F401 (fixtures)


def later(minutes: int) -> str:
    """A local time `minutes` from now, for a datetime-local field."""
    return (datetime.now(AMSTERDAM) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def test_releasing_a_hold_asks_a_confirmation_and_a_reason_the_logbook_shows_R41(as_user,
                                                                                   device):
    url, _ = device
    page = as_user("b.beheerder")
    page.goto(f"{url}/holds")
    page.fill("input[name=start]", local(30))
    page.fill("input[name=end]", local(10))
    page.fill("input[name=reason]", "ruit ingegooid bij de ingang")
    page.fill("input[name=reference]", "INC-2026-204")
    page.click("button:has-text('Bewaren')")
    assert "geplaatst op" in page.inner_text("p.flash")
    row = page.locator("tr", has_text="INC-2026-204")
    row.locator("button:has-text('Opheffen')").click()
    # the confirmation page: nothing released yet, a reason asked
    assert "opheffen" in page.inner_text("h2")
    assert "niet terug te draaien" in page.inner_text("main")
    reason = page.locator("input[name=reason]")
    assert reason.get_attribute("required") is not None
    shot(page, "noharm-bevestigen-opheffen")
    page.goto(f"{url}/holds")
    assert "actief" in page.locator("tr", has_text="INC-2026-204").inner_text()
    page.locator("tr", has_text="INC-2026-204").locator("button:has-text('Opheffen')").click()
    page.fill("input[name=reason]", "dader bekend, schade vergoed")
    page.click("main form button:has-text('Opheffen')")
    page.wait_for_url(f"{url}/holds")
    assert "opgeheven" in page.inner_text("p.flash")
    assert "opgeheven" in page.locator("tr", has_text="INC-2026-204").inner_text()
    page.goto(f"{url}/logbooks/usage")
    entry = page.locator("tr", has_text="bewaaropdracht opgeheven").last
    assert "dader bekend, schade vergoed" in entry.inner_text()


def test_a_form_error_keeps_the_input_and_marks_the_field(as_user, device):
    url, _ = device
    officer = as_user("p.officer")
    officer.goto(f"{url}/requests")
    form = officer.locator("fieldset:has-text('artikel 10')")
    form.locator("input[name=requester]").fill("J. de Vries")
    form.locator("input[name=motivation]").fill("mijn fiets is gestolen bij de ingang")
    form.locator("input[name=start]").fill(local(30))
    form.locator("input[name=end]").fill(later(90))          # in the future: refused
    form.locator("button").click()
    form = officer.locator("fieldset:has-text('artikel 10')")
    assert form.locator("input[name=motivation]").input_value() == \
        "mijn fiets is gestolen bij de ingang"
    assert form.locator("input[name=requester]").input_value() == "J. de Vries"
    end = form.locator("input[name=end]")
    assert end.get_attribute("aria-invalid") == "true"
    message = officer.locator(f"#{end.get_attribute('aria-describedby')}")
    assert "eindigt in de toekomst" in message.inner_text()
    assert form.locator("input[name=motivation]").get_attribute("aria-invalid") is None
    shot(officer, "noharm-formulier-fout")
    assert "J. de Vries" not in officer.locator("table").first.inner_text()   # nothing taken in
