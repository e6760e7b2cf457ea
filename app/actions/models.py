"""Pipelines, their steps, and the actions that run them: targets, steps and log chunks.

Targets keep `server_id` as a plain integer: servers belong to another domain and the
foreign key is added when both land together.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, TimestampMixin
from app.environments.models import Environment
from app.projects.models import Project
from app.users.models import User


class ActionStatus(enum.StrEnum):
    PENDING = "pending"
    WAITING = "waiting"
    SKIPPED = "skipped"
    QUEUED = "queued"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"


FINISHED = frozenset({ActionStatus.COMPLETED, ActionStatus.FAILED, ActionStatus.SKIPPED})


class ReasonCode(enum.StrEnum):
    COMPLETED = "COMPLETED"
    FAILED_INSUFFICIENT_CREDITS = "FAILED_INSUFFICIENT_CREDITS"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    SKIPPED = "SKIPPED"
    WAITING_CONCURRENCY_PIPELINE = "WAITING_CONCURRENCY_PIPELINE"
    WAITING_CONCURRENCY_TARGET = "WAITING_CONCURRENCY_TARGET"


class Pipeline(TimestampMixin, Base):
    __tablename__ = "pipelines"
    __table_args__ = (Index("ix_pipelines_resource", "resource_type", "resource_id", "operation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int] = mapped_column(BigInteger)
    operation: Mapped[str] = mapped_column(String(20))
    max_parallel_actions: Mapped[int] = mapped_column(Integer, default=0)
    trigger_when: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The default pipeline of (resource, operation) is the one `start_action` runs.
    is_default: Mapped[bool] = mapped_column(default=False)
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    created_by_user: Mapped[User | None] = relationship(lazy="raise")
    steps: Mapped[list[PipelineStep]] = relationship(
        lazy="raise",
        order_by="PipelineStep.trigger_order",
        primaryjoin="and_(PipelineStep.pipeline_id == Pipeline.id, PipelineStep.linked)",
        viewonly=True,
    )


class PipelineStep(TimestampMixin, Base):
    __tablename__ = "pipeline_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("pipelines.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20), default="default-step")
    command: Mapped[str] = mapped_column(Text)
    runner: Mapped[str] = mapped_column(String(20), default="custom")
    # None: the SSH login user of the target server.
    run_as_user: Mapped[str | None] = mapped_column(String(60))
    trigger_order: Mapped[int] = mapped_column(Integer)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=600)
    is_auto_generated: Mapped[bool] = mapped_column(default=False)
    is_default_step: Mapped[bool] = mapped_column(default=False)
    # Unlinked steps stay stored so they can be linked back.
    linked: Mapped[bool] = mapped_column(default=True)


class Action(TimestampMixin, Base):
    __tablename__ = "actions"
    __table_args__ = (
        Index("ix_actions_resource", "resource_type", "resource_id"),
        Index("ix_actions_status_heartbeat", "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PENDING)
    status_reason_code: Mapped[str] = mapped_column(String(40), default=ReasonCode.PENDING)
    # Overrides the stock text for the reason when there is something specific to say.
    status_message: Mapped[str | None] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[int] = mapped_column(BigInteger)
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("pipelines.id", ondelete="SET NULL"), index=True
    )
    retry_of: Mapped[int | None] = mapped_column(
        ForeignKey("actions.id", ondelete="SET NULL"), index=True
    )
    environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    trigger_comment: Mapped[str | None] = mapped_column(String(255))
    triggered_from: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    triggered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Seconds the whole action may run; None: no limit beyond each step's timeout.
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    cancel_requested_at: Mapped[datetime | None]
    worker_id: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    triggered_by_user: Mapped[User | None] = relationship(lazy="raise")
    project: Mapped[Project | None] = relationship(lazy="raise")
    environment: Mapped[Environment | None] = relationship(lazy="raise")
    parent: Mapped[Action | None] = relationship(
        lazy="raise", remote_side="Action.id", foreign_keys=[retry_of], back_populates="children"
    )
    children: Mapped[list[Action]] = relationship(
        lazy="raise", foreign_keys=[retry_of], back_populates="parent", order_by="Action.id"
    )
    targets: Mapped[list[ActionTarget]] = relationship(
        lazy="raise", order_by="ActionTarget.id", back_populates="action"
    )


class ActionTarget(TimestampMixin, Base):
    __tablename__ = "action_targets"
    __table_args__ = (
        Index("ix_action_targets_server_status", "server_id", "status"),
        # A resource's actions (GET /actions/targets/{type}/{id}), newest first.
        Index("ix_action_targets_resource", "resource_type", "resource_id", "action_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    resource_type: Mapped[str] = mapped_column(String(40), default="server")
    resource_id: Mapped[int] = mapped_column(BigInteger)
    server_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PENDING)
    status_reason_code: Mapped[str] = mapped_column(String(40), default=ReasonCode.PENDING)
    status_message: Mapped[str | None] = mapped_column(Text)
    max_parallel_actions: Mapped[int] = mapped_column(Integer, default=0)
    resource_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    current_step_order: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    action: Mapped[Action] = relationship(lazy="raise", back_populates="targets")
    steps: Mapped[list[ActionStep]] = relationship(lazy="raise", order_by="ActionStep.order")


class ActionStep(TimestampMixin, Base):
    __tablename__ = "action_steps"
    __table_args__ = (
        UniqueConstraint("action_target_id", "order"),
        # The steps that may have left processes on their server (workers/engine/plans.py
        # looks for them before every action): few, whatever the history.
        Index("ix_action_steps_left_running", "action_target_id",
              postgresql_where=text("remote_process IS NOT NULL"),
              sqlite_where=text("remote_process IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    action_target_id: Mapped[int] = mapped_column(
        ForeignKey("action_targets.id", ondelete="CASCADE")
    )
    order: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    # Snapshot of the pipeline step when the action was created: later edits don't leak in.
    command: Mapped[str] = mapped_column(Text)
    run_as_user: Mapped[str | None] = mapped_column(String(60))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=600)
    status: Mapped[str] = mapped_column(String(20), default=ActionStatus.PENDING)
    status_reason_code: Mapped[str] = mapped_column(String(40), default=ReasonCode.PENDING)
    status_message: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    log_chunks: Mapped[int] = mapped_column(Integer, default=0)
    log_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    log_updated_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    # How to find and stop the step's processes on its server ({"marker", "ssh_user",
    # "run_as_user"}), stored before it starts and cleared once it is known to have
    # ended: any worker can stop what a dead one left running.
    remote_process: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class ActionLogChunk(Base):
    """One piece of a step's output; `seq` orders them, `final` marks the terminal record."""

    __tablename__ = "action_log_chunks"
    __table_args__ = (UniqueConstraint("action_step_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    action_step_id: Mapped[int] = mapped_column(
        ForeignKey("action_steps.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text, default="")
    final: Mapped[bool] = mapped_column(default=False)


class ServerSlotLock(Base):
    """One row per server: locked FOR UPDATE to serialise slot claims on PostgreSQL."""

    __tablename__ = "server_slot_locks"

    server_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
