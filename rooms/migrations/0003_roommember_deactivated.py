import hashlib
from collections import defaultdict

from django.db import migrations, models

PRESENT = ("", "2")


def set_aside_inactive(apps, schema_editor):
    """Memberships of accounts deactivated before this release are set aside as deactivation
    now does (rooms.services.memberships_set_active): those rooms stop counting them."""
    RoomMember = apps.get_model("rooms", "RoomMember")
    Room = apps.get_model("rooms", "Room")
    RoomMemberSet = apps.get_model("rooms", "RoomMemberSet")
    stale = RoomMember.objects.filter(state__in=PRESENT, user__is_active=False)
    room_ids = sorted(set(stale.values_list("room_id", flat=True)))
    gone = set(stale.values_list("user_id", flat=True))
    if not room_ids:
        return
    RoomMember.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).update(state="D")
    for start in range(0, len(room_ids), 1000):
        chunk = room_ids[start : start + 1000]
        present = defaultdict(list)
        rows = (
            RoomMember.objects.filter(room_id__in=chunk, state__in=PRESENT)
            .order_by("room_id", "id")
            .values_list("room_id", "user_id")
        )
        for room_id, user_id in rows:
            present[room_id].append(user_id)
        rooms = list(Room.objects.filter(pk__in=chunk))
        for room in rooms:
            room.member_count = len(present[room.pk])
            if room.kind == "group" and room.master_id in gone and present[room.pk]:
                room.master_id = present[room.pk][0]
        Room.objects.bulk_update(rooms, ["member_count", "master"])
        sets = list(RoomMemberSet.objects.filter(room_id__in=chunk))
        for member_set in sets:
            members = ",".join(str(pk) for pk in sorted(set(present[member_set.room_id])))
            member_set.members = members
            member_set.members_hash = hashlib.sha256(members.encode()).hexdigest()
        RoomMemberSet.objects.bulk_update(sets, ["members", "members_hash"])


class Migration(migrations.Migration):

    dependencies = [
        ("rooms", "0002_roommember_room_members"),
    ]

    operations = [
        migrations.AlterField(
            model_name="roommember",
            name="state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "member"),
                    ("L", "left"),
                    ("2", "hidden until the next message"),
                    ("D", "account deactivated"),
                ],
                default="",
                max_length=1,
            ),
        ),
        migrations.RunPython(set_aside_inactive, migrations.RunPython.noop),
    ]
