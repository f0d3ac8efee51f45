"""People and the org chart (seed: Z_ORG_TBL, Z_USER_TBL), what HR writes (Z_INT*), and the
action log (Z_ACTLOG_TBL). docs/schema.md maps every seed column to a field here."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils.translation import gettext_lazy as _


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
    # Quiet hours are read in this zone (an IANA name, checked with zoneinfo by the service).
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE)
    # A mention (@name or @user_id) notifies even in a muted room unless this is off.
    notify_mentions = models.BooleanField(default=True)
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


# The interface tables keep the seed's names, so HR's existing export (INSERT INTO Z_INTORG_TBL
# ... with a column list) works unchanged; docs/hr-interface.md is the contract. Their text
# columns are wider than the fields they feed on purpose: an oversize value lands here whole
# and the sync reports it row by row, instead of HR's insert failing or, in a non-strict MySQL
# session, being cut short without a word. Columns HR may leave out have database defaults.
INTERFACE_TEXT = 200


class InterfaceBatch(models.Model):
    """HR's control row for one DTKEY batch: how many rows it wrote, and when it is complete.

    No seed table: this is the completion contract of docs/hr-interface.md. HR sets READY when
    every row of the batch is committed; the sync applies only READY batches whose row counts
    match, and writes the outcome back (APPLIED, REJECTED, SUPERSEDED).
    """

    class Status(models.TextChoices):
        WRITING = "WRITING", "being written by HR"
        READY = "READY", "ready to apply"
        APPLIED = "APPLIED", "applied"
        REJECTED = "REJECTED", "rejected (see its sync run)"
        SUPERSEDED = "SUPERSEDED", "superseded by a newer batch"

    dtkey = models.CharField("DTKEY", max_length=14, unique=True)
    org_count = models.PositiveIntegerField(help_text="Rows HR wrote into Z_INTORG_TBL.")
    user_count = models.PositiveIntegerField(help_text="Rows HR wrote into Z_INTUSER_TBL.")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.WRITING, db_default="WRITING"
    )
    note = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sync last looked at this batch."
    )
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "Z_INTBATCH_TBL"
        verbose_name = "interface batch"
        verbose_name_plural = "interface batches"
        ordering = ["-dtkey"]

    def __str__(self) -> str:
        return f"{self.dtkey} ({self.status})"


class InterfaceOrg(models.Model):
    """An org row as HR writes it, in a batch keyed by DTKEY. Seed: Z_INTORG_TBL."""

    dtkey = models.CharField(max_length=14, db_index=True)
    org_cd = models.CharField(max_length=INTERFACE_TEXT)
    org_nm = models.CharField(max_length=INTERFACE_TEXT)
    seq = models.CharField(max_length=INTERFACE_TEXT)
    lvl = models.IntegerField()
    # Not in the seed: optional. Empty means "derive the parent from SEQ order and LVL".
    parent_cd = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")

    class Meta:
        db_table = "Z_INTORG_TBL"
        verbose_name = "interface org row"

    def __str__(self) -> str:
        return f"{self.dtkey} {self.org_cd}"


class InterfaceUser(models.Model):
    """A user row as HR writes it, in a batch keyed by DTKEY. Seed: Z_INTUSER_TBL."""

    dtkey = models.CharField(max_length=14, db_index=True)
    user_id = models.CharField(max_length=INTERFACE_TEXT)
    user_nm = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    org_cd = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    org_nm = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    top_org_cd = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    top_org_nm = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    job = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    tel_no = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    ab_cd = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")
    ab_nm = models.CharField(max_length=INTERFACE_TEXT, blank=True, default="", db_default="")

    class Meta:
        db_table = "Z_INTUSER_TBL"
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
        LOGOUT = "logout"
        PASSWORD = "password", "password changed"
        PASSWORD_FAILED = "pw_fail", "password change refused"
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


class SyncRun(models.Model):
    """One run of the HR sync: when, which batch, what it changed, and what it refused."""

    class Status(models.TextChoices):
        RUNNING = "running"
        APPLIED = "applied", "applied"
        PARTIAL = "partial", _("applied without its bad rows")
        NO_BATCH = "no_batch", "no new batch"
        REJECTED = "rejected"
        FAILED = "failed"
        BUSY = "busy", "refused: another run held the lock"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"
        COMMAND = "command"
        ADMIN = "admin"

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.CharField(max_length=64, blank=True)
    dtkey = models.CharField("DTKEY", max_length=14, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    orgs_created = models.PositiveIntegerField(default=0)
    orgs_reactivated = models.PositiveIntegerField(default=0)
    orgs_moved = models.PositiveIntegerField(default=0)
    orgs_renamed = models.PositiveIntegerField(default=0)
    orgs_updated = models.PositiveIntegerField(default=0)
    orgs_deactivated = models.PositiveIntegerField(default=0)
    users_created = models.PositiveIntegerField(default=0)
    users_reactivated = models.PositiveIntegerField(default=0)
    users_moved = models.PositiveIntegerField(default=0)
    users_updated = models.PositiveIntegerField(default=0)
    users_deactivated = models.PositiveIntegerField(default=0)
    users_skipped = models.PositiveIntegerField(default=0)
    problem_count = models.PositiveIntegerField(default=0)
    # Row-by-row reasons ({table, row, key, message, fatal}), the first MAX_PROBLEMS of them.
    problems = models.JSONField(default=list, blank=True)
    # A few of the changes, for people to see what the run did.
    sample = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"], name="syncrun_status_started")]

    def __str__(self) -> str:
        return f"sync run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class UsedErpTicket(models.Model):
    """An ERP sign-on ticket already exchanged (docs/sso.md): its `jti`, hashed, until a while
    after the ticket expired, so a replay is refused. In the database rather than the cache: a
    Redis outage or restart must not make used tickets usable again."""

    jti_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"used ticket {self.jti_hash[:12]}"


class LoginSession(models.Model):
    """One signed-in device: it starts at sign-on (orgsync.services.login_tokens, whatever the
    method) and its refresh and access tokens carry its id as the `sid` claim. Ending it (log
    out, signed out from another device, a new password) makes those tokens fail at once and
    closes its sockets. Not a seed table."""

    class Kind(models.TextChoices):
        WEB = "web"
        MOBILE = "mobile"
        OTHER = "other"

    class EndReason(models.TextChoices):
        LOGOUT = "logout", "logged out"
        REVOKED = "revoked", "signed out from another device"
        PASSWORD = "password", "password changed"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OTHER)
    method = models.CharField(max_length=20, help_text="How the person signed on: password, ...")
    created_at = models.DateTimeField(auto_now_add=True)
    # Written at refresh and at most every few minutes from requests and socket connects.
    last_seen_at = models.DateTimeField()
    address = models.CharField(max_length=45, blank=True)
    browser = models.CharField(max_length=64, blank=True, help_text='e.g. "Chrome 131 on Windows"')
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=10, choices=EndReason.choices, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "ended_at"], name="loginsession_user_ended")]

    def __str__(self) -> str:
        return f"session {self.pk} of user {self.user_id}"
