"""Seed a demo company: a 3-level org chart, about 20 people with Korean names, and a few
rooms with history, all through the same services the app uses. Prints the demo logins."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from messages import services as message_services
from orgsync.models import Org, User

DEMO_PASSWORD = "demo1234!"  # noqa: S105 - printed on purpose: this is the demo's login

ORGS = [
    # org_cd, name, seq, level, parent
    ("HQ", "한빛상사", "0001", 0, None),
    ("MGT", "경영지원본부", "0100", 1, "HQ"),
    ("HR", "인사팀", "0110", 2, "MGT"),
    ("FIN", "재무팀", "0120", 2, "MGT"),
    ("RND", "기술연구본부", "0200", 1, "HQ"),
    ("PLT", "플랫폼팀", "0210", 2, "RND"),
    ("APP", "앱개발팀", "0220", 2, "RND"),
    ("SAL", "영업본부", "0300", 1, "HQ"),
    ("SAL1", "국내영업팀", "0310", 2, "SAL"),
]

PEOPLE = [
    # user_id, name, org, job, tel
    ("kim.minjun", "김민준", "HQ", "대표이사", "02-555-0100"),
    ("lee.seoyeon", "이서연", "MGT", "본부장", "02-555-0101"),
    ("park.jiho", "박지호", "HR", "인사 담당", "02-555-0110"),
    ("choi.yuna", "최유나", "HR", "채용 담당", "02-555-0111"),
    ("jung.hyunwoo", "정현우", "FIN", "재무 팀장", "02-555-0120"),
    ("kang.soyeon", "강소연", "FIN", "회계 담당", "02-555-0121"),
    ("yoon.dohyun", "윤도현", "RND", "연구소장", "02-555-0200"),
    ("jang.minseo", "장민서", "PLT", "플랫폼 팀장", "02-555-0210"),
    ("lim.jaewon", "임재원", "PLT", "백엔드 개발", "02-555-0211"),
    ("han.jiwoo", "한지우", "PLT", "인프라 운영", "02-555-0212"),
    ("oh.seojun", "오서준", "PLT", "백엔드 개발", "02-555-0213"),
    ("seo.hayoon", "서하윤", "APP", "앱개발 팀장", "02-555-0220"),
    ("shin.eunwoo", "신은우", "APP", "안드로이드 개발", "02-555-0221"),
    ("kwon.chaewon", "권채원", "APP", "웹 프론트엔드", "02-555-0222"),
    ("hwang.siwoo", "황시우", "SAL", "영업본부장", "02-555-0300"),
    ("ahn.yejin", "안예진", "SAL1", "영업 팀장", "02-555-0310"),
    ("song.junho", "송준호", "SAL1", "영업 대표", "02-555-0311"),
    ("jeon.subin", "전수빈", "SAL1", "영업 지원", "02-555-0312"),
    ("ko.eunji", "고은지", "HR", "교육 담당", "02-555-0112"),
    ("moon.taeyang", "문태양", "APP", "iOS 개발", "02-555-0223"),
]

ROOMS = [
    # members (first is the creator), name, lines (speaker index, text)
    (
        ["lim.jaewon", "jang.minseo"],
        "",
        [
            (1, "재원님, 오늘 배포 일정 확인 부탁드려요."),
            (0, "네, 오후 4시에 진행하겠습니다."),
            (1, "좋아요. 끝나면 알려주세요 🙂"),
        ],
    ),
    (
        ["jang.minseo", "lim.jaewon", "han.jiwoo", "oh.seojun"],
        "플랫폼팀",
        [
            (0, "이번 주 스프린트 회고는 금요일 2시입니다."),
            (2, "서버 점검은 목요일 밤 10시에 합니다."),
            (3, "점검 공지 메일은 제가 보낼게요."),
            (1, "확인했습니다!"),
        ],
    ),
    (
        ["lee.seoyeon", "park.jiho", "choi.yuna", "ko.eunji"],
        "인사팀 공지",
        [
            (0, "다음 달 신입사원 교육 준비 상황 공유 부탁해요."),
            (3, "교육 자료 초안 완료했습니다."),
            (2, "채용 일정은 이번 주 안에 확정됩니다."),
        ],
    ),
]


class Command(BaseCommand):
    help = "Seed the demo org, people and rooms (embedded default; refuses a filled database)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when people already exist."
        )
        parser.add_argument(
            "--force", action="store_true", help="Allow seeding with DJANGO_DEBUG off."
        )

    def handle(self, *args, **options):
        if User.objects.filter(user_id__in=[p[0] for p in PEOPLE]).exists():
            if options["if_empty"]:
                self.print_logins()
                return
            raise CommandError("The demo people exist already; nothing was changed.")
        if not settings.DEBUG and not options["force"]:
            raise CommandError("Refusing to seed demo users with DJANGO_DEBUG off (use --force).")
        with transaction.atomic():
            self.seed()
        self.stdout.write(self.style.SUCCESS("Demo company seeded."))
        self.print_logins()

    def seed(self) -> None:
        orgs: dict[str, Org] = {}
        for code, name, seq, level, parent in ORGS:
            orgs[code] = Org.objects.create(
                org_cd=code,
                name=name,
                seq=seq,
                level=level,
                parent=orgs[parent] if parent else None,
            )
        users: dict[str, User] = {}
        for user_id, name, org, job, tel in PEOPLE:
            users[user_id] = User.objects.create_user(
                user_id,
                DEMO_PASSWORD,
                name=name,
                org=orgs[org],
                job=job,
                tel_no=tel,
                created_by="seed_demo",
            )
        User.objects.create_superuser(
            "admin", DEMO_PASSWORD, name="관리자", org=orgs["HQ"], created_by="seed_demo"
        )
        for members, name, lines in ROOMS:
            creator = users[members[0]]
            room, _created = message_services.room_create(
                actor=creator, member_ids=members[1:], name=name
            )
            for speaker, text in lines:
                message_services.message_send(
                    actor=users[members[speaker]], room_id=room.pk, msg_id=uuid.uuid4(), body=text
                )

    def print_logins(self) -> None:
        self.stdout.write(
            f"Demo logins (password {DEMO_PASSWORD}): lim.jaewon, jang.minseo, han.jiwoo, "
            f"... ({len(PEOPLE)} people); admin for /admin/."
        )
