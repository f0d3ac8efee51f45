"""Factories for test data: people, orgs, and rooms built through the real services."""

from __future__ import annotations

import uuid

import factory

from orgsync.models import Org, User

PASSWORD = "Test-pass-1234"


class OrgFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Org

    org_cd = factory.Sequence(lambda n: f"ORG{n:04d}")
    name = factory.Sequence(lambda n: f"팀{n}")
    seq = factory.Sequence(lambda n: f"{n:04d}")
    level = 1


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    user_id = factory.Sequence(lambda n: f"user{n:04d}")
    name = factory.Sequence(lambda n: f"사용자{n}")
    org = factory.SubFactory(OrgFactory)

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


def new_msg_id() -> str:
    return str(uuid.uuid4())
