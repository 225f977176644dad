"""schemathesis against /api/openapi.json: generated requests find no server error, and no
way around login: every operation that is not public answers an anonymous caller with 401
(R-20, R-81)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from webutil import client, login

PUBLIC = {("/api/session", "GET"), ("/api/login", "POST"), ("/api/openapi.json", "GET"),
          ("/api/reset", "POST")}
FUZZ = settings(max_examples=15, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def api_schema(site):
    app, _ = site
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def session_of(c):
    """A `call(case)` wrapper that sends the test client's session cookie and CSRF token (the
    generated cookie of the security scheme is replaced: it is what is under test elsewhere)."""
    with c.session_transaction() as s:
        token = s["csrf"]
    cookie = c.get_cookie("nvr_session").value

    def prepare(case):
        case.cookies = {"nvr_session": cookie}
        return {"X-CSRF-Token": token}
    return prepare


def fuzz(schema, call) -> int:
    """Run `call(case)` on generated cases of every operation; return how many operations."""
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        @FUZZ
        @given(case=operation.as_strategy())
        def check(case):
            call(case)
        check()
    return len(operations)


def test_anonymous_callers_get_401_from_every_operation_that_is_not_public(api_schema, site):
    app, _ = site
    c = client(app)
    c.get("/api/session")                                   # a session, but no login
    prepare = session_of(c)

    def call(case):
        response = case.call(headers=prepare(case))
        assert response.status_code < 500, (case.path, response.status_code)
        if (case.path, case.method.upper()) not in PUBLIC:
            # 404: a path parameter the route does not take (a negative id) reaches no view;
            # 413: a body over the size limit is refused before anything else.
            assert response.status_code in (401, 404, 413), (case.path, response.status_code)

    assert fuzz(api_schema, call) >= 35


# Operations after which the caller's session is over on the server by design: the
# fuzz logs in again after them, so the rest still runs with a live session.
ENDS_SESSION = {"/api/logout", "/api/visits/{visit_id}/start", "/api/users/{name}/role",
                "/api/users/{name}/disable", "/api/account/password"}


@pytest.mark.parametrize("user", ["b.beheerder", "t.admin", "p.officer"])
def test_logged_in_callers_never_cause_a_server_error(api_schema, site, user):
    app, _ = site
    prepare = [session_of(login(app, user))]
    statuses = set()

    def call(case):
        status = case.call_and_validate(headers=prepare[0](case),
                                        checks=[not_a_server_error]).status_code
        if case.operation.path in ENDS_SESSION:
            prepare[0] = session_of(login(app, user))
        elif (case.operation.path, case.method.upper()) not in PUBLIC:
            statuses.add(status)        # a login or reset with wrong credentials is 401 by design

    assert fuzz(api_schema, call) >= 35
    assert 200 in statuses and 401 not in statuses           # the session was used throughout
