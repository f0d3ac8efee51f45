from django.apps import AppConfig


class TalkConfig(AppConfig):
    # django.contrib.messages owns the label "messages" (and admin needs it).
    name = "messages"
    label = "talk"
    verbose_name = "Messages"
