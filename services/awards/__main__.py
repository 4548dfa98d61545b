"""``python -m services.awards`` serves the awards API and its Kafka consumer."""

from services.awards.settings import AwardsSettings
from shared.service import run

if __name__ == "__main__":
    run("services.awards.app:create", AwardsSettings())
