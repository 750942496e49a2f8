from producers.sdk import RegencyProducer
from schemas.examples import example
from schemas.exceptions import EventValidationError, FieldProblem
from schemas.models import model_for

with RegencyProducer.connect("{{regency_code}}", bootstrap="{{bootstrap}}",
                             registry_url="{{registry_url}}") as producer:
    delivery = producer.publish(example("{{event_type}}")).result()   # raises if not acknowledged
    print(delivery)
