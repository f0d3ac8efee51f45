"""The attack tests reuse the file transfer fixtures (media in a temporary folder, hostile
multipart bodies) and the link preview test site."""

from tests.filetransfer.conftest import fast_password_hashing, media, upload  # noqa: F401
from tests.filetransfer.test_linkpreview import connections, eager, previews, site  # noqa: F401
