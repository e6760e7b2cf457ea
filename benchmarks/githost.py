"""A git:// host for the benchmarks: `git daemon --inetd` behind a threaded listener.

    python benchmarks/githost.py PORT BASE_PATH

`git daemon` on its own resets about half of 50 simultaneous connections from one address
(seen with git 2.39, even with --max-connections=0), which failed deploys to 25 and 50
servers at once for a reason of the benchmark's own. Here every connection gets its own
`git daemon --inetd`, and the listen backlog holds a whole burst.
"""

from __future__ import annotations

import socketserver
import subprocess
import sys


class _Handler(socketserver.BaseRequestHandler):
    base = ""

    def handle(self) -> None:
        connection = self.request.fileno()
        subprocess.run(
            ["git", "daemon", "--inetd", "--export-all", f"--base-path={self.base}", self.base],
            stdin=connection, stdout=connection, stderr=subprocess.DEVNULL, check=False,
        )


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


def main() -> None:
    port, base = int(sys.argv[1]), sys.argv[2]
    _Handler.base = base
    with _Server(("127.0.0.1", port), _Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
