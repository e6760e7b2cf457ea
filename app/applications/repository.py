from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import LoaderOption

from app.applications.models import Application
from app.core.pagination import PageParams, paginate
from app.credentials.models import Credential
from app.cron_jobs.models import CronJob
from app.daemons.models import Daemon
from app.resources_common.names import NamedResourceRepository
from app.resources_common.repository import Collection
from app.virtual_hosts.models import VirtualHost


class ApplicationRepository(NamedResourceRepository[Application]):
    model = Application

    def list_options(self) -> list[LoaderOption]:
        return []

    def options(self) -> list[LoaderOption]:
        return [
            *super().options(),
            # At most one row ((credential, environment) is the link's key): joined.
            joinedload(Application.credential).joinedload(Credential.created_by_user),
        ]

    def collections(self) -> list[Collection]:
        # What each item points at joins into its collection's statement.
        return [
            Collection.of(Application.servers),
            Collection.of(Application.daemons, joinedload(Daemon.created_by_user)),
            Collection.of(Application.cronjobs, joinedload(CronJob.created_by_user)),
            Collection.of(Application.virtual_hosts, joinedload(VirtualHost.ssl_certificate),
                          joinedload(VirtualHost.created_by_user)),
            Collection.of(Application.services),
        ]

    async def search_in_environment(self, environment_id: int, name: str, page: PageParams
                                    ) -> Sequence[Application]:
        """The environment's applications whose name contains `name`, whatever the case."""
        stmt = (
            select(Application)
            .where(Application.environment_id == environment_id,
                   func.lower(Application.name).contains(name.lower(), autoescape=True))
            .order_by(Application.id)
        )
        return await paginate(self.session, stmt, page)
