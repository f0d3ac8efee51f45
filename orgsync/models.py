"""People and the org chart (seed: Z_ORG_TBL, Z_USER_TBL), what HR writes (Z_INT*), and the
action log (Z_ACTLOG_TBL). docs/schema.md maps every seed column to a field here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models


class Org(models.Model):
    """A node of the org chart (company, division, team). Seed: Z_ORG_TBL."""

    org_cd = models.CharField("org code", max_length=20, unique=True)
    name = models.CharField(max_length=50)
    # The seed orders the tree by SEQ (a string) and gives depth as LVL; parent is kept as well
    # so that a branch can be read without scanning the whole table.
    seq = models.CharField(max_length=8, db_index=True)
    level = models.PositiveSmallIntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["seq", "org_cd"]

    def __str__(self) -> str:
        return f"{self.name} ({self.org_cd})"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, user_id: str, password: str | None = None, **fields) -> User:
        if not user_id:
            raise ValueError("user_id is required")
        user = self.model(user_id=user_id, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, user_id: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("id_kind", User.Kind.ADMIN)
        return self.create_user(user_id, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An employee account. Seed: Z_USER_TBL; USER_ID is the login."""

    class Kind(models.TextChoices):
        ADMIN = "A", "admin"
        ORGAN = "O", "organisation"
        DEPT = "D", "department"
        USER = "U", "user"

    user_id = models.CharField("user id", max_length=64, unique=True)
    id_kind = models.CharField(max_length=1, choices=Kind.choices, default=Kind.USER)
    name = models.CharField(max_length=50)
    org = models.ForeignKey(
        Org, null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    picture = models.ImageField(upload_to="profile/%Y/%m/", blank=True)
    nickname = models.CharField("nickname or status", max_length=100, blank=True)
    job = models.CharField(max_length=50, blank=True)
    tel_no = models.CharField(max_length=20, blank=True)
    absence_code = models.CharField(max_length=20, blank=True)
    absence_text = models.CharField(max_length=50, blank=True)
    # Notification settings (seed NOTI_OFF, BODY_OFF, SENDER_OFF, TM_FR, TM_TO).
    notify_off = models.BooleanField(default=False)
    hide_body = models.BooleanField(default=False)
    hide_sender = models.BooleanField(default=False)
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_to = models.TimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_client = models.CharField(max_length=64, blank=True)
    is_synced = models.BooleanField(
        default=False, help_text="Maintained by the HR sync; manual users are left alone by it."
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_by = models.CharField(max_length=64, blank=True)
    modified_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "user_id"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        indexes = [
            models.Index(fields=["org", "name"], name="user_org_name"),
            models.Index(fields=["name", "user_id"], name="user_name_id"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name


class InterfaceOrg(models.Model):
    """An org row as HR writes it, in a batch keyed by DTKEY. Seed: Z_INTORG_TBL."""

    dtkey = models.CharField(max_length=14, db_index=True)
    org_cd = models.CharField(max_length=20)
    org_nm = models.CharField(max_length=50)
    seq = models.CharField(max_length=8)
    lvl = models.IntegerField()

    class Meta:
        verbose_name = "interface org row"

    def __str__(self) -> str:
        return f"{self.dtkey} {self.org_cd}"


class InterfaceUser(models.Model):
    """A user row as HR writes it, in a batch keyed by DTKEY. Seed: Z_INTUSER_TBL."""

    dtkey = models.CharField(max_length=14, db_index=True)
    user_id = models.CharField(max_length=64)
    user_nm = models.CharField(max_length=50, blank=True)
    org_cd = models.CharField(max_length=20, blank=True)
    org_nm = models.CharField(max_length=50, blank=True)
    top_org_cd = models.CharField(max_length=20, blank=True)
    top_org_nm = models.CharField(max_length=50, blank=True)
    job = models.CharField(max_length=50, blank=True)
    tel_no = models.CharField(max_length=20, blank=True)
    ab_cd = models.CharField(max_length=20, blank=True)
    ab_nm = models.CharField(max_length=50, blank=True)

    class Meta:
        verbose_name = "interface user row"

    def __str__(self) -> str:
        return f"{self.dtkey} {self.user_id}"


class ActionLog(models.Model):
    """Who did what, from which device, for how long. Seed: Z_ACTLOG_TBL."""

    class Work(models.TextChoices):
        CONNECT = "connect"
        DISCONNECT = "disconnect"
        LOGIN = "login"
        LOGIN_FAILED = "login_fail"
        SYNC = "sync"

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="action_logs"
    )
    work = models.CharField(max_length=10, choices=Work.choices)
    device = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=10, blank=True)
    duration_seconds = models.IntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "work", "created_at"], name="actlog_user_work")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.user_id} {self.work}"
