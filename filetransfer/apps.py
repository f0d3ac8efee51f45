from django.apps import AppConfig


class FiletransferConfig(AppConfig):
    name = "filetransfer"
    verbose_name = "Files"

    def ready(self) -> None:
        from filetransfer import signals  # noqa: F401 (connects the receivers)
