"""The directory API: the org tree branch by branch, profiles, people search, pictures."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from orgsync.models import User
from tests.factories import OrgFactory
from tests.messages.helpers import assert_error

# --- the org tree, branch by branch -----------------------------------------------------------


@pytest.fixture
def chart(make_user):
    hq = OrgFactory(org_cd="HQ", name="한빛상사", seq="0001", level=0)
    dev = OrgFactory(org_cd="DEV", name="개발본부", seq="0100", level=1, parent=hq)
    plt = OrgFactory(org_cd="PLT", name="플랫폼팀", seq="0110", level=2, parent=dev)
    app = OrgFactory(org_cd="APP", name="앱개발팀", seq="0120", level=2, parent=dev)
    OrgFactory(org_cd="OLD", name="없어진팀", seq="0130", level=2, parent=dev, is_active=False)
    sal = OrgFactory(org_cd="SAL", name="영업본부", seq="0200", level=1, parent=hq)
    people = {
        "ceo": make_user(user_id="ceo", name="김대표", org=hq, job="대표이사"),
        "cto": make_user(user_id="cto", name="이기술", org=dev, job="본부장"),
        "p1": make_user(user_id="p1", name="박플랫", org=plt),
        "p2": make_user(user_id="p2", name="최플랫", org=plt, nickname="재택 중"),
        "gone": make_user(user_id="gone", name="정퇴사", org=plt, is_active=False),
        "a1": make_user(user_id="a1", name="강앱", org=app, tel_no="010-1234-5678"),
        "s1": make_user(user_id="s1", name="윤영업", org=sal, absence_code="biztrip"),
    }
    return people


def test_org_tree_top_of_the_chart(api, chart):
    response = api(chart["ceo"]).get("/api/org/tree", {"parent": ""})

    assert response.status_code == 200
    body = response.json()
    assert body["org"] is None
    assert body["path"] == []
    assert body["users"] == []
    assert body["orgs"] == [
        {
            "org_cd": "HQ",
            "name": "한빛상사",
            "level": 0,
            "seq": "0001",
            "parent": None,
            "child_count": 2,
            "user_count": 1,
        }
    ]


def test_org_tree_branch_has_its_child_orgs_people_and_path(api, chart):
    body = api(chart["ceo"]).get("/api/org/tree", {"parent": "DEV"}).json()

    assert body["org"]["org_cd"] == "DEV"
    assert (body["org"]["child_count"], body["org"]["user_count"]) == (2, 1)
    assert body["path"] == [
        {"org_cd": "HQ", "name": "한빛상사"},
        {"org_cd": "DEV", "name": "개발본부"},
    ]
    assert [(o["org_cd"], o["child_count"], o["user_count"]) for o in body["orgs"]] == [
        ("PLT", 0, 2),
        ("APP", 0, 1),
    ]
    assert [u["user_id"] for u in body["users"]] == ["cto"]


def test_org_tree_branch_lists_only_active_people(api, chart):
    body = api(chart["ceo"]).get("/api/org/tree", {"parent": "PLT"}).json()

    assert [u["user_id"] for u in body["users"]] == ["p1", "p2"]
    assert body["orgs"] == []
    assert body["users"][1]["nickname"] == "재택 중"


@pytest.mark.parametrize("code", ["NOPE", "OLD", "x" * 300])
def test_org_tree_unknown_or_closed_branch_is_404(api, chart, code):
    assert_error(api(chart["ceo"]).get("/api/org/tree", {"parent": code}), 404, "not_found")


def test_org_tree_without_parameter_still_gives_the_whole_chart(api, chart):
    body = api(chart["ceo"]).get("/api/org/tree").json()

    assert [o["org_cd"] for o in body["orgs"]] == ["HQ", "DEV", "PLT", "APP", "SAL"]
    assert set(body) == {"orgs"}


def test_org_tree_branch_query_count_does_not_grow_with_the_branch(
    api, make_user, django_assert_max_num_queries
):
    top = OrgFactory(org_cd="TOP", level=0)
    for n in range(15):
        team = OrgFactory(parent=top, level=1)
        for _ in range(3):
            make_user(org=team)
        make_user(org=top, name=f"본사{n}")
    client = api(make_user(org=top))
    # auth, the org, its children with counts, its people, the path: not one per child or person.
    with django_assert_max_num_queries(7):
        body = client.get("/api/org/tree", {"parent": "TOP"}).json()
    assert len(body["orgs"]) == 15
    assert all(o["user_count"] == 3 for o in body["orgs"])


# --- profiles ----------------------------------------------------------------------------------


def test_user_profile_shows_the_directory_entry_and_org_path(api, chart):
    response = api(chart["p1"]).get("/api/users/a1")

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == "a1"
    assert body["name"] == "강앱"
    assert body["org_cd"] == "APP"
    assert body["tel_no"] == "010-1234-5678"
    assert body["picture"] is False
    assert body["picture_url"] is None
    assert [o["org_cd"] for o in body["org_path"]] == ["HQ", "DEV", "APP"]
    assert "notify_off" not in body
    assert "password" not in body


def test_user_profile_shows_absence(api, chart):
    body = api(chart["p1"]).get("/api/users/s1").json()
    assert body["absence_code"] == "biztrip"


@pytest.mark.parametrize("user_id", ["gone", "nobody", "a" * 300])
def test_user_profile_of_a_deactivated_or_unknown_person_is_404(api, chart, user_id):
    assert_error(api(chart["p1"]).get(f"/api/users/{user_id}"), 404, "not_found")


# --- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("플랫", ["p1", "p2"]),  # part of a Korean name
        ("재택", ["p2"]),  # nickname / status
        ("본부장", ["cto"]),  # job
        ("앱개발", ["a1"]),  # org name
        ("app", ["a1"]),  # org code
        ("010-1234", ["a1"]),  # phone as written
        ("01012345678", ["a1"]),  # phone without dashes
        ("1234 5678", ["a1"]),
        ("정퇴사", []),  # deactivated people are not found
    ],
)
def test_users_search_finds_people_by_every_directory_field(api, chart, q, found):
    response = api(chart["ceo"]).get("/api/users", {"q": q})

    assert response.status_code == 200
    assert [u["user_id"] for u in response.json()["users"]] == found


# --- pictures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image_bytes(fmt: str = "PNG", size=(800, 600), mode="RGBA", exif: bool = False) -> bytes:
    image = Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30))
    out = io.BytesIO()
    options = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0131] = "Photo editor 1.0"  # Software
        options["exif"] = data.tobytes()
    image.save(out, fmt, **options)
    return out.getvalue()


def upload(client, data: bytes, name: str = "me.png", method: str = "put"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(name, data, content_type="image/png")
    return getattr(client, method)("/api/me/picture", {"picture": file}, format="multipart")


def test_picture_upload_is_resized_square_jpeg_without_metadata(api, alice, media):
    original = image_bytes("JPEG", (1200, 800), "RGB", exif=True)
    assert b"SecretCam" in original

    response = upload(api(alice), original, "me.jpg")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["picture"] is True
    assert body["picture_url"].startswith("/api/users/alice/picture?v=")
    alice.refresh_from_db()
    stored = alice.picture.name
    assert stored.startswith("profile/") and stored.endswith(".jpg")
    assert "me" not in stored.rsplit("/", 1)[-1]
    with default_storage.open(stored) as handle:
        saved = handle.read()
    with Image.open(io.BytesIO(saved)) as image:
        assert image.format == "JPEG"
        assert image.size == (256, 256)
        assert not image.getexif()
        assert "icc_profile" not in image.info
    assert b"SecretCam" not in saved
    assert b"Photo editor" not in saved


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_picture_upload_accepts_png_gif_and_webp(api, alice, fmt):
    mode = "P" if fmt == "GIF" else "RGBA"
    response = upload(api(alice), image_bytes(fmt, (300, 500), mode), "x.bin", method="post")

    assert response.status_code == 200, response.content
    alice.refresh_from_db()
    with default_storage.open(alice.picture.name) as handle, Image.open(handle) as image:
        assert (image.format, image.size) == ("JPEG", (256, 256))


def test_picture_is_served_to_colleagues_with_safe_headers(api, alice, bob):
    upload(api(alice), image_bytes())
    url = api(alice).get("/api/me").json()["picture_url"]

    response = api(bob).get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    data = b"".join(response.streaming_content)
    assert data.startswith(b"\xff\xd8")
    again = api(bob).get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_picture_replaced_gets_a_new_url_and_the_old_file_goes(
    api, alice, django_capture_on_commit_callbacks
):
    upload(api(alice), image_bytes())
    alice.refresh_from_db()
    first_name, first_url = alice.picture.name, api(alice).get("/api/me").json()["picture_url"]

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api(alice), image_bytes("JPEG", mode="RGB"))

    assert response.json()["picture_url"] != first_url
    assert not default_storage.exists(first_name)


def test_picture_delete_removes_it(api, alice, django_capture_on_commit_callbacks):
    upload(api(alice), image_bytes())
    alice.refresh_from_db()
    name = alice.picture.name

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).delete("/api/me/picture")

    assert response.status_code == 200
    assert response.json()["picture"] is False
    assert not default_storage.exists(name)
    assert_error(api(alice).get("/api/users/alice/picture"), 404, "not_found")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some text, not an image", "me.png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "me.svg"),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "me.jpg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "me.png"),  # a PNG header and nothing after it
        (b"GIF89a" + b"\x00" * 10, "me.gif"),
    ],
    ids=["text", "svg", "pdf", "truncated-png", "broken-gif"],
)
def test_picture_upload_refuses_what_is_not_an_image(api, alice, data, name):
    response = upload(api(alice), data, name)

    error = assert_error(response, 400, "invalid")
    assert "not a JPEG, PNG, GIF or WebP image" in error["message"]
    assert not User.objects.get(pk=alice.pk).picture


def test_picture_upload_refuses_a_truncated_jpeg(api, alice):
    data = image_bytes("JPEG", mode="RGB")
    assert_error(upload(api(alice), data[: len(data) // 2]), 400, "invalid")


def test_picture_upload_refuses_a_bmp_even_though_pillow_reads_it(api, alice):
    error = assert_error(upload(api(alice), image_bytes("BMP", mode="RGB"), "me.png"), 400)
    assert "not a JPEG, PNG, GIF or WebP" in error["message"]


def test_picture_upload_too_large_is_413(api, alice, settings):
    settings.PROFILE_PICTURE = {**settings.PROFILE_PICTURE, "MAX_BYTES": 1000}
    assert_error(upload(api(alice), image_bytes(size=(600, 600))), 413, "too_large")


def test_picture_upload_with_too_many_pixels_is_refused(api, alice, settings):
    settings.PROFILE_PICTURE = {**settings.PROFILE_PICTURE, "MAX_PIXELS": 100 * 100}
    error = assert_error(upload(api(alice), image_bytes(size=(101, 100), mode="RGB")), 400)
    assert "101x100" in error["message"]


def test_picture_upload_without_the_field_is_400(api, alice):
    response = api(alice).put("/api/me/picture", {"photo": "x"}, format="multipart")
    error = assert_error(response, 400, "invalid")
    assert "picture" in error["message"]


def test_picture_upload_as_json_is_415(api, alice):
    response = api(alice).put("/api/me/picture", {"picture": "aGVsbG8="}, format="json")
    assert_error(response, 415)


def test_picture_of_someone_without_one_is_404(api, alice, bob):
    assert_error(api(alice).get("/api/users/bob/picture"), 404, "not_found")


def test_picture_of_a_deactivated_person_is_404(api, alice, bob):
    upload(api(bob), image_bytes())
    User.objects.filter(pk=bob.pk).update(is_active=False)
    assert_error(api(alice).get("/api/users/bob/picture"), 404, "not_found")
