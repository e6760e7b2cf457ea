"""A deploy's `action_data` (the reference's `ActionDeploymentData`): what was asked for
when the action starts, then the commit and release name the steps report, and for a
rollback the commit details recorded by the deploy that made the release."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actions import builtins
from app.actions.models import Action
from app.applications.deploy_source import source_credential, source_links
from app.applications.models import Application
from app.core.settings import Settings


async def deployment_data(
    session: AsyncSession, application: Application, deploy_type: str,
    source_type: str | None, source_ref: str | None,
) -> dict[str, Any]:
    """The action's initial `action_data` (the reference's `ActionDeploymentData`): what
    was asked for now; the commit and release are filled in as the steps report them."""
    credential = await source_credential(session, application)
    if deploy_type == "deploy":
        source_type = source_type or "branch"
        source_ref = source_ref or application.default_branch
    else:
        # A redeploy or rollback deploys what a server already has: the commit is known
        # once the fetch step reports it.
        source_type, source_ref = "commit", ""
    return {
        "release_name": "",
        "commit": {
            "repository": application.repository, "author_name": "", "author_email": "",
            "committed_at": "", "hash": "", "message": "", "url": "", "clone_url": "",
            "download_url": "",
        },
        "deployment": {
            "type": deploy_type,
            "source_type": source_type,
            "source_ref": source_ref,
            "repository": application.repository,
            "provider_name": credential.provider_code if credential else "git",
            "pipeline_id": 0,
        },
    }


def results_handler(settings: Settings) -> builtins.ResultHandler:
    async def store(
        session: AsyncSession, request: builtins.RunRequest, results: dict[str, str],
        succeeded: bool,
    ) -> None:
        """The steps report the deployed commit and release: keep them on the action."""
        if request.resource_type != "application" or not results:
            return
        action = await session.get(Action, request.action_id)
        if action is None:
            return
        data: dict[str, Any] = dict(action.action_data or {})
        commit: dict[str, Any] = dict(data.get("commit") or {})
        deployment: dict[str, Any] = dict(data.get("deployment") or {})
        fields = {"commit": "hash", "commit_author_name": "author_name",
                  "commit_author_email": "author_email", "commit_date": "committed_at",
                  "commit_message": "message"}
        for key, field in fields.items():
            if key in results:
                commit[field] = results[key][:500]
        sha = results.get("commit")
        if sha:
            commit.update(source_links(
                settings, str(deployment.get("provider_name") or "git"),
                str(commit.get("repository") or ""), sha, results.get("clone_url", ""),
            ))
            if deployment.get("type") in ("redeploy", "rollback"):
                deployment["source_ref"] = sha
        if "release" in results:
            data["release_name"] = results["release"][:100]
        if deployment.get("type") == "rollback" and sha:
            origin = results.get("release_action") or data["release_name"]
            commit = await _released_commit(session, request, origin, commit)
        data["commit"], data["deployment"] = commit, deployment
        action.action_data = data

    return store


async def _released_commit(
    session: AsyncSession, request: builtins.RunRequest, origin: str, commit: dict[str, Any]
) -> dict[str, Any]:
    """A rollback only switches to an existing release, so only the hash is reported; the
    action that deployed the release (`origin`, its id: the activate step reads it from
    the server's records, and a release from before timestamped names is named by it)
    recorded the commit's author, date and message (needed for the commit to be shown at
    all)."""
    if not origin.isdigit():
        return commit
    found = await session.get(Action, int(origin))
    if found is None or (found.resource_type, found.resource_id) != (
        request.resource_type, request.resource_id
    ):
        return commit
    recorded = (found.action_data or {}).get("commit")
    if not isinstance(recorded, dict) or recorded.get("hash") != commit.get("hash"):
        return commit
    return {**commit, **{k: v for k, v in recorded.items() if v}}
