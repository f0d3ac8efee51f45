"""Benchmarks of the messenger on this machine's production configuration (MariaDB, Redis,
ASGI server processes), with the seed's socket.io transport measured side by side.

Run `python -m bench --help`. Every run talks to 127.0.0.1 only and is bounded in time."""
