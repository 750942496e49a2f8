"""The SDK refuses a NIK field that is not a raw NIK before sending, and its error (and anything chained to it,
which a logged traceback prints) never repeats the value."""

from __future__ import annotations

import traceback

import pytest
from memory_registry import MemoryRegistry

from producers.exceptions import InvalidEvent
from producers.sdk import RegencyProducer
from schemas.codec import AvroCodec
from schemas.examples import example
from topics.connection import KafkaConnection

NIK = "3374015502900017"


class NoClient:
    """Stands in for the Kafka client: nothing may be sent."""

    def send(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("an invalid event reached the Kafka client")


@pytest.mark.parametrize("sent", [f"nik:{NIK}", f"{NIK}0", f" {NIK}"])
def test_sdk_refuses_a_nik_field_that_is_not_a_raw_nik_without_repeating_it(sent: str) -> None:
    producer = RegencyProducer("3374", KafkaConnection(bootstrap="127.0.0.1:1"), AvroCodec(MemoryRegistry()),  # type: ignore[arg-type]
                               client=NoClient())  # type: ignore[arg-type]
    data = {**example("ServiceRequestSubmitted").model_dump(), "applicant_nik": sent}
    with pytest.raises(InvalidEvent) as info:
        producer.publish_dict("ServiceRequestSubmitted", data)
    assert [p.path for p in info.value.problems] == ["applicant_nik"]
    assert NIK not in "".join(traceback.format_exception(info.value))
