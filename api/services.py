"""What the api process holds for its lifetime: stores, the publisher, readers, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.metrics import PUBLISH_FAILED
from api.ratelimit import RateLimiter
from configs import Settings
from connectors import processor_for
from connectors.webhooks import Policy
from core.notifications import EventReader
from core.payments import ProcessorFactory
from core.runtime import Runtime
from core.submit import Submission
from producers import GroupCommit, Publisher, PublishFailed


def webhook_policy(settings: Settings) -> Policy:
    return Policy(production=settings.is_production, own_url=settings.public_url)


@dataclass
class Services:
    settings: Settings
    rt: Runtime
    publisher: Publisher
    events: EventReader
    limiter: RateLimiter
    # Builds the connector for a site's processor settings (core.payments is handed it).
    payment_processor: ProcessorFactory = field(default=processor_for)
    # Where webhooks may point (checked again by the worker at every delivery).
    webhook_policy: Policy = field(init=False)
    # Submits publish through it: those that arrive during a publish go out together.
    group_commit: GroupCommit = field(init=False)

    def __post_init__(self) -> None:
        self.webhook_policy = webhook_policy(self.settings)
        self.group_commit = GroupCommit(self.publisher, self.settings.submit_group_max)

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        rt = Runtime.from_settings(settings)
        return cls(
            settings=settings,
            rt=rt,
            publisher=Publisher(settings, rt.keyring),
            events=EventReader(settings.redis_url),
            limiter=RateLimiter(settings),
        )

    def publish(self, submission: Submission) -> bool:
        """core.submit's `Publish`, over the producer: True once the broker has it."""
        try:
            self.group_commit.publish_submission(submission)
        except PublishFailed:
            PUBLISH_FAILED.inc()
            return False
        return True

    async def aclose(self) -> None:
        await self.events.close()
        await self.limiter.close()
        self.publisher.close()
        self.rt.close()
