"""The one configuration model every role reads.

A YAML file is validated by pydantic; every field can be overridden by an
environment variable ``CPQSYNC_<SECTION>__<FIELD>`` (pydantic-settings), which
is how containers inject secrets without writing them to disk. Unknown keys are
rejected so a typo never silently falls back to a default.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from cpqsync.mapping.config import MappingConfig
from cpqsync.mapping.reverse_mappings import ReverseMappings

STRIPE_API_VERSION = "2026-10-28.endive"
SALESFORCE_API_VERSION = "62.0"

# Default account budgets (requests/s): Stripe's limits, 100 live and 25 in test mode, less a
# margin. A key that is not recognisably live (test, restricted test, or unknown) gets the
# smaller one: under-using a live account costs throughput, overrunning one costs 429s.
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
LIVE_ACCOUNT_BUDGET = 90.0
TEST_ACCOUNT_BUDGET = 22.0

CDC_CHANNELS = (
    "/data/AccountChangeEvent",
    "/data/OrderChangeEvent",
    "/data/OrderItemChangeEvent",
    "/data/Product2ChangeEvent",
    "/data/PricebookEntryChangeEvent",
)

_yaml_path: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "cpqsync_yaml_path", default=None
)


class Section(BaseModel):
    """Base for every settings section: unknown keys are errors, not ignored."""

    model_config = ConfigDict(extra="forbid")


class KafkaSettings(Section):
    # None means "start the embedded broker" (demo, laptop); production sets it.
    bootstrap_servers: str | None = None
    topic_prefix: str = "cpqsync"
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    schema_registry_url: str | None = None
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    # The sync's repartition topic (work keyed by billing root); None: <topic_prefix>.sync.roots.
    sync_roots_topic: str | None = None
    # Extra librdkafka properties merged into every client (security, timeouts).
    client_config: dict[str, str | int | float | bool] = Field(default_factory=dict)


class SalesforceSettings(Section):
    login_url: str = "https://login.salesforce.com"
    auth_flow: Literal["jwt_bearer", "client_credentials", "password"] = "jwt_bearer"
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    private_key_file: Path | None = None
    api_version: str = SALESFORCE_API_VERSION
    # A private CA (the org simulator's, or a corporate proxy's) for REST and gRPC.
    ca_bundle: Path | None = None
    pubsub_target: str = "api.pubsub.salesforce.com:7443"
    pubsub_plaintext: bool = False
    # HTTP/2 keepalive ping interval: half-open connections otherwise hang a stream silently.
    pubsub_keepalive_s: float = Field(default=30.0, gt=0)
    # Sandbox orgs prefix Stripe metadata keys so sandbox and production never collide.
    is_sandbox: bool = False
    request_timeout_s: float = Field(default=30.0, gt=0)


class StripeSettings(Section):
    api_key: SecretStr | None = None
    # None means Stripe itself; the demo and tests point this at the emulator.
    api_base: str | None = None
    api_version: str = STRIPE_API_VERSION
    max_network_retries: int = Field(default=2, ge=0)
    timeout_s: float = Field(default=30.0, gt=0)
    # The Stripe account's request budget, set once for the whole group: each sync member
    # paces at budget x (its partitions of the Stripe-calling input / all of them), resized
    # on every rebalance, and counting only partitions with work while the members report
    # theirs (<prefix>.sync.demand). Unset: 90 for a live key (sk_live_, rk_live_), else 22
    # (Stripe allows 100/s live and 25/s in test mode; the margin absorbs requests bunching
    # in transit).
    account_requests_per_second: float | None = Field(default=None, gt=0)
    # Deprecated: a fixed rate for this process alone, not its share of the account's request
    # budget (N processes must then be divided by hand). Overrides the shared budget if set.
    requests_per_second: float | None = Field(default=None, gt=0)
    dashboard_base: str = "https://dashboard.stripe.com"

    @property
    def live_mode(self) -> bool:
        """Whether the key talks to live data (``sk_live_``/``rk_live_``); else test mode."""
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        return key.startswith(LIVE_KEY_PREFIXES)

    @property
    def account_budget(self) -> float:
        """Requests per second the whole group may send to the account."""
        if self.account_requests_per_second is not None:
            return self.account_requests_per_second
        return LIVE_ACCOUNT_BUDGET if self.live_mode else TEST_ACCOUNT_BUDGET


class SyncPreferences(Section):
    live: bool = True
    start_date: dt.date | None = None
    # SOQL WHERE fragments per object; the Order default applies when none is set (rule S3).
    filters: dict[Literal["Order", "Account", "Product2", "PricebookEntry"], str] = Field(
        default_factory=dict
    )
    record_retention: int = Field(default=10_000, ge=1)
    default_currency: str = "USD"
    multi_currency: bool = False
    # Send a custom-priced order line's price inline (price_data) on its schedule item instead of
    # creating and archiving a price of its own (P6): fewer Stripe requests, no line metadata.
    inline_line_prices: bool = False

    @field_validator("filters")
    @classmethod
    def _filters_parse(cls, filters: dict[str, str]) -> dict[str, str]:
        # A filter that cannot parse would fail every sync at run time; fail at load instead.
        from cpqsync.soql import SoqlSyntaxError, parse_where

        for sobject, condition in filters.items():
            try:
                parse_where(condition)
            except SoqlSyntaxError as exc:
                raise ValueError(f"{sobject} filter is not a valid SOQL condition: {exc}") from exc
        return filters

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"not a three-letter ISO currency code: {value!r}")
        return value.upper()


class ConsumerSettings(Section):
    workers: int = Field(default=32, ge=1)
    max_in_flight: int = Field(default=1_000, ge=1)
    commit_interval_ms: int = Field(default=1_000, ge=1)
    commit_every_messages: int = Field(default=500, ge=1)
    max_attempts: int = Field(default=6, ge=1)
    retry_initial_backoff_ms: int = Field(default=200, ge=1)
    retry_max_backoff_ms: int = Field(default=30_000, ge=1)
    dlq_max_consecutive: int = Field(default=50, ge=1)
    # Backpressure: a partition is paused once this many of its messages are
    # fetched but not yet committable (max_in_flight bounds the total).
    max_buffered_per_partition: int = Field(default=500, ge=1)
    # How long a revoked partition's running work may take before it is abandoned
    # (capped at half of max_poll_interval_ms, the broker's rebalance timeout).
    revoke_deadline_s: float = Field(default=10.0, gt=0)
    shutdown_deadline_s: float = Field(default=30.0, gt=0)
    session_timeout_ms: int = Field(default=45_000, ge=1)
    max_poll_interval_ms: int = Field(default=300_000, ge=1)
    # While the engine runs, keep what the process built before it (imported
    # libraries, configuration) out of the garbage collector's full passes (gc.freeze).
    freeze_startup_heap: bool = True


class BridgeSettings(Section):
    channels: list[str] = Field(default_factory=lambda: list(CDC_CHANNELS))
    initial_position: Literal["LATEST", "EARLIEST"] = "LATEST"
    on_invalid_replay_id: Literal["fail", "earliest", "latest"] = "fail"
    batch_size: int = Field(default=100, ge=1, le=100)
    reconnect_initial_backoff_s: float = Field(default=0.5, gt=0)
    reconnect_max_backoff_s: float = Field(default=60.0, gt=0)
    limit_exceeded_backoff_s: float = Field(default=600.0, gt=0)
    # How often the acknowledged replay position is written to the checkpoint topic.
    checkpoint_interval_s: float = Field(default=1.0, gt=0)
    # Backfill reads an object with a Bulk API 2.0 query job from this many records, below it
    # with SOQL pages.
    bulk_threshold: int = Field(default=10_000, ge=1)
    # Records per backfill page; progress is stored after each published page.
    backfill_page_size: int = Field(default=2_000, ge=1, le=2_000)
    # Records per Bulk API 2.0 result set (maxRecords); progress is stored after each set.
    backfill_bulk_set_size: int = Field(default=10_000, ge=1)
    # Several replicas, one streaming: the holder of a lease in a Kafka consumer group on the
    # one-partition topic `<prefix>.bridge.lease`; the others wait and take over when it dies.
    leader_election: bool = False
    # A dead leader is replaced after this long without heartbeats.
    lease_session_timeout_ms: int = Field(default=10_000, ge=1_000, le=300_000)
    # Consumer group of the lease; default `<prefix>-bridge-lease-<hash of the channels>`.
    lease_group: str | None = None


class WritebackSettings(Section):
    batch_size: int = Field(default=200, ge=1, le=200)
    retention_interval_s: float = Field(default=300.0, gt=0)
    # A retention pass also runs once this many Sync Records were created since the last one.
    retention_after_created: int = Field(default=1_000, ge=1)
    # Few workers, so ready results fill 200-record collection calls instead of being split.
    workers: int = Field(default=2, ge=1)


class StripeEventsSettings(Section):
    """The Stripe event source (`cpqsync stripe-events`) and the billing writeback (rule B1)."""

    # Off by default; when on, `cpqsync run` starts the stripe-events role and the writeback
    # writes billing state back (it then needs stripe.api_key to re-read objects).
    enabled: bool = False
    # The webhook endpoint's signing secret (whsec_...), from Stripe when the endpoint was made.
    endpoint_secret: SecretStr | None = None
    # Loopback unless an operator opens it up (Stripe must reach it: a proxy or 0.0.0.0).
    host: str = "127.0.0.1"
    port: int = Field(default=8088, ge=0, le=65535)
    path: str = "/stripe/webhooks"
    # Serve HTTPS with this certificate chain and key; both or neither.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # A signature older than this is refused (stripe.Webhook's tolerance; replays).
    tolerance_s: int = Field(default=300, ge=1)
    # How often GET /v1/events is walked from the checkpoint to fill any gap in deliveries.
    catch_up_interval_s: float = Field(default=60.0, gt=0)
    # With no checkpoint yet, catch-up starts this far back (Stripe keeps events 30 days).
    initial_lookback_s: float = Field(default=3600.0, ge=0, le=30 * 86400)

    @field_validator("tls_key_file")
    @classmethod
    def _tls_pair(cls, key: Path | None, info: Any) -> Path | None:
        if (key is None) != (info.data.get("tls_cert_file") is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        return key

    @model_validator(mode="after")
    def _secret_when_enabled(self) -> StripeEventsSettings:
        secret = self.endpoint_secret.get_secret_value() if self.endpoint_secret else ""
        if self.enabled and not secret:
            raise ValueError(
                "stripe_events.enabled needs stripe_events.endpoint_secret "
                "(CPQSYNC_STRIPE_EVENTS__ENDPOINT_SECRET, the endpoint's whsec_... secret)"
            )
        return self


class MetricsSettings(Section):
    enabled: bool = True
    # Loopback unless an operator opens it up deliberately.
    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CPQSYNC_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)
    sync: SyncPreferences = Field(default_factory=SyncPreferences)
    # Validated against stripe.params when loaded, so a bad path fails `config check` (M5).
    mappings: MappingConfig = Field(default_factory=MappingConfig)
    consumer: ConsumerSettings = Field(default_factory=ConsumerSettings)
    bridge: BridgeSettings = Field(default_factory=BridgeSettings)
    writeback: WritebackSettings = Field(default_factory=WritebackSettings)
    stripe_events: StripeEventsSettings = Field(default_factory=StripeEventsSettings)
    # Salesforce field <- Stripe path, per object; validated when loaded (rule B1).
    reverse_mappings: ReverseMappings = Field(default_factory=ReverseMappings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence, highest first: explicit kwargs, environment, the YAML file.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_path.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (optional) with environment overrides applied."""
    token = _yaml_path.set(path)
    try:
        return Settings(**overrides)
    finally:
        _yaml_path.reset(token)
