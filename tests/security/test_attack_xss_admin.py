"""Stored XSS in the admin: names, bodies, file names and titles made of markup are escaped on
every changelist and change page (the browser client is covered by tests/browser/test_xss.py).
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from filetransfer.models import LinkPreview
from messages import services as message_services
from tests.factories import OrgFactory, UserFactory

PAYLOAD = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'


@pytest.fixture
def hostile(db, upload):
    org = OrgFactory(org_cd="EVIL", name=SVG)
    mallory = UserFactory(user_id="mallory", name=PAYLOAD, nickname=SVG, job=PAYLOAD, org=org)
    members = [UserFactory(user_id=f"victim{n}", name="피해자", org=org).user_id for n in (1, 2)]
    room, _ = message_services.room_create(actor=mallory, member_ids=members, name=f"{PAYLOAD}방")
    message_services.message_send(
        actor=mallory, room_id=room.pk, msg_id=uuid.uuid4(), body=f"{SVG}{PAYLOAD}"
    )
    response = upload(mallory, room.pk, [(f"{PAYLOAD}.txt", b"text\n")])
    assert response.status_code == 201, response.content
    LinkPreview.objects.create(
        url_hash="0" * 64,
        url=f"https://example.invalid/{SVG}",
        title=PAYLOAD,
        description=SVG,
        status=LinkPreview.Status.OK,
        fetched_at=timezone.now(),
    )
    return mallory


def _pages():
    for model, _model_admin in admin.site._registry.items():
        meta = model._meta
        yield f"admin:{meta.app_label}_{meta.model_name}", model


@pytest.mark.parametrize(("prefix", "model"), list(_pages()), ids=lambda v: str(v))
def test_attack_xss_admin_pages_escape_stored_markup(hostile, prefix, model):
    admin_user = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    urls = [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_changelist") + "?q=onerror"]
    urls += [reverse(f"{prefix}_change", args=[o.pk]) for o in model._default_manager.all()[:20]]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        content = response.content.decode()
        assert "<img src=x onerror" not in content, url
        assert "<svg onload" not in content, url


def test_attack_xss_admin_shows_the_markup_as_text(hostile):
    admin_user = UserFactory(user_id="it.admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)

    for name in ("orgsync_user", "talk_message", "filetransfer_filelog", "rooms_room"):
        content = client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert "&lt;img src=x onerror=alert(1)&gt;" in content, name
