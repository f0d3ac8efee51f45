from django.apps import AppConfig


class OrgsyncConfig(AppConfig):
    name = "orgsync"
    verbose_name = "People and organisation"
