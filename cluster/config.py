"""The platform's one validated configuration.

Settings come, highest precedence first, from keyword arguments, from
``MAILRAY_*`` environment variables, from a TOML file (``--config`` or
``MAILRAY_CONFIG``) and from the defaults below. Each section is a model
of its own; an environment variable names the section and the field with
one underscore between them: ``MAILRAY_SMTP_PORT`` sets ``smtp.port``,
``MAILRAY_STORAGE_ROOT`` sets ``storage.root``,
``MAILRAY_CLASSIFIER_MAX_BATCH_SIZE`` sets ``classifier.max_batch_size``.

The whole object is checked when it is built, before any port is bound.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_DATA_DIR = Path("mailray-data")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageConfig(_Section):
    """Where messages, objects, tables and models live."""

    root: str = str(DEFAULT_DATA_DIR / "store")
    """An fsspec URL: a local folder, or ``s3://bucket/prefix``."""
    s3_endpoint_url: str | None = None
    """For S3-compatible servers (SeaweedFS, MinIO, moto)."""
    s3_access_key_id: str | None = Field(default=None, repr=False)
    s3_secret_access_key: str | None = Field(default=None, repr=False)
    s3_region: str = "us-east-1"


class SmtpConfig(_Section):
    """The SMTP ingest actors."""

    host: str = "127.0.0.1"
    port: int = Field(default=2525, ge=0, le=65535)
    hostname: str = "mailray.localhost"
    """The name in the greeting and in the Received header mailray adds."""
    actors: int = Field(default=1, ge=1)
    """Ingest actors; with more than one, they share the port (SO_REUSEPORT)."""
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    """Advertised with SIZE; a larger DATA is refused with 552."""
    spool_dir: str = str(DEFAULT_DATA_DIR / "spool")
    """Local disk; a message is fsynced here before the 250."""
    domains: tuple[str, ...] = ("example.com",)
    """Domains accepted for delivery; other recipients get 550 5.1.1."""
    read_timeout_s: float = Field(default=300.0, gt=0)


class ImapConfig(_Section):
    """The IMAP server actors."""

    host: str = "127.0.0.1"
    port: int = Field(default=1143, ge=0, le=65535)
    metadata_path: str = str(DEFAULT_DATA_DIR / "metadata.sqlite3")
    """The embedded metadata database (users, UIDs, flags, preferences)."""
    max_literal_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    idle_timeout_s: float = Field(default=30 * 60, gt=0)
    """Autologout: the longest wait for the next client line, IDLE included."""
    max_failed_logins: int = Field(default=5, ge=1)
    """Failures per peer host and user name within ``login_lockout_s``."""
    login_lockout_s: float = Field(default=60.0, gt=0)
    login_failure_delay_s: float = Field(default=1.0, ge=0)
    """Wait before a failed login's NO, doubling per recent failure (max 8 s)."""
    feedback_flush_interval_s: float = Field(default=1.0, gt=0)
    """Longest time a Junk/NotJunk label waits before its Parquet file."""
    greeting_delay_s: float = Field(default=0.0, ge=0, le=30)
    """Greet pause: wait this long before the greeting and drop clients that
    talk first (bots that pipeline blindly); 0 greets at once."""


class HttpConfig(_Section):
    """The HTTP API (Serve's proxy)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class ClassifierConfig(_Section):
    """The Serve deployment that scores messages."""

    model_version: str | None = None
    """Pin a registry version; by default the registry's serving version."""
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    """Larger requests are refused with 413; the pipeline never sends them."""
    max_batch_size: int = Field(default=32, ge=1)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0)
    batch_tokens: int = Field(default=4096, ge=1)
    """Most padded tokens per forward pass: a Serve batch is sorted by
    length and cut so that short messages are not padded to long ones."""
    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: float = Field(default=32, gt=0)
    max_ongoing_requests: int = Field(default=256, ge=1)
    """Requests a replica holds at once. Keep it above what the pipeline
    keeps in flight (``pipeline.batch_size`` times the classify stage's 3
    concurrent batches, 192 by default): calls beyond it wait in the
    caller's router, which retries with backoff while the replica runs dry.
    At 64 the platform's replica sat idle most of the time and classified
    8.6 msg/s; at 256, 35 msg/s on the same texts."""
    num_cpus: float = Field(default=0.25, gt=0)
    """Per replica, a logical reservation (torch still uses
    ``torch_threads``); small, so that on a 2-CPU node the replica, the
    stages, IMAP, the SMTP actor and a training worker all fit. At 1.0 the
    SMTP actor could not be placed there and ``mailray up`` waited for ever."""
    torch_threads: int = Field(default=1, ge=0)
    """Torch threads per batch; 0 means one per CPU core of the node."""
    concurrent_batches: int = Field(default=0, ge=0)
    """Batches a replica scores at once, each on its own thread; 0 means
    one per ``torch_threads`` cores, as far as ``max_ongoing_requests``
    fills them. On 2 cores, two one-thread batches kept 97 % of the raw
    rate under load where one two-thread batch kept 76 %: a thread of a
    parallel op that loses its core stalls the others, a batch of its own
    does not."""
    dtype: Literal["auto", "fp32", "bf16", "int8"] = "auto"
    """``auto`` picks bf16 where the CPU has native bf16, else int8."""
    access_log: bool = False
    """Serve's log line per request; off, since the pipeline makes one per
    message and writing them costs the replica CPU that scoring needs."""

    @model_validator(mode="after")
    def _replicas_ordered(self) -> ClassifierConfig:
        if self.min_replicas > self.max_replicas:
            raise ValueError("classifier.min_replicas exceeds max_replicas")
        return self


class PipelineConfig(_Section):
    """Queues and stages between ingest and storage."""

    queue_max_items: int = Field(default=2000, ge=1)
    """Bounded: a full queue makes SMTP answer 451 4.3.2."""
    batch_size: int = Field(default=64, ge=1)
    batch_wait_s: float = Field(default=1.0, ge=0)
    """Longest an idle stage waits on its queue before it looks for due
    retries (or a stop) again; mail arriving ends the wait at once. Each
    wait is a call on the queue actor: at 0.2 s the idle stages and their
    queues took about a tenth of a core."""
    flush_interval_s: float = Field(default=1.0, gt=0)
    """Longest time a stored message waits before its Parquet file is written."""
    max_attempts: int = Field(default=5, ge=1)
    """After this many failures a message moves to the dead-letter area."""
    retry_base_s: float = Field(default=0.5, gt=0)
    compact_min_files: int = Field(default=16, ge=2)
    """A date partition with this many files is compacted into one."""
    stage_num_cpus: float = Field(default=0.1, gt=0)
    flush_max_rows: int = Field(default=1000, ge=1)
    """A stored batch is written as soon as it holds this many messages."""
    parse_actors: int = Field(default=1, ge=1)
    classify_actors: int = Field(default=1, ge=1)
    redeliver_after_s: float = Field(default=300.0, gt=0)
    """A spooled message not stored after this long is enqueued again
    (a stage crashed holding it); the store stage drops duplicates."""
    sweep_interval_s: float = Field(default=30.0, gt=0)
    state_file: str = str(DEFAULT_DATA_DIR / "platform.json")
    """Written by ``mailray up``: endpoints and the Ray address for
    ``mailray status``."""


class TrainingConfig(_Section):
    """Ray Train fine-tuning."""

    num_workers: int = Field(default=1, ge=1)
    use_gpu: bool = False
    cpus_per_worker: float = Field(default=1.0, gt=0)
    torch_threads: int = Field(default=0, ge=0)
    """0 means one per CPU core; Ray Train would otherwise start with one."""
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=5e-4, gt=0)
    max_tokens: int = Field(default=256, ge=16, le=512)
    seed: int = 0
    lora_first_layer: int = Field(default=2, ge=0, le=5)
    """LoRA on encoder layers from this one up (MiniLM has 6). The frozen
    layers below run once per run, not once per epoch: training gets cheaper."""
    max_validation_fpr: float = Field(default=0.002, ge=0, lt=1)
    """The operating threshold is the lowest whose validation FPR is this or less."""


class LearningConfig(_Section):
    """Continuous fine-tuning from Junk moves, gated, rolled out as a canary."""

    enabled: bool = True
    """Run the training controller inside ``mailray up``."""
    poll_interval_s: float = Field(default=30.0, gt=0)
    """How often the controller reads new feedback and canary evidence."""
    min_new_labels: int = Field(default=20, ge=1)
    """Train once this many new (deduplicated) labels have arrived."""
    min_per_class: int = Field(default=2, ge=1)
    """Both classes need at least this many new labels."""
    max_class_ratio: float = Field(default=20.0, ge=1)
    schedule_s: float | None = Field(default=None, gt=0)
    """Also train on this period when any balanced labels are waiting."""
    min_interval_s: float = Field(default=60.0, ge=0)
    """Never start two runs closer together than this."""
    epochs: int = Field(default=3, ge=1)
    learning_rate: float = Field(default=5e-4, gt=0)
    feedback_weight: int = Field(default=4, ge=1)
    """Each feedback label is repeated this often in the training set."""
    replay_size: int = Field(default=200, ge=0)
    """Base-corpus (or earlier feedback) examples mixed in against forgetting."""
    distill_replay: bool = True
    """Replayed corpus examples train towards the serving model's scores, not
    their labels, so a candidate keeps its parent's calibration there."""
    cpus_per_worker: float = Field(default=0.5, gt=0)
    torch_threads: int = Field(default=1, ge=1)
    """Few threads, so ingest and serving keep running during a fit."""
    holdout_fraction: float = Field(default=0.25, ge=0, lt=1)
    """Share of new feedback kept out of training to gate the candidate."""
    gate_max_fpr_increase: float = Field(default=0.01, ge=0, le=1)
    """Candidate FPR on the fixed eval set may exceed stable's by this much."""
    gate_max_recall_drop: float = Field(default=0.02, ge=0, le=1)
    """Candidate recall on the fixed eval set may trail stable's by this much."""
    gate_max_feedback_accuracy_drop: float = Field(default=0.0, ge=0, le=1)
    """Accuracy on held-out feedback may trail stable's by this much."""
    gate_max_feedback_log_loss_increase: float = Field(default=0.05, ge=0)
    """Log loss (nats) on held-out feedback may exceed stable's by this much;
    catches a candidate drifting the wrong way before its labels flip."""
    gate_min_feedback: int = Field(default=10, ge=1)
    """Held-out feedback required when there is no fixed eval set."""
    canary_steps: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0)
    canary_min_feedback: int = Field(default=10, ge=1)
    """Labels on shadow-scored mail needed before a canary step advances."""
    canary_tolerance: float = Field(default=0.0, ge=0, le=1)
    canary_max_step_s: float = Field(default=24 * 3600.0, gt=0)
    """A step with too little evidence by then is abandoned."""
    shadow_flush_interval_s: float = Field(default=2.0, gt=0)
    """Longest time a replica keeps shadow verdicts before writing them."""
    rollout_poll_s: float = Field(default=1.0, gt=0)
    """How often each classifier replica re-reads ``models/rollout.json``."""

    @model_validator(mode="after")
    def _steps_rise_to_one(self) -> LearningConfig:
        steps = self.canary_steps
        if not steps or any(not 0 < s <= 1 for s in steps):
            raise ValueError(f"learning.canary_steps must be in (0, 1]: {steps}")
        if list(steps) != sorted(steps) or steps[-1] != 1.0:
            raise ValueError(f"learning.canary_steps must rise to 1.0: {steps}")
        return self


class SearchConfig(_Section):
    """The vector table ``lance/messages`` and its indexing (see storage.vectors)."""

    enabled: bool = True
    """The store stage embeds and indexes each stored batch in the background."""
    embedding_max_tokens: int = Field(default=128, ge=8, le=512)
    """Tokens of subject + body the base encoder sees; bounds the cost."""
    embedding_torch_threads: int = Field(default=1, ge=1)
    """Threads of the store stage's encoder: few, so that indexing in the
    background leaves the cores to the classifier in the mail path."""
    ann_min_rows: int = Field(default=50_000, ge=1)
    """Build the IVF_PQ vector index once the table has this many rows."""
    fts_refresh_rows: int = Field(default=1_000, ge=1)
    """Fold unindexed rows into the full-text index past this many."""
    max_backlog_batches: int = Field(default=20, ge=1)
    """Stored batches waiting for embedding; past it, catch-up indexes them."""
    catch_up_interval_s: float = Field(default=30.0, gt=0)
    indexer_idle: bool = True
    """Run the indexer's thread under Linux's SCHED_IDLE: it gets a core
    only when nothing else wants one. Ray already starts workers at nice
    15, so a nice increment alone (capped at 19) still left the indexer
    about a third of a core that a model thread wanted."""
    indexer_yield_backlog: int = Field(default=32, ge=0)
    """The indexer embeds nothing while this many messages or more wait in
    the stage queues (0: it never waits). Under a burst search trails the
    mail and catches up after it; in steady traffic it keeps pace."""
    indexer_nice: int = Field(default=10, ge=0, le=19)
    """Where SCHED_IDLE is off or missing: how much lower than the mail
    path the indexer's thread runs (nice)."""


class UserConfig(_Section):
    """A mailbox owner."""

    name: str
    """The IMAP login."""
    password: str = Field(repr=False)
    """Plain text in the file is hashed at first start; or a scrypt hash."""
    addresses: tuple[str, ...]
    spam_threshold: float | None = Field(default=None, ge=0, le=1)


class Config(BaseSettings):
    """Everything `mailray up` needs, validated as a whole."""

    model_config = SettingsConfigDict(
        env_prefix="MAILRAY_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
    )

    storage: StorageConfig = StorageConfig()
    smtp: SmtpConfig = SmtpConfig()
    imap: ImapConfig = ImapConfig()
    http: HttpConfig = HttpConfig()
    classifier: ClassifierConfig = ClassifierConfig()
    pipeline: PipelineConfig = PipelineConfig()
    training: TrainingConfig = TrainingConfig()
    search: SearchConfig = SearchConfig()
    learning: LearningConfig = LearningConfig()
    users: tuple[UserConfig, ...] = (
        UserConfig(
            name="test@example.com",
            password="test",
            addresses=("test@example.com",),
        ),
    )
    ray_address: str | None = None
    """An existing cluster (``ray://`` or ``auto``); a local one by default."""

    @model_validator(mode="after")
    def _check_whole(self) -> Config:
        ports = {
            "smtp.port": self.smtp.port,
            "imap.port": self.imap.port,
            "http.port": self.http.port,
        }
        used = [p for p in ports.values() if p != 0]
        if len(used) != len(set(used)):
            raise ValueError(f"ports must differ: {ports}")
        domains = {d.lower() for d in self.smtp.domains}
        for user in self.users:
            for address in user.addresses:
                domain = address.rpartition("@")[2].lower()
                if domain not in domains:
                    raise ValueError(
                        f"user {user.name!r}: address {address!r} is outside "
                        f"smtp.domains {sorted(domains)}"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


class ConfigError(ValueError):
    """The configuration file or environment is invalid."""


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Config:
    """Build the configuration from a TOML file, the environment and overrides.

    Environment variables win over the file; ``overrides`` win over both.
    Raises :class:`ConfigError` with every problem listed.
    """
    from pydantic import ValidationError

    path = path or os.environ.get("MAILRAY_CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as f:
                file_values = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc

    try:
        from_env = Config(**overrides)
        env_set = from_env.model_dump(exclude_unset=True)
        merged = _deep_merge(file_values, env_set)
        return Config(**_deep_merge(merged, overrides))
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration:\n{exc}") from exc


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
