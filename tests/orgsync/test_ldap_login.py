"""POST /api/auth/token with directory passwords: a real OpenLDAP (Debian's slapd, started by
tests/orgsync/slapd.py on private ports) checks the passwords of HR-synced people; manual
accounts keep their local passwords; a directory that is down or hangs is a 503, never "wrong
password", and is not counted against the login limits."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest
from rest_framework.test import APIClient

from orgsync.models import ActionLog, User
from tests.factories import PASSWORD
from tests.messages.helpers import assert_error
from tests.orgsync.slapd import (
    PEOPLE_BASE,
    SERVICE_DN,
    SERVICE_PASSWORD,
    STAFF_BASE,
    Person,
    Slapd,
)

KIM = Person("kim.minsu", "김민수", "Directory-pass-1")
HONG = Person("hong.gildong", "홍길동", "한글비밀번호-2024!")
LEE = Person("lee.jiwon", "이지원", "Directory-pass-3")
# In the directory, unknown to the messenger (HR never sent them).
PARK = Person("park.outsider", "박외부", "Directory-pass-4")
# A manual account's id that the directory also has, with another password.
MANUAL = Person("ops.admin", "운영관리자", "Directory-pass-5")
AD_CHOI = Person("choi.sujin", "최수진", "Ad-Pass-6", style="ad")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    server = Slapd(tmp_path_factory.mktemp("slapd"), [KIM, HONG, LEE, PARK, MANUAL, AD_CHOI])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def running(slapd):
    """The directory, up and answering, whatever the last test did to it."""
    slapd.resume()
    if slapd.process is None:
        slapd.start()
    return slapd


def ldap_conf(slapd: Slapd, **changes):
    return {
        "URI": slapd.uri,
        "BIND_DN": SERVICE_DN,
        "BIND_PASSWORD": SERVICE_PASSWORD,
        "USER_BASE": PEOPLE_BASE,
        "USER_ATTR": "uid",
        "USER_FILTER": "(objectClass=inetOrgPerson)",
        "START_TLS": False,
        "CA_FILE": "",
        "TIMEOUT_SECONDS": 2,
        **changes,
    }


@pytest.fixture
def directory(settings, running):
    settings.MESSENGER_LDAP = ldap_conf(running)
    return running


def synced(make_user, person: Person, **fields) -> User:
    """An account as the HR sync makes it: synced, no usable password."""
    user = make_user(user_id=person.user_id, name=person.name, is_synced=True, **fields)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def login(user_id, password, language="en"):
    return APIClient().post(
        "/api/auth/token",
        {"user_id": user_id, "password": password},
        format="json",
        REMOTE_ADDR="10.9.8.7",
        HTTP_ACCEPT_LANGUAGE=language,
    )


def me(response) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    answer = client.get("/api/me")
    assert answer.status_code == 200, answer.content
    return answer.json()


def last_login_log() -> ActionLog:
    return ActionLog.objects.order_by("-id").first()


def test_ldap_login_right_password_signs_in_a_synced_person(directory, make_user):
    user = synced(make_user, KIM)

    response = login(KIM.user_id, KIM.password)

    assert response.status_code == 200, response.content
    assert me(response)["name"] == "김민수"
    entry = last_login_log()
    assert (entry.user, entry.work, entry.state) == (user, "login", "ok")
    # The directory password is never stored: the account keeps no usable local password.
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert user.name == "김민수"


def test_ldap_login_korean_password_of_a_korean_name(directory, make_user):
    synced(make_user, HONG)

    response = login(HONG.user_id, HONG.password)

    assert response.status_code == 200, response.content
    assert me(response)["name"] == "홍길동"


def test_ldap_login_id_typed_in_capitals_asks_the_directory_for_hrs_spelling(directory, make_user):
    synced(make_user, KIM)

    response = login("  KIM.MINSU ", KIM.password)

    assert response.status_code == 200, response.content
    assert me(response)["user_id"] == KIM.user_id


def test_ldap_login_wrong_password_is_401_logged_and_counted(
    directory, make_user, settings, caplog
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ENABLED": True, "login_user": "2/15m"}
    user = synced(make_user, KIM)
    caplog.set_level(logging.DEBUG)

    assert_error(login(KIM.user_id, "not-" + KIM.password), 401)
    entry = last_login_log()
    assert (entry.user, entry.work, entry.state) == (user, "login_fail", "password")
    assert KIM.password not in entry.detail
    # django-auth-ldap's debug log follows the search and the bind, never with the password.
    assert f"uid={KIM.user_id}" in caplog.text
    assert KIM.password not in caplog.text

    assert_error(login(KIM.user_id, LEE.password), 401)
    # Two failures used the user id's allowance: the right password now waits too.
    assert_error(login(KIM.user_id, KIM.password), 429, "rate_limited")
    assert last_login_log().state == "locked"


def test_ldap_login_another_persons_directory_password_is_refused(directory, make_user):
    synced(make_user, KIM)
    synced(make_user, LEE)

    assert_error(login(KIM.user_id, LEE.password), 401)


def test_ldap_login_synced_person_missing_from_the_directory_is_401(directory, make_user):
    synced(make_user, Person("not.in.directory", "없는사람", "x"))

    assert_error(login("not.in.directory", "Whatever-pass-1"), 401)
    assert last_login_log().state == "password"


def test_ldap_login_user_id_is_escaped_in_the_directory_search(directory, make_user):
    # Unescaped, (uid=kim.min*) would find kim.minsu's entry and sign this account in with
    # his password.
    synced(make_user, Person("kim.min*", "별표", "x"))

    assert_error(login("kim.min*", KIM.password), 401)


def test_ldap_login_person_only_in_the_directory_gets_no_account(db, directory):
    assert_error(login(PARK.user_id, PARK.password), 401)

    assert not User.objects.filter(user_id=PARK.user_id).exists()
    entry = last_login_log()
    assert (entry.user, entry.state) == (None, "unknown")


def test_ldap_login_manual_account_keeps_its_local_password(directory, make_user):
    # A manual account (is_synced off) whose id the directory also holds.
    make_user(user_id=MANUAL.user_id, name=MANUAL.name, is_synced=False)

    response = login(MANUAL.user_id, PASSWORD)
    assert response.status_code == 200, response.content
    assert me(response)["user_id"] == MANUAL.user_id
    # The directory's password is not this account's.
    assert_error(login(MANUAL.user_id, MANUAL.password), 401)


def test_ldap_login_synced_person_cannot_use_a_local_password(directory, make_user):
    # An admin once set a local password on a synced account: with a directory configured,
    # only the directory's password counts.
    make_user(user_id=KIM.user_id, name=KIM.name, is_synced=True)

    assert_error(login(KIM.user_id, PASSWORD), 401)
    assert login(KIM.user_id, KIM.password).status_code == 200


def test_ldap_login_deactivated_person_is_refused(directory, make_user):
    user = synced(make_user, KIM, is_active=False)

    assert_error(login(KIM.user_id, KIM.password), 401)

    entry = last_login_log()
    assert (entry.user, entry.state) == (user, "inactive")


def test_ldap_login_directory_down_is_503_and_not_counted(directory, make_user, settings, caplog):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "ENABLED": True, "login_user": "1/15m"}
    user = synced(make_user, KIM)
    directory.stop()
    caplog.set_level(logging.DEBUG)

    for _ in range(3):
        error = assert_error(login(KIM.user_id, KIM.password), 503, "directory_unavailable")
    assert "password is wrong" in error["message"]  # "This does not mean your password is wrong"
    entry = last_login_log()
    assert (entry.user, entry.work, entry.state) == (user, "login_fail", "dir_down")
    assert "directory unavailable while search for user dn: SERVER_DOWN" in caplog.text
    korean = assert_error(login(KIM.user_id, KIM.password, "ko-KR,ko;q=0.9"), 503)
    assert "비밀번호가 틀렸다는 뜻은 아닙니다" in korean["message"]
    assert KIM.password not in caplog.text

    # Three refusals while the directory was down used none of the one failure allowed.
    directory.start()
    assert login(KIM.user_id, KIM.password).status_code == 200


def test_ldap_login_hanging_directory_is_503_within_the_timeout(directory, make_user, settings):
    settings.MESSENGER_LDAP = ldap_conf(directory, TIMEOUT_SECONDS=1)
    synced(make_user, KIM)
    directory.pause()
    try:
        started = time.monotonic()
        assert_error(login(KIM.user_id, KIM.password), 503, "directory_unavailable")
        elapsed = time.monotonic() - started
    finally:
        directory.resume()
    # One search (1 s) at most, and a bit of slack for a loaded machine.
    assert elapsed < 3, elapsed
    assert login(KIM.user_id, KIM.password).status_code == 200


def test_ldap_login_wrong_service_account_password_is_503(directory, make_user, settings):
    settings.MESSENGER_LDAP = ldap_conf(directory, BIND_PASSWORD="wrong-service-password")
    synced(make_user, KIM)

    assert_error(login(KIM.user_id, KIM.password), 503, "directory_unavailable")


def test_ldap_login_start_tls_with_the_directorys_ca(directory, make_user, settings):
    settings.MESSENGER_LDAP = ldap_conf(directory, START_TLS=True, CA_FILE=str(directory.ca_file))
    synced(make_user, KIM)

    assert login(KIM.user_id, KIM.password).status_code == 200
    assert_error(login(KIM.user_id, "not-" + KIM.password), 401)


def test_ldap_login_start_tls_with_an_untrusted_certificate_is_503(directory, make_user, settings):
    settings.MESSENGER_LDAP = ldap_conf(
        directory, START_TLS=True, CA_FILE=str(directory.other_ca_file)
    )
    synced(make_user, KIM)

    # The password is not sent to a server whose certificate nobody vouches for.
    assert_error(login(KIM.user_id, KIM.password), 503, "directory_unavailable")


def test_ldap_login_over_ldaps(directory, make_user, settings):
    settings.MESSENGER_LDAP = ldap_conf(
        directory, URI=directory.tls_uri, CA_FILE=str(directory.ca_file)
    )
    synced(make_user, HONG)

    assert login(HONG.user_id, HONG.password).status_code == 200


def test_ldap_login_active_directory_shape(directory, make_user, settings):
    # As in Active Directory: entries named by cn, the user id in sAMAccountName.
    settings.MESSENGER_LDAP = ldap_conf(
        directory, USER_BASE=STAFF_BASE, USER_ATTR="sAMAccountName", USER_FILTER=""
    )
    synced(make_user, AD_CHOI)
    synced(make_user, KIM)

    response = login(AD_CHOI.user_id, AD_CHOI.password)
    assert response.status_code == 200, response.content
    assert me(response)["name"] == "최수진"
    # Outside the configured base: not found, so refused.
    assert_error(login(KIM.user_id, KIM.password), 401)


def test_ldap_login_off_synced_person_uses_a_local_password(settings, make_user):
    settings.MESSENGER_LDAP = {**settings.MESSENGER_LDAP, "URI": ""}
    make_user(user_id=KIM.user_id, name=KIM.name, is_synced=True)

    assert login(KIM.user_id, PASSWORD).status_code == 200


def test_ldap_login_admin_page_uses_the_directory_and_says_when_it_is_down(
    directory, make_user, client
):
    synced(make_user, HONG, is_staff=True)

    signed_in = client.post(
        "/admin/login/?next=/admin/", {"username": HONG.user_id, "password": HONG.password}
    )
    assert signed_in.status_code == 302
    assert client.get("/admin/").status_code == 200
    # Deactivated by the HR sync: the admin session it had ends.
    User.objects.filter(user_id=HONG.user_id).update(is_active=False)
    assert client.get("/admin/").status_code == 302
    User.objects.filter(user_id=HONG.user_id).update(is_active=True)

    directory.stop()
    page = client.post("/admin/login/", {"username": HONG.user_id, "password": HONG.password})
    assert page.status_code == 200
    assert "The company directory cannot be reached" in page.content.decode()


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        ({"MESSENGER_LDAP_USER_BASE": ""}, "MESSENGER_LDAP_USER_BASE"),
        ({"MESSENGER_LDAP_URI": "http://dc1.corp.example.com"}, "ldap:// or ldaps://"),
        ({"MESSENGER_LDAP_USER_ATTR": "uid)(objectClass=*"}, "one attribute name"),
        ({}, None),
    ],
    ids=["no-base", "wrong-scheme", "filter-in-attr", "valid"],
)
def test_ldap_settings_refuse_to_start_when_incomplete(variables, refusal):
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MESSENGER_LDAP_")},
        "MESSENGER_LDAP_URI": "ldaps://dc1.corp.example.com ldaps://dc2.corp.example.com",
        "MESSENGER_LDAP_USER_BASE": "OU=Staff,DC=corp,DC=example,DC=com",
        "MESSENGER_LDAP_USER_ATTR": "sAMAccountName",
        **variables,
    }
    started = subprocess.run(
        [sys.executable, "-c", "import messenger.settings"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if refusal is None:
        assert started.returncode == 0, started.stderr
    else:
        assert started.returncode != 0
        assert "ImproperlyConfigured" in started.stderr
        assert refusal in started.stderr
