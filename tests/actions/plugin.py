"""ENGINE_PLUGINS module for worker subprocesses in tests: servers from a JSON file.

The file (DVP_TEST_ACCESS_FILE) maps server ids to ServerAccess fields; resource type
`application` resolves to the ids listed under `application_servers`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import targets
from app.actions.targets import ServerAccess


def _write(path: str, data: object) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh)


class FileServers:
    def __init__(self, path: str) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int], dict[str, object]] | None = None

    def _data(self) -> dict[str, object]:
        # Parsed again only when the file changed: it stands in for an indexed lookup, and
        # re-reading it for every server would bill the JSON parser to the engine.
        stat = os.stat(self.path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != stamp:
            with open(self.path) as fh:
                self._cache = (stamp, json.load(fh))
        return self._cache[1]

    async def get_access(self, session: AsyncSession, server_id: int) -> ServerAccess | None:
        servers = self._data()["servers"]
        assert isinstance(servers, dict)
        entry = servers.get(str(server_id))
        return ServerAccess(**entry) if entry else None

    async def pin_host_key(self, session: AsyncSession, server_id: int, host_key: str) -> None:
        data = json.loads(json.dumps(self._data()))
        servers = data["servers"]
        assert isinstance(servers, dict)
        servers[str(server_id)]["host_key"] = host_key
        _write(self.path, data)


_path = os.environ.get("DVP_TEST_ACCESS_FILE")
if _path:
    _servers = FileServers(_path)
    targets.set_server_access_provider(_servers)

    async def _resolve(_session: AsyncSession, _resource_id: int) -> Sequence[int]:
        ids = _servers._data()["application_servers"]
        assert isinstance(ids, list)
        return [int(i) for i in ids]

    targets.register_target_resolver("application", _resolve)
    # The application and servers here are bare ids with no rows; their pipelines carry
    # their own scope, so the real row-based scope resolvers step aside.
    targets._scopes.pop("application", None)
    targets._scopes.pop("server", None)
