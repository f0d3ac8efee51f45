from django.apps import AppConfig


class FiletransferConfig(AppConfig):
    name = "filetransfer"
    verbose_name = "Files"
