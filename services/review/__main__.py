"""``python -m services.review`` serves the review API, its Kafka consumer and the escalation job."""

from services.review.settings import ReviewSettings
from shared.service import run

if __name__ == "__main__":
    run("services.review.app:create", ReviewSettings())
