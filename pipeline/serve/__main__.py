"""`python -m pipeline.serve`: the service process a client starts (see `pipeline/serve/spawn.py`).

`caro serve --foreground` runs the same `run()` in the user's terminal.
"""

from __future__ import annotations

import os
import sys


def run(ready_fd: int | None = None) -> int:
    """Serve this environment's endpoint until idle or stopped; the exit status."""
    from pipeline.cli.common import settings_from
    from pipeline.errors import CaroError
    from pipeline.serve.endpoint import Endpoint
    from pipeline.serve.server import Server

    try:
        idle_s = settings_from(None)["serve.idle_s"]
    except CaroError:  # a broken config: each request reports it; the service keeps the default
        from pipeline.settings import default_values

        idle_s = default_values()["serve.idle_s"]
    server = Server(Endpoint.for_environment(), idle_s=idle_s)
    if server.start(ready_fd):
        server.serve()
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    fd = int(args[args.index("--ready-fd") + 1]) if "--ready-fd" in args else None
    code = run(fd)
    # No interpreter teardown: a loaded model's destructor can run after its library is gone.
    os._exit(code)
