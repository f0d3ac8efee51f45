from tests.conftest import send


def test_message_send_pushes_to_members_after_commit(group, alice, bob, carol, pushes):
    with pushes.committed():
        payload = send(bob, group.pk, "hi")
    assert payload["seq"] == 2
    assert pushes.users_of("message") == {alice.pk, bob.pk, carol.pk}
