"""The upload handler of the file upload view: limits enforced while the body is parsed.

Django's own handlers would copy every file to disk before the view could refuse it, and name
their temporary files after the client's extension. This one counts files and bytes as they
arrive (an oversized file stops the parse at once with 413) and keeps each file in memory or
in a temporary file whose name owes nothing to the client.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from filetransfer.errors import FileTooLarge, TooManyFiles, human_size
from filetransfer.services import clean_file_name


class TemporaryUpload(UploadedFile):
    """An uploaded file kept in an anonymous-named temporary file (deleted when closed)."""

    def temporary_file_path(self) -> str:
        assert self.file is not None
        return str(self.file.name)

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.file is not None:
                self.file.close()


class LimitedUploadHandler(FileUploadHandler):
    """Accepts at most `max_files` files of at most `max_bytes` bytes each."""

    def __init__(self, request: Any = None, *, max_bytes: int, max_files: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.count = 0
        self.received = 0
        self.in_memory = False
        self.buffer: Any = None

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        self.in_memory = content_length <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self.count += 1
        if self.count > self.max_files:
            raise TooManyFiles(f"Send at most {self.max_files} files in one request.")
        self.received = 0
        if self.in_memory:
            self.buffer = io.BytesIO()
        else:
            self.buffer = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed with the upload)
                prefix="upload-", suffix=".part", dir=settings.FILE_UPLOAD_TEMP_DIR
            )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.buffer.close()
            name = clean_file_name(self.file_name)
            raise FileTooLarge(
                f'"{name}" is larger than {human_size(self.max_bytes)}, the largest file accepted.'
            )
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        self.buffer.seek(0)
        if self.in_memory:
            return InMemoryUploadedFile(
                file=self.buffer,
                field_name=self.field_name,
                name=self.file_name,
                content_type=self.content_type,
                size=file_size,
                charset=self.charset,
                content_type_extra=self.content_type_extra,
            )
        return TemporaryUpload(
            file=self.buffer,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    def upload_interrupted(self) -> None:
        if self.buffer is not None:
            self.buffer.close()
