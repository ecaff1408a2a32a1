"""Start and stop everything ``mailray up`` runs, in order.

    Ray -> Serve + classifier -> queues -> store writer -> parse/classify
    stages -> IMAP (delivery hook) -> SMTP ingest (recovers the spool)
    -> learning controller (fine-tunes from Junk moves, canaries, promotes)

Stages run as async Ray actors with fractional CPUs and are restarted by Ray
if they die; :meth:`Platform.supervise` re-issues their run loops. Anything
accepted but not yet stored lives in the local spool and is enqueued again
on the next start, so a crash at any point loses nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import ray

from cluster.config import Config
from cluster.state import PlatformState
from ingest import queues
from ingest.queues import NAMESPACE
from storage.root import StorageRoot

log = logging.getLogger("mailray.cluster")

DRAIN_TIMEOUT_S = 15.0
# The spool is a local folder: the SMTP actors that write it and the store
# writer that empties it run on the head node, next to it.
ON_HEAD_NODE = {"node:__internal_head__": 0.001}


@dataclass(frozen=True, slots=True)
class Endpoints:
    smtp: str
    http: str
    imap: str | None
    storage_root: str
    ray_address: str


@dataclass
class _Loop:
    """A long-running actor call the supervisor keeps alive."""

    name: str
    actor: Any
    ref: Any = None
    args: tuple[Any, ...] = ()
    restart_count: int = 0


@dataclass
class Platform:
    config: Config
    ray_temp_dir: str | None = None
    num_cpus: float | None = None
    endpoints: Endpoints | None = None
    _queues: dict[str, Any] = field(default_factory=dict)
    _writer: Any = None
    _stages: list[Any] = field(default_factory=list)
    _ingest: list[Any] = field(default_factory=list)
    _loops: list[_Loop] = field(default_factory=list)
    _owns_ray: bool = False
    _imap: Any = None

    # -- start -------------------------------------------------------------

    def start(self) -> Endpoints:
        self._init_ray()
        http = self._start_serve()
        self._start_pipeline()
        delivery, imap = self._start_imap()
        ray.get(self._writer.set_delivery.remote(delivery))
        smtp = self._start_ingest()
        self._start_learning()

        root = StorageRoot.from_config(self.config.storage)
        self.endpoints = Endpoints(
            smtp=smtp,
            http=http,
            imap=imap,
            storage_root=root.url,
            ray_address=ray.get_runtime_context().gcs_address,
        )
        PlatformState(
            ray_address=self.endpoints.ray_address,
            namespace=NAMESPACE,
            smtp=smtp,
            http=http,
            imap=imap,
            storage_root=root.url,
            pid=os.getpid(),
        ).write(self.config.pipeline.state_file)
        return self.endpoints

    def _init_ray(self) -> None:
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {
            "namespace": NAMESPACE,
            "include_dashboard": False,
            "configure_logging": False,
            "runtime_env": {"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        }
        if self.config.ray_address:
            kwargs["address"] = self.config.ray_address
        else:
            if self.ray_temp_dir:
                kwargs["_temp_dir"] = self.ray_temp_dir
            if self.num_cpus:
                kwargs["num_cpus"] = self.num_cpus
        ray.init(**kwargs)
        self._owns_ray = True

    def _start_serve(self) -> str:
        from ray import serve

        from serve.classifier import APP_NAME, run_app

        http = self.config.http
        serve.start(http_options={"host": http.host, "port": http.port})
        run_app(self.config)
        _wait_for_app(APP_NAME, timeout_s=600.0)
        from serve import api

        api.run_app(self.config)
        _wait_for_app(api.APP_NAME, timeout_s=600.0)
        return f"http://{http.host}:{http.port}"

    def _start_pipeline(self) -> None:
        from ingest.classify_stage import ClassifyStage
        from ingest.parse_stage import ParseStage
        from storage.writer import StoreWriter

        pipeline = self.config.pipeline
        for name in queues.QUEUE_NAMES:
            self._queues[name] = queues.make_queue(name, pipeline.queue_max_items)
        options = {
            "num_cpus": pipeline.stage_num_cpus,
            "max_restarts": -1,
            "max_task_retries": 0,
        }

        self._writer = (
            ray.remote(StoreWriter)
            .options(name="mailray.store", resources=ON_HEAD_NODE, **options)
            .remote(self.config, self._queues["store"])
        )
        stored = ray.get(self._writer.start.remote())
        log.info("store holds %d messages", stored)
        self._loops.append(_Loop("store", self._writer))

        stage_specs = [
            ("parse", ParseStage, "parse", "classify", pipeline.parse_actors),
            ("classify", ClassifyStage, "classify", "store", pipeline.classify_actors),
        ]
        for stage, cls, inbox, outbox, count in stage_specs:
            for index in range(count):
                actor = (
                    ray.remote(cls)
                    .options(name=f"mailray.{stage}.{index}", **options)
                    .remote(
                        pipeline,
                        self._queues[inbox],
                        self._queues[outbox],
                        self._queues["store"],
                    )
                )
                self._stages.append(actor)
                self._loops.append(_Loop(f"{stage}.{index}", actor))
        for loop in self._loops:
            loop.ref = loop.actor.run.remote()

    def _start_imap(self) -> tuple[Any | None, str | None]:
        """Start the IMAP actor; returns (delivery hook, endpoint).

        The delivery hook receives each durably stored batch as
        ``list[ingest.types.StoredMessage]``; the IMAP actor files each
        message into its recipients' INBOX or Junk and wakes IDLE clients.
        """
        from imap.service import start_imap

        root = StorageRoot.from_config(self.config.storage)
        handles = start_imap(self.config, root, num_cpus=0.25)
        self._imap = handles.actor
        return handles.actor, f"{handles.host}:{handles.port}"

    def _start_ingest(self) -> str:
        from ingest.actor import IngestActor

        smtp = self.config.smtp
        pipeline = self.config.pipeline
        for index in range(smtp.actors):
            actor = (
                ray.remote(IngestActor)
                .options(
                    name=f"mailray.smtp.{index}",
                    num_cpus=pipeline.stage_num_cpus,
                    resources=ON_HEAD_NODE,
                    max_restarts=-1,
                )
                .remote(self.config, self._queues["parse"], index)
            )
            self._ingest.append(actor)
        host, port = ray.get(self._ingest[0].start.remote())
        ray.get([actor.start.remote(port) for actor in self._ingest[1:]])
        ray.get(self._writer.set_ingest.remote(self._ingest))
        recovered = ray.get(
            self._ingest[0].recover.remote(sweep_interval_s=pipeline.sweep_interval_s)
        )
        if recovered:
            log.warning(
                "re-enqueued %d spooled messages from an earlier run", recovered
            )
        for index, actor in enumerate(self._ingest):
            loop = _Loop(f"smtp.{index}", actor, args=(port,))
            loop.ref = actor.run.remote(port)
            self._loops.append(loop)
        return f"{host}:{port}"

    def _start_learning(self) -> None:
        """The training controller in the background (issue #5)."""
        if not self.config.learning.enabled:
            return
        from training.controller import ACTOR_NAME, LearningController

        actor = (
            ray.remote(LearningController)
            .options(
                name=ACTOR_NAME,
                num_cpus=self.config.pipeline.stage_num_cpus,
                max_restarts=-1,
            )
            .remote(self.config)
        )
        loop = _Loop("learning", actor)
        loop.ref = actor.run.remote()
        self._loops.append(loop)

    # -- run ---------------------------------------------------------------

    def supervise(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` and restart any run loop that ended."""
        refs = [loop.ref for loop in self._loops]
        done, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        for loop in self._loops:
            if loop.ref not in done:
                continue
            try:
                ray.get(loop.ref)
                log.warning("%s loop returned; restarting it", loop.name)
            except Exception as exc:
                log.error("%s loop failed, restarting: %r", loop.name, exc)
            loop.restart_count += 1
            # A loop that fails at once must not spin: back off a little.
            time.sleep(min(5.0, 0.2 * loop.restart_count))
            try:
                if loop.name == "store":
                    ray.get(loop.actor.start.remote(), timeout=120)
                loop.ref = loop.actor.run.remote(*loop.args)
            except Exception as exc:
                # Still restarting: the failed ref stays, so the next
                # supervise() tries again.
                log.error("%s not restarted yet: %r", loop.name, exc)

    def runtime_status(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Queue depths and every actor's counters, for ``mailray status``."""
        names = list(self._queues)
        depths = ray.get(
            [self._queues[n].actor.qsize.remote() for n in names], timeout=timeout_s
        )
        stages: dict[str, Any] = {}
        for loop in self._loops:
            try:
                stages[loop.name] = ray.get(
                    loop.actor.stats.remote(), timeout=timeout_s
                )
            except Exception as exc:  # restarting: say so rather than fail
                stages[loop.name] = {"error": repr(exc)}
            stages[loop.name]["restarts"] = loop.restart_count
        return {"queues": dict(zip(names, depths, strict=True)), "stages": stages}

    # -- stop --------------------------------------------------------------

    def stop(self) -> None:
        """Stop SMTP, drain the pipeline for a while, flush, shut down."""
        try:
            if self._ingest:
                ray.get([a.stop.remote() for a in self._ingest], timeout=10)
            self._drain(DRAIN_TIMEOUT_S)
            stoppers = [s.stop.remote() for s in self._stages]
            if self._writer is not None:
                stoppers.append(self._writer.stop.remote())
            ray.get(stoppers, timeout=60)
            if self._imap is not None:
                # After the writer: its last batch may still be delivering.
                ray.get(self._imap.stop.remote(), timeout=30)
        except Exception as exc:
            # Whatever is unfinished is still in the spool for the next start.
            log.error("unclean stop: %r", exc)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.config.pipeline.state_file)
            if self._owns_ray:
                from ray import serve

                serve.shutdown()
                ray.shutdown()

    def _drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            depths = ray.get([q.actor.qsize.remote() for q in self._queues.values()])
            if not any(depths):
                return
            time.sleep(0.2)
        log.warning(
            "pipeline not drained after %.0fs; the spool keeps the rest", timeout_s
        )


def _wait_for_app(name: str, timeout_s: float) -> None:
    from ray import serve
    from ray.serve.schema import ApplicationStatus

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = serve.status().applications.get(name)
        if status is not None and status.status == ApplicationStatus.RUNNING:
            return
        if status is not None and status.status == ApplicationStatus.DEPLOY_FAILED:
            raise RuntimeError(f"Serve app {name!r} failed: {status.message}")
        time.sleep(0.5)
    raise TimeoutError(f"Serve app {name!r} not running after {timeout_s:.0f}s")
