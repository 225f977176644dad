"""Messages of the rules through the one catalogue (issue 11 item 3): a refusal raised in
governance reads in Dutch on a page and in English on the command line, from the same entry in
firmware/translations/nl/LC_MESSAGES/messages.po; and no rule raises a literal message past it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, ROOT, nvr, staff
from webutil import api, client, csrf_of, login

from firmware.config import load
from firmware.governance.accounts import AuthError
from firmware.governance.service import Governance

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_reset_refusal_reads_dutch_on_the_page_and_english_on_the_command_line(site):
    app, config = site
    c = client(app)
    page = c.post("/reset", data={"name": "b.beheerder", "code": "AAAAAA-BBBBBB-CCCCCC",
                                  "password": "een lange nieuwe wachtzin 42",
                                  "csrf": csrf_of(c)})
    html = page.get_data(as_text=True)
    assert "de herstelcode is onjuist, al gebruikt of verlopen" in html
    assert "reset code is wrong" not in html
    cli = nvr("--config", str(config), "user", "reset", "b.beheerder", "--code",
              "AAAAAA-BBBBBB-CCCCCC",
              env={**staff(config), "NVR_NEW_PASSWORD": "een lange nieuwe wachtzin 42"})
    assert cli.returncode != 0
    assert "the reset code is wrong, used or expired" in cli.stderr, cli.stderr
    dutch = nvr("--config", str(config), "user", "reset", "b.beheerder", "--code",
                "AAAAAA-BBBBBB-CCCCCC", env={**staff(config), "NVR_LANG": "nl",
                                             "NVR_NEW_PASSWORD": "een lange nieuwe wachtzin 42"})
    assert "de herstelcode is onjuist, al gebruikt of verlopen" in dutch.stderr, dutch.stderr


def test_the_recorder_raises_through_the_catalogue_without_loading_babel_or_flask(tmp_path):
    """The recorder's storage messages go through `_` too, but its memory budget has no room
    for Babel or Flask: outside a web request and without NVR_LANG neither is imported."""
    code = ("import sys\n"
            "import firmware.recording.service, firmware.storage.store as s\n"
            "from firmware.storage.keys import FileKeyProvider, KeyProblem\n"
            "try:\n"
            f"    FileKeyProvider(__import__('pathlib').Path({str(tmp_path / 'none')!r})).load()\n"
            "except KeyProblem as exc:\n"
            "    print(exc)\n"
            "print('babel' in sys.modules, 'flask' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "NVR_LANG"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    message, loaded = run.stdout.splitlines()
    assert message.startswith(f"the master key {tmp_path / 'none'}") and "is missing" in message
    assert loaded == "False False"


def test_login_refusal_raised_in_a_web_request_reads_dutch_R81(site):
    """The same AuthError (R-81) from governance: Dutch inside a Flask request, English
    outside (the command line's language)."""
    app, config = site
    gov = Governance.open(load(config))
    try:
        with app.test_request_context("/"):
            with pytest.raises(AuthError) as web:
                gov.accounts.authenticate("b.beheerder", "not the password at all", source="t")
        with pytest.raises(AuthError) as cli:
            gov.accounts.authenticate("b.beheerder", "not the password at all", source="t")
    finally:
        gov.close()
    assert str(web.value).startswith("Aanmelden mislukt: naam, wachtwoord of code")
    assert str(cli.value).startswith("login refused: wrong account name, password")
    run = nvr("--config", str(config), "user", "pending", "--user", "m.manager",
              env={**staff(config), "NVR_PASSWORD": "not the password at all"})
    assert run.returncode != 0 and "login refused" in run.stderr, run.stderr


def test_request_not_approved_reads_dutch_on_the_page_english_on_the_cli_R72(site):
    app, config = site
    now = datetime.now(AMSTERDAM)
    p = login(app, "p.officer")
    made = api(p, "POST", "/api/requests/art10", {
        "camera": "cam", "start": _local(now - timedelta(minutes=25)),
        "end": _local(now - timedelta(minutes=15)), "requester": "J. de Vries",
        "requester_kind": "citizen", "motivation": "fiets gestolen bij de ingang"})
    assert made.status_code == 201, made.get_data(as_text=True)
    req_id = made.get_json()["id"]
    why = api(p, "GET", f"/api/requests/{req_id}").get_json()["viewing"]["why"]
    assert why.startswith(f"verzoek {req_id} is in behandeling, niet toegewezen"), why
    assert "R-72" in why
    cli = nvr("--config", str(config), "request", "inzage", str(req_id), "--user", "b.beheerder",
              env={**staff(config), "NVR_PASSWORD": PASSWORD})
    assert cli.returncode != 0
    assert f"request {req_id} is still being handled" in cli.stderr, cli.stderr
    assert "R-72" in cli.stderr and "verzoek" not in cli.stderr


# The modules whose messages a person reads (issue 11 item 3, rules side).
RULE_MODULES = ("firmware/governance/*.py", "firmware/storage/*.py", "firmware/export/*.py",
                "firmware/system/*.py", "firmware/config.py", "firmware/provision.py",
                "firmware/playback/*.py")
# raise SomeError("literal") that nobody reads, each with its reason: "path:ExceptionName".
INTERNAL = {
    "firmware/storage/restarts.py:OSError": "the recorder stops with it at start: read in the "
                                            "journal, the technisch beheerder's English",
    "firmware/governance/bounds.py:ValueError": "caught in the same function; the page shows "
                                                "the time as unreadable",
    "firmware/governance/logbook.py:ValueError": "an unknown book id is a programming error "
                                                 "(books are constants and CLI choices)",
    "firmware/governance/logbook.py:HeadError": "stored in the logbook as a logbook-break fault "
                                                "(stored data stays as it was written)",
    "firmware/governance/logbook.py:HeadMissing": "stored like HeadError",
    "firmware/config.py:TypeError": "a field definition's programming error, at import",
    "firmware/config.py:ConfigError": "the first argument is the file; the messages in the "
                                      "list after it go through _",
    "firmware/playback/blur.py:AssertionError": "unreachable",
    "firmware/playback/detect.py:ValueError": "asked only after frames were fed: a "
                                              "programming error",
    "firmware/playback/thumbnail_process.py:AssertionError": "unreachable",
    "firmware/playback/thumbnail_process.py:EOFError": "the worker's pipe, caught and turned "
                                                       "into ThumbnailFailed",
    "firmware/playback/thumbnail_process.py:ThumbnailFailed": "caught by the thumbnail route, "
                                                              "which answers its own translated "
                                                              "503",
    "firmware/playback/thumbnail.py:NoPicture": "caught by the thumbnail route, which answers "
                                                "with its own translated 404",
    "firmware/playback/faststart.py:ValueError": "technical detail inside blur's translated "
                                                 "BlurError (%(problem)s)",
    "firmware/export/protocol.py:BadRequest": "a malformed request to exportd's socket: a "
                                              "person never sends a raw request (the web and "
                                              "the CLI send only well-formed ones)",
}


def _literal_raises():
    for pattern in RULE_MODULES:
        for path in sorted(ROOT.glob(pattern)):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                        and node.exc.args):
                    first = node.exc.args[0]
                    if ast.unparse(node.exc.func) == "_about" and len(node.exc.args) > 1:
                        first = node.exc.args[1]        # _about(field, error): the field's name
                    if isinstance(first, ast.JoinedStr) or (
                            isinstance(first, ast.Constant) and isinstance(first.value, str)):
                        yield path.relative_to(ROOT).as_posix(), node


def test_every_raised_message_of_the_rules_goes_through_the_catalogue():
    """A message raised as a bare literal cannot be translated: it must be `_("...")` (or
    `dutch("...")` in documents), unless INTERNAL names it with a reason."""
    bare = []
    for path, node in _literal_raises():
        name = ast.unparse(node.exc.func)
        if f"{path}:{name}" not in INTERNAL:
            bare.append(f"{path}:{node.lineno}: {ast.unparse(node.exc)[:90]}")
    assert not bare, "messages raised without the catalogue:\n" + "\n".join(bare)


def test_the_internal_allowlist_names_only_raises_that_exist():
    found = {f"{path}:{ast.unparse(node.exc.func)}" for path, node in _literal_raises()}
    assert set(INTERNAL) <= found, set(INTERNAL) - found


def test_no_function_that_translates_rebinds_the_underscore():
    """`for _, x in ...` inside a function that also calls `_("...")` makes `_` local there:
    the message would raise UnboundLocalError instead of reading. Comprehensions have their
    own scope and are fine."""
    def own_nodes(fn):
        todo = list(ast.iter_child_nodes(fn))
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            yield node
            todo.extend(ast.iter_child_nodes(node))

    wrong = []
    for path in sorted((ROOT / "firmware").rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            nodes = list(own_nodes(fn))
            binds = any(isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store)
                        for n in nodes)
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                        and n.func.id == "_" for n in ast.walk(fn))
            if binds and calls:
                wrong.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}")
    assert not wrong, wrong
